"""Per-party feature transform for LR: standardisation with training-row statistics.

Each party standardises its own columns with its own training rows' mean and standard
deviation; since the transform is column-wise, this equals standardising the joined table.
Missing values (NaN) are replaced by the training mean (0 after standardisation). Constant
columns keep scale 1.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from models.errors import InvalidArgument


class Standardizer:
    """Column-wise ``(x - mean) / scale`` fitted on training rows (NaN-aware)."""

    def __init__(self, standardize: bool = True) -> None:
        self.standardize = standardize
        self.mean_ = np.zeros(0)
        self.scale_ = np.ones(0)

    def fit(self, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidArgument("features must be two-dimensional")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])
            std = np.nanstd(X, axis=0) if X.shape[0] else np.ones(X.shape[1])
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.mean_ = mean
        self.scale_ = std if self.standardize else np.ones_like(std)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.size:
            raise InvalidArgument("features do not match the fitted transform")
        filled = np.where(np.isnan(X), self.mean_[None, :], X)
        if self.standardize:
            return (filled - self.mean_[None, :]) / self.scale_[None, :]
        return filled

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "standardize" if self.standardize else "impute_mean",
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        kind = data.get("kind")
        if kind not in ("standardize", "impute_mean"):
            raise InvalidArgument("unknown feature transform")
        out = cls(standardize=kind == "standardize")
        out.mean_ = np.asarray(data["mean"], dtype=np.float64)
        out.scale_ = np.asarray(data["scale"], dtype=np.float64)
        if out.mean_.shape != out.scale_.shape:
            raise InvalidArgument("feature transform is malformed")
        return out
