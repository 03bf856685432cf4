"""Quantile binning with a dedicated missing bin.

Each feature gets up to ``n_bins`` value bins from quantiles of its non-missing training values,
and one extra bin for missing values. Bin codes use a padded layout shared by every party:
value bins ``0 .. K_f - 1`` (``K_f <= n_bins``) and the missing bin at code ``n_bins``.

Bin ``b`` holds the values ``edges[b-1] < x <= edges[b]``, so "bin <= b goes left" is the
threshold rule ``x <= edges[b]``; ``b = K_f - 1`` sends every non-missing value left.

A categorical feature (codes of :mod:`models.categorical`) gets one bin per category seen in
training (the ``n_bins`` most frequent if there are more); ``categories_[f]`` lists the codes
of its bins in order. A code without a bin (unseen in training, or rare beyond ``n_bins``) goes
to the missing bin. Its splits are sets of bins (:mod:`.splitter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidArgument

MAX_BINS = 255


def feature_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Upper bin edges (excluding the last bin) for one feature's training values.

    Parameters
    ----------
    values:
        The feature's values on the training rows (NaN = missing, ignored).
    n_bins:
        Maximum number of value bins.

    Returns
    -------
    numpy.ndarray
        Sorted, strictly increasing float64 edges, at most ``n_bins - 1`` of them, all below
        the largest training value (so the last bin is never empty).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.zeros(0, dtype=np.float64)
    uniq = np.unique(x)
    if uniq.size <= n_bins:
        return uniq[:-1].copy()
    qs = np.arange(1, n_bins, dtype=np.float64) / n_bins
    edges = np.unique(np.quantile(x, qs))
    return edges[edges < uniq[-1]]


def bin_column(values: np.ndarray, edges: np.ndarray, missing_code: int) -> np.ndarray:
    """Bin codes (uint8) of one feature column; NaN gets ``missing_code``."""
    x = np.asarray(values, dtype=np.float64)
    codes = np.searchsorted(edges, x, side="left").astype(np.uint8)
    codes[np.isnan(x)] = missing_code
    return codes


def category_bins(codes: np.ndarray, n_bins: int) -> np.ndarray:
    """Codes (sorted, float64) that get a bin: the ``n_bins`` most frequent training codes."""
    x = np.asarray(codes, dtype=np.float64)
    x = x[~np.isnan(x)]
    uniq, counts = np.unique(x, return_counts=True)
    if uniq.size > n_bins:
        keep = np.argsort(-counts, kind="stable")[:n_bins]
        uniq = np.sort(uniq[keep])
    return uniq.astype(np.float64)


def category_column(values: np.ndarray, cats: np.ndarray, missing_code: int) -> np.ndarray:
    """Bin codes of a categorical column: the position of its code in ``cats``, else missing."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, missing_code, dtype=np.uint8)
    if cats.size == 0:
        return out
    pos = np.clip(np.searchsorted(cats, x), 0, cats.size - 1)
    hit = ~np.isnan(x) & (cats[pos] == x)
    out[hit] = pos[hit].astype(np.uint8)
    return out


@dataclass
class QuantileBinner:
    """Per-feature quantile edges; ``n_bins`` value bins at most, plus the missing bin."""

    n_bins: int = 32

    def __post_init__(self) -> None:
        if not 2 <= int(self.n_bins) < MAX_BINS:
            raise InvalidArgument("n_bins must be between 2 and 254")
        self.edges_: list[np.ndarray] = []
        self.categories_: dict[int, np.ndarray] = {}

    @property
    def missing_code(self) -> int:
        return int(self.n_bins)

    @property
    def n_slots(self) -> int:
        """Width of the padded histogram layout: ``n_bins`` value slots + the missing slot."""
        return int(self.n_bins) + 1

    def fit(self, X: np.ndarray, categorical: np.ndarray | None = None) -> QuantileBinner:
        """Compute edges from the training rows ``X`` (n_rows, n_features).

        ``categorical`` (bool per feature) marks category-code columns: one bin per category.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidArgument("feature matrix must be two-dimensional")
        cat = np.zeros(X.shape[1], dtype=bool) if categorical is None else np.asarray(categorical)
        if cat.shape != (X.shape[1],):
            raise InvalidArgument("categorical mask does not match the features")
        self.edges_ = []
        self.categories_ = {}
        for j in range(X.shape[1]):
            if cat[j]:
                self.categories_[j] = category_bins(X[:, j], self.n_bins)
                self.edges_.append(np.zeros(0, dtype=np.float64))
            else:
                self.edges_.append(feature_edges(X[:, j], self.n_bins))
        return self

    @property
    def categorical(self) -> np.ndarray:
        """Bool per feature: categorical (one bin per category)."""
        return np.asarray([j in self.categories_ for j in range(len(self.edges_))], dtype=bool)

    @property
    def n_value_bins(self) -> np.ndarray:
        """``K_f`` per feature: number of value bins (edges + 1, or categories with a bin)."""
        return np.asarray(
            [
                max(1, self.categories_[j].size) if j in self.categories_ else e.size + 1
                for j, e in enumerate(self.edges_)
            ],
            dtype=np.int64,
        )

    def bin_codes(self, feature: int, bins: Sequence[int]) -> list[float]:
        """The category codes of a categorical feature's ``bins``."""
        cats = self.categories_[feature]
        return [float(cats[b]) for b in bins if 0 <= b < cats.size]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Bin codes (n_rows, n_features) uint8 in the padded layout."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.edges_):
            raise InvalidArgument("feature matrix does not match the fitted binner")
        out = np.empty(X.shape, dtype=np.uint8)
        for j, e in enumerate(self.edges_):
            if j in self.categories_:
                out[:, j] = category_column(X[:, j], self.categories_[j], self.missing_code)
            else:
                out[:, j] = bin_column(X[:, j], e, self.missing_code)
        return out

    def digest_bytes(self) -> bytes:
        """The fitted bins as bytes (edges, and each categorical feature's codes)."""
        parts = [np.ascontiguousarray(e).tobytes() + b"|" for e in self.edges_]
        for j in sorted(self.categories_):
            parts.append(f"c{j}:".encode() + self.categories_[j].tobytes() + b"|")
        return b"".join(parts)

    def threshold(self, feature: int, bin_index: int) -> float | None:
        """The value threshold of "bin <= bin_index goes left" (None: every value goes left)."""
        e = self.edges_[feature]
        if bin_index >= e.size:
            return None
        return float(e[bin_index])
