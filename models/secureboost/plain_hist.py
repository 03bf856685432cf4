"""Plaintext (g, h) histograms of a node over one party's own bin codes."""

from __future__ import annotations

import numpy as np


def plain_histograms(
    bins: np.ndarray, rows: np.ndarray, gq: np.ndarray, hq: np.ndarray, n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact integer sums of fixed-point ``gq``/``hq`` per (feature, bin) over ``rows``.

    Parameters
    ----------
    bins:
        ``(n_total, n_features)`` bin codes in the padded layout.
    rows:
        Positions of the node's rows.
    gq, hq:
        int64 fixed-point gradients/hessians over all positions.
    n_slots:
        Bins per feature in the padded layout (``n_bins + 1``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(G, H)`` int64 arrays of shape ``(n_features, n_slots)``. float64 accumulation is
        exact because the engine's fixed-point scale keeps every partial sum below 2**52.
    """
    n_features = bins.shape[1]
    size = n_features * n_slots
    if rows.size == 0 or n_features == 0:
        z = np.zeros((n_features, n_slots), dtype=np.int64)
        return z, z.copy()
    flat = bins[rows].astype(np.int64) + (np.arange(n_features, dtype=np.int64) * n_slots)[None, :]
    flat = flat.ravel()
    wg = np.repeat(gq[rows].astype(np.float64), n_features)
    wh = np.repeat(hq[rows].astype(np.float64), n_features)
    G = np.bincount(flat, weights=wg, minlength=size).astype(np.int64)
    H = np.bincount(flat, weights=wh, minlength=size).astype(np.int64)
    return G.reshape(n_features, n_slots), H.reshape(n_features, n_slots)
