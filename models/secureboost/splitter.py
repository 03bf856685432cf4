"""Best split of a node from its gradient/hessian histograms (role-agnostic).

Histograms are exact integer sums of fixed-point gradients (``round(g * 2**frac_bits)``) in the
padded bin layout (value bins ``0 .. n_bins-1``, missing at ``n_bins``), so the bank computes
bit-identical gains whether a histogram came from its own plaintext rows, from decrypting the
platform's encrypted histograms, or from the centralized reference.

Gain of sending rows with bin <= b (and missing values to one side) left::

    gain = G_L^2 / (H_L + lambda) + G_R^2 / (H_R + lambda) - G^2 / (H + lambda)

(XGBoost's and LightGBM's convention, without the factor 1/2); a split needs ``gain > gamma``
and a hessian sum ``>= min_child_weight`` (and > 0) on both sides. Equal gains (thresholds
that split the node's rows identically because the bins between them are empty) go to the
lowest feature, then the highest bin (LightGBM's choice), then "missing goes right".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SplitParams:
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    gamma: float = 0.0


@dataclass(frozen=True)
class SplitCandidate:
    """The chosen split: global feature index, bin, missing direction, gain and left sums."""

    feature: int
    bin: int
    missing_left: bool
    gain: float
    left_g: int
    left_h: int


def leaf_weight(g_sum: float, h_sum: float, reg_lambda: float) -> float:
    """Newton step ``-G / (H + lambda)`` (0 for an empty node)."""
    denom = h_sum + reg_lambda
    if denom <= 0.0:
        return 0.0
    return -g_sum / denom


def best_split(
    G: np.ndarray,
    H: np.ndarray,
    g_total: int,
    h_total: int,
    n_value_bins: np.ndarray,
    feature_mask: np.ndarray,
    frac_bits: int,
    params: SplitParams,
) -> SplitCandidate | None:
    """The best split of one node, or None if no candidate beats ``gamma``.

    Parameters
    ----------
    G, H:
        ``(n_features, n_bins + 1)`` int64 histograms (padded layout, missing last).
    g_total, h_total:
        The node's totals (equal to each feature's row sum).
    n_value_bins:
        ``K_f`` per feature; bins ``>= K_f`` of the value part are empty padding.
    feature_mask:
        Features allowed in this tree (column subsampling).
    frac_bits:
        Fixed-point scale of the sums.
    """
    n_slots = G.shape[1]
    nb = n_slots - 1
    cum_g = np.cumsum(G[:, :nb], axis=1)
    cum_h = np.cumsum(H[:, :nb], axis=1)
    # axis 2: 0 = missing goes right, 1 = missing goes left
    gl = np.stack([cum_g, cum_g + G[:, nb : nb + 1]], axis=2)
    hl = np.stack([cum_h, cum_h + H[:, nb : nb + 1]], axis=2)
    gr = np.int64(g_total) - gl
    hr = np.int64(h_total) - hl
    scale = float(2.0**-frac_bits)
    fgl, fhl = gl.astype(np.float64) * scale, hl.astype(np.float64) * scale
    fgr, fhr = gr.astype(np.float64) * scale, hr.astype(np.float64) * scale
    lam = float(params.reg_lambda)
    mcw = float(params.min_child_weight)
    valid = (hl > 0) & (hr > 0) & (fhl >= mcw) & (fhr >= mcw)
    valid &= (np.arange(nb)[None, :] < np.asarray(n_value_bins)[:, None])[:, :, None]
    valid &= np.asarray(feature_mask, dtype=bool)[:, None, None]
    if not valid.any():
        return None
    gt, ht = float(g_total) * scale, float(h_total) * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = fgl * fgl / (fhl + lam) + fgr * fgr / (fhr + lam) - gt * gt / (ht + lam)
    gain = np.where(valid, gain, -np.inf)
    # ties: lowest feature, then highest bin (as LightGBM's reverse scan), then missing right
    flat = int(np.argmax(gain[:, ::-1, :]))
    f, rb, d = np.unravel_index(flat, gain.shape)
    b = nb - 1 - int(rb)
    best = float(gain[f, b, d])
    if not np.isfinite(best) or best <= float(params.gamma):
        return None
    return SplitCandidate(
        feature=int(f),
        bin=int(b),
        missing_left=bool(d == 1),
        gain=best,
        left_g=int(gl[f, b, d]),
        left_h=int(hl[f, b, d]),
    )
