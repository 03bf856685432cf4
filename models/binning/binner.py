"""Unsupervised binning of one party's features on its training rows.

``quantile``: cut points at the ``k/n_bins`` quantiles of the non-missing training values
(duplicates removed, so a feature may get fewer bins); ``equal_width``: ``n_bins`` equal
intervals between the training minimum and maximum. A value ``x`` falls in bin
``searchsorted(edges, x, side="right")``, i.e. bin ``k`` is ``edges[k-1] <= x < edges[k]``.
Missing values (NaN) get their own bin, the last one (index ``n_value_bins[f]``).

Categorical columns (codes of ``PartyTable.categories``, passed to :meth:`FeatureBinner.fit`
by column index) are binned by category instead: one bin per category with at least
``min_count`` training rows (in category order), one ``other`` bin (rare categories, and at
scoring a category unseen in training), then the missing bin. A row's code is read under the
scoring table's own categories (``transform(X, categories)``), so categories map by their text.

Cut points and categories stay with the party that owns the feature: the platform's are never
sent (the bank learns each platform feature's number of bins, as for numeric features, and
which features are categorical).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        self.kept_: dict[int, tuple[str, ...]] = {}  # categorical columns: kept categories
        self.trained_: dict[int, tuple[str, ...]] = {}  # ... and the training table's ones

    def fit(
        self,
        X: np.ndarray,
        categories: Mapping[int, Sequence[str]] | None = None,
        min_count: int = 1,
    ) -> FeatureBinner:
        """Cut points of numeric columns; kept categories of the ``categories`` columns
        (column index -> the table's categories; at least ``min_count`` training rows)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidArgument("features must be two-dimensional")
        edges: list[np.ndarray] = []
        self.kept_, self.trained_ = {}, {}
        for j in range(X.shape[1]):
            col = X[:, j]
            if categories is not None and j in categories:
                cats = tuple(str(c) for c in categories[j])
                valid = col[~np.isnan(col)].astype(np.int64)
                counts = np.bincount(valid, minlength=len(cats))
                self.kept_[j] = tuple(c for k, c in enumerate(cats) if counts[k] >= min_count)
                self.trained_[j] = cats
                edges.append(np.zeros(len(self.kept_[j]), dtype=np.float64))
                continue
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

    def transform(
        self, X: np.ndarray, categories: Mapping[int, Sequence[str]] | None = None
    ) -> np.ndarray:
        """Bin codes (int64, same shape as ``X``).

        ``categories``: the categories of ``X``'s table by column index (default: the training
        table's); a categorical column's codes are read under them.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.edges_):
            raise InvalidArgument("features do not match the fitted binning")
        codes = np.empty(X.shape, dtype=np.int64)
        for j, e in enumerate(self.edges_):
            col = X[:, j]
            if j in self.kept_:
                current = (categories or {}).get(j, self.trained_[j])
                codes[:, j] = category_positions(col, self.kept_[j], current)
                continue
            c = np.searchsorted(e, col, side="right")
            c[np.isnan(col)] = e.size + 1
            codes[:, j] = c
        return codes

    def bin_labels(self, j: int, fmt: str = "{:.6g}") -> list[str]:
        """Human-readable interval of each bin of feature ``j`` (missing last)."""
        e = self.edges_[j]
        if j in self.kept_:
            return [*self.kept_[j], "other", "missing"]
        out = []
        for k in range(e.size + 1):
            lo = "-inf" if k == 0 else fmt.format(e[k - 1])
            hi = "+inf" if k == e.size else fmt.format(e[k])
            out.append(f"[{lo}, {hi})")
        out.append("missing")
        return out

    def is_categorical(self, j: int) -> bool:
        return j in self.kept_

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "n_bins": self.n_bins,
            "edges": [e.tolist() for e in self.edges_],
        }
        if self.kept_:
            out["categorical"] = {
                str(j): {"kept": list(self.kept_[j]), "trained": list(self.trained_[j])}
                for j in sorted(self.kept_)
            }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureBinner:
        out = cls(data["method"], int(data["n_bins"]))
        out.edges_ = [np.asarray(e, dtype=np.float64) for e in data["edges"]]
        for key, cat in data.get("categorical", {}).items():
            j = int(key)
            out.kept_[j] = tuple(str(c) for c in cat["kept"])
            out.trained_[j] = tuple(str(c) for c in cat["trained"])
            if not 0 <= j < len(out.edges_) or out.edges_[j].size != len(out.kept_[j]):
                raise InvalidArgument("a categorical binning is malformed")
            out.edges_[j] = np.zeros(len(out.kept_[j]), dtype=np.float64)
        for j, e in enumerate(out.edges_):
            if j in out.kept_:
                continue
            if e.ndim != 1 or np.any(np.diff(e) <= 0):
                raise InvalidArgument("bin edges must increase")
        return out


def category_positions(
    codes: np.ndarray, kept: Sequence[str], current: Sequence[str]
) -> np.ndarray:
    """Per row: index into ``kept``, ``len(kept)`` (other) or ``len(kept) + 1`` (missing)."""
    index = {c: k for k, c in enumerate(kept)}
    other, missing = len(kept), len(kept) + 1
    lookup = np.asarray([index.get(str(c), other) for c in current] + [missing], dtype=np.int64)
    x = np.asarray(codes, dtype=np.float64)
    ok = ~np.isnan(x) & (x >= 0) & (x < len(current))
    pos = np.where(ok, np.nan_to_num(x), len(current)).astype(np.int64)
    out: np.ndarray = lookup[pos]
    return out


def bin_counts(codes: np.ndarray, n_bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or weighted sums) per bin of one code column."""
    return np.bincount(np.asarray(codes, dtype=np.int64), weights=weights, minlength=n_bins)
