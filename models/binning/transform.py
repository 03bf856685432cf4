"""The WOE transform of selected features: fine bins, merge mapping, WOE per coarse bin.

Each party applies it to ITS OWN selected features: value -> fine bin (the party's private cut
points) -> coarse bin (identity unless supervised merging) -> WOE. The missing bin is last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.binning.binner import FeatureBinner
from models.errors import InvalidArgument


@dataclass
class WoeTransform:
    """WOE transform of ``features`` (column indices of the party's table)."""

    binner: FeatureBinner
    features: list[int]
    mappings: list[np.ndarray]
    woe: list[np.ndarray]

    def __post_init__(self) -> None:
        if not len(self.features) == len(self.mappings) == len(self.woe):
            raise InvalidArgument("one mapping and one WOE vector per feature are required")
        nvb = self.binner.n_value_bins
        for f, m, w in zip(self.features, self.mappings, self.woe, strict=True):
            if not 0 <= f < nvb.size:
                raise InvalidArgument("feature index is out of range")
            if m.shape != (int(nvb[f]),) or (m.size and (m.min() < 0 or np.any(np.diff(m) < 0))):
                raise InvalidArgument("a bin mapping must be non-decreasing, one entry per bin")
            n_coarse = int(m.max()) + 1 if m.size else 0
            if w.shape != (n_coarse + 1,) or not np.all(np.isfinite(w)):
                raise InvalidArgument("WOE must give one finite value per coarse bin and missing")

    def n_bins(self) -> list[int]:
        """Coarse bins per selected feature, the missing bin included."""
        return [int(w.size) for w in self.woe]

    def coarse_codes(
        self, X: np.ndarray, categories: Mapping[int, Sequence[str]] | None = None
    ) -> np.ndarray:
        """Coarse bin (missing last) of each row for each selected feature (``categories``:
        those of ``X``'s table by column index, see :meth:`FeatureBinner.transform`)."""
        fine = self.binner.transform(X, categories)
        out = np.empty((fine.shape[0], len(self.features)), dtype=np.int64)
        for k, (f, m) in enumerate(zip(self.features, self.mappings, strict=True)):
            col = fine[:, f]
            missing = col == m.size
            coarse = np.where(missing, 0, col)
            coarse = m[np.minimum(coarse, max(m.size - 1, 0))] if m.size else coarse
            out[:, k] = np.where(missing, self.woe[k].size - 1, coarse)
        return out

    def transform(
        self, X: np.ndarray, categories: Mapping[int, Sequence[str]] | None = None
    ) -> np.ndarray:
        """WOE values of the selected features for raw rows ``X`` (all of the party's columns)."""
        codes = self.coarse_codes(X, categories)
        out = np.empty(codes.shape, dtype=np.float64)
        for k, w in enumerate(self.woe):
            out[:, k] = w[codes[:, k]]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "binner": self.binner.to_dict(),
            "features": list(self.features),
            "mappings": [m.tolist() for m in self.mappings],
            "woe": [w.tolist() for w in self.woe],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WoeTransform:
        return cls(
            binner=FeatureBinner.from_dict(data["binner"]),
            features=[int(f) for f in data["features"]],
            mappings=[np.asarray(m, dtype=np.int64) for m in data["mappings"]],
            woe=[np.asarray(w, dtype=np.float64) for w in data["woe"]],
        )


def by_index(
    feature_names: Sequence[str], categories: Mapping[str, Sequence[str]] | None
) -> dict[int, Sequence[str]]:
    """A table's categories (by feature name) keyed by column index instead."""
    cats = categories or {}
    return {j: cats[n] for j, n in enumerate(feature_names) if n in cats}


def split_concatenated(values: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Cut a concatenation back into pieces of the given sizes."""
    arr = np.asarray(values)
    if arr.ndim != 1 or int(sum(sizes)) != arr.size or any(s < 0 for s in sizes):
        raise InvalidArgument("concatenated values do not match their sizes")
    return [a.copy() for a in np.split(arr, np.cumsum(sizes)[:-1])] if sizes else []
