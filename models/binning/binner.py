"""Unsupervised binning of one party's features on its training rows.

``quantile``: cut points at the ``k/n_bins`` quantiles of the non-missing training values
(duplicates removed, so a feature may get fewer bins); ``equal_width``: ``n_bins`` equal
intervals between the training minimum and maximum. A value ``x`` falls in bin
``searchsorted(edges, x, side="right")``, i.e. bin ``k`` is ``edges[k-1] <= x < edges[k]``.
Missing values (NaN) get their own bin, the last one (index ``n_value_bins[f]``).

Cut points stay with the party that owns the feature: the platform's are never sent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.errors import InvalidArgument

METHODS = ("quantile", "equal_width")


class FeatureBinner:
    """Per-feature cut points; ``codes`` in ``[0, n_value_bins[f]]`` (the last is missing)."""

    def __init__(self, method: str = "quantile", n_bins: int = 10) -> None:
        if method not in METHODS:
            raise InvalidArgument("binning method must be 'quantile' or 'equal_width'")
        if not 2 <= n_bins <= 256:
            raise InvalidArgument("number of bins must be between 2 and 256")
        self.method = method
        self.n_bins = n_bins
        self.edges_: list[np.ndarray] = []

    def fit(self, X: np.ndarray) -> FeatureBinner:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidArgument("features must be two-dimensional")
        edges: list[np.ndarray] = []
        for j in range(X.shape[1]):
            col = X[:, j]
            col = col[~np.isnan(col)]
            if col.size == 0:
                edges.append(np.zeros(0))
                continue
            if self.method == "quantile":
                qs = np.quantile(col, np.arange(1, self.n_bins) / self.n_bins)
            else:
                lo, hi = float(col.min()), float(col.max())
                qs = np.linspace(lo, hi, self.n_bins + 1)[1:-1] if hi > lo else np.zeros(0)
            cuts = np.unique(qs)
            # a cut at the minimum would leave bin 0 empty
            cuts = cuts[cuts > col.min()]
            edges.append(cuts.astype(np.float64))
        self.edges_ = edges
        return self

    @property
    def n_value_bins(self) -> np.ndarray:
        """Bins for non-missing values per feature (the missing bin comes on top)."""
        return np.asarray([e.size + 1 for e in self.edges_], dtype=np.int64)

    @property
    def n_total_bins(self) -> np.ndarray:
        """All bins per feature, the missing bin included."""
        return self.n_value_bins + 1

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Bin codes (int64, same shape as ``X``)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.edges_):
            raise InvalidArgument("features do not match the fitted binning")
        codes = np.empty(X.shape, dtype=np.int64)
        for j, e in enumerate(self.edges_):
            col = X[:, j]
            c = np.searchsorted(e, col, side="right")
            c[np.isnan(col)] = e.size + 1
            codes[:, j] = c
        return codes

    def bin_labels(self, j: int, fmt: str = "{:.6g}") -> list[str]:
        """Human-readable interval of each bin of feature ``j`` (missing last)."""
        e = self.edges_[j]
        out = []
        for k in range(e.size + 1):
            lo = "-inf" if k == 0 else fmt.format(e[k - 1])
            hi = "+inf" if k == e.size else fmt.format(e[k])
            out.append(f"[{lo}, {hi})")
        out.append("missing")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_bins": self.n_bins,
            "edges": [e.tolist() for e in self.edges_],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureBinner:
        out = cls(data["method"], int(data["n_bins"]))
        out.edges_ = [np.asarray(e, dtype=np.float64) for e in data["edges"]]
        for e in out.edges_:
            if e.ndim != 1 or np.any(np.diff(e) <= 0):
                raise InvalidArgument("bin edges must increase")
        return out


def bin_counts(codes: np.ndarray, n_bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or weighted sums) per bin of one code column."""
    return np.bincount(np.asarray(codes, dtype=np.int64), weights=weights, minlength=n_bins)
