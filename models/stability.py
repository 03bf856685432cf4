"""Population stability index (PSI) and characteristic stability index (CSI), vectorised.

Both compare a **reference** distribution (e.g. the scores or a feature at training time, or a
reference week) with a **current** one over the same bins::

    index = sum_b (q_b - p_b) * ln(q_b / p_b)

where ``p_b`` and ``q_b`` are the reference and current shares of bin ``b``. The bins are the
reference's deciles (``n_bins`` quantile bins; repeated edges merged, so a feature with few
distinct values gets fewer bins) plus one bin for missing values (NaN). A share of zero is
replaced by :data:`EPSILON` before the logarithm (a bin empty on one side would otherwise give
an infinite index). PSI is this index of a model's score; CSI is the same index of one input
characteristic (feature). Common reading (:func:`alert_level`): below 0.1 stable, 0.1 to 0.25
a warning (some shift), 0.25 and above an action (a significant shift: review the model).

Pure numpy; shared by the platform (per-feature indices over a bank's monitored population)
and the bank (its score distribution).
"""

from __future__ import annotations

import numpy as np

from models.errors import InvalidArgument

EPSILON = 1e-4
DEFAULT_BINS = 10
WARNING = 0.1
ACTION = 0.25
LEVELS = ("ok", "warning", "action")


def quantile_edges(reference: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior bin edges: the reference's ``1/n .. (n-1)/n`` quantiles, distinct, sorted.

    A value ``x`` falls in bin ``k`` = the number of edges ``<= x`` (so ``n_bins`` bins at
    most); missing values get a bin of their own (:func:`bin_counts`).
    """
    if n_bins < 2:
        raise InvalidArgument("a stability index needs at least 2 bins")
    x = np.asarray(reference, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.empty(0)
    qs = np.quantile(x, np.arange(1, n_bins) / n_bins)
    return np.unique(qs)


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: ``len(edges) + 1`` value bins, then the missing-value bin."""
    x = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(x)
    k = np.searchsorted(edges, x[~missing], side="right")
    counts = np.bincount(k, minlength=len(edges) + 1).astype(np.float64)
    return np.append(counts, float(missing.sum()))


def terms_from_counts(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Each bin's term ``(q_b - p_b) ln(q_b / p_b)`` of two count vectors over the same bins."""
    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(current, dtype=np.float64)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise InvalidArgument("a stability index needs two non-empty distributions")
    p = np.maximum(p / p.sum(), EPSILON)
    q = np.maximum(q / q.sum(), EPSILON)
    return np.asarray((q - p) * np.log(q / p))


def index_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    """The stability index of two count vectors over the same bins."""
    return float(np.sum(terms_from_counts(reference, current)))


def contributions(
    reference: np.ndarray, current: np.ndarray, n_bins: int = DEFAULT_BINS
) -> np.ndarray:
    """Each bin's term of the index (characteristic analysis: where the shift is)."""
    edges = quantile_edges(reference, n_bins)
    return terms_from_counts(bin_counts(reference, edges), bin_counts(current, edges))


def stability_index(
    reference: np.ndarray, current: np.ndarray, n_bins: int = DEFAULT_BINS
) -> float:
    """PSI / CSI of ``current`` against ``reference`` (see the module docstring)."""
    edges = quantile_edges(reference, n_bins)
    return index_from_counts(bin_counts(reference, edges), bin_counts(current, edges))


def stability_indices(
    reference: np.ndarray, current: np.ndarray, n_bins: int = DEFAULT_BINS
) -> np.ndarray:
    """The index of every column of two 2-D arrays (rows: companies, columns: features)."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.ndim != 2 or cur.ndim != 2 or ref.shape[1] != cur.shape[1]:
        raise InvalidArgument("reference and current need the same columns")
    return np.asarray([stability_index(ref[:, j], cur[:, j], n_bins) for j in range(ref.shape[1])])


def label_counts(
    reference: np.ndarray, current: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(labels, reference counts, current counts)`` of two arrays of category labels (the
    bins are every label seen on either side, sorted)."""
    ref = np.asarray(reference).astype(str)
    cur = np.asarray(current).astype(str)
    labels = sorted(set(ref.tolist()) | set(cur.tolist()))
    pos = {label: k for k, label in enumerate(labels)}
    p = np.bincount([pos[v] for v in ref.tolist()], minlength=len(labels)).astype(np.float64)
    q = np.bincount([pos[v] for v in cur.tolist()], minlength=len(labels)).astype(np.float64)
    return labels, p, q


def categorical_index(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI / CSI of a categorical characteristic (e.g. risk bands): one bin per label."""
    _, p, q = label_counts(reference, current)
    return index_from_counts(p, q)


def alert_level(value: float, warning: float = WARNING, action: float = ACTION) -> str:
    """``"ok"`` below ``warning``, ``"warning"`` below ``action``, else ``"action"``."""
    if not np.isfinite(value):
        raise InvalidArgument("a stability index must be finite")
    if value >= action:
        return "action"
    return "warning" if value >= warning else "ok"
