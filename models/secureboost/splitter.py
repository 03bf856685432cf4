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

Categorical features (one bin per category) split on a *set* of bins, found as LightGBM does
(``FindBestThresholdCategorical``): with at most ``max_cat_to_onehot`` categories, one category
against the rest; otherwise the categories whose estimated row count (hessian times the
node's rows per unit hessian) reaches ``cat_smooth`` are sorted by ``G / (H + cat_smooth)``
and every prefix of up to ``min(max_cat_threshold, (k + 1) // 2)`` of those ``k``
categories, from either end, is a candidate left set, with ``lambda + cat_l2`` on the
children and groups of at least ``min_data_per_group`` rows. The missing bin (missing values
and unseen categories) goes right. Only the label holder runs this: it needs the per-bin
sums, never the categories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SplitParams:
    reg_lambda: float = 1.0
    min_child_weight: float = 1.0
    gamma: float = 0.0
    cat_smooth: float = 10.0
    cat_l2: float = 10.0
    max_cat_threshold: int = 32
    min_data_per_group: int = 100
    max_cat_to_onehot: int = 4


@dataclass(frozen=True)
class SplitCandidate:
    """The chosen split: global feature index, bin, missing direction, gain and left sums."""

    feature: int
    bin: int
    missing_left: bool
    gain: float
    left_g: int
    left_h: int
    left_bins: tuple[int, ...] | None = None  # categorical: the bins that go left


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
    categorical: np.ndarray | None = None,
    n_rows: int = 0,
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
    categorical:
        Bool per feature: split on sets of bins (module docstring); None: none.
    n_rows:
        The node's row count (turns hessians into row-count estimates for categorical splits).
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
    cat = (
        np.zeros(G.shape[0], dtype=bool)
        if categorical is None
        else np.asarray(categorical, dtype=bool)
    )
    valid &= ~cat[:, None, None]
    cat_best = _best_categorical(
        G, H, g_total, h_total, n_value_bins, feature_mask, cat, frac_bits, params, n_rows
    )
    if not valid.any():
        return cat_best
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
        return cat_best
    if cat_best is not None and (
        cat_best.gain > best or (cat_best.gain == best and cat_best.feature < f)
    ):
        return cat_best
    return SplitCandidate(
        feature=int(f),
        bin=int(b),
        missing_left=bool(d == 1),
        gain=best,
        left_g=int(gl[f, b, d]),
        left_h=int(hl[f, b, d]),
    )


def _best_categorical(
    G: np.ndarray,
    H: np.ndarray,
    g_total: int,
    h_total: int,
    n_value_bins: np.ndarray,
    feature_mask: np.ndarray,
    categorical: np.ndarray,
    frac_bits: int,
    params: SplitParams,
    n_rows: int,
) -> SplitCandidate | None:
    """The best set split over the categorical features (module docstring), or None."""
    best: SplitCandidate | None = None
    scale = float(2.0**-frac_bits)
    gt, ht = float(g_total) * scale, float(h_total) * scale
    if ht <= 0.0:
        return None
    lam, mcw = float(params.reg_lambda), float(params.min_child_weight)
    parent = gt * gt / (ht + lam)
    per_hess = float(n_rows) / ht if n_rows > 0 else 1.0
    for f in np.flatnonzero(categorical & np.asarray(feature_mask, dtype=bool)):
        k = int(n_value_bins[f])
        gq, hq = G[f, :k], H[f, :k]
        present = np.flatnonzero(hq > 0)
        if present.size < 2 and not (present.size == 1 and H[f, -1] > 0):
            continue
        fg, fh = gq.astype(np.float64) * scale, hq.astype(np.float64) * scale
        cnt = np.rint(fh * per_hess)
        candidates: list[list[int]] = []
        l2 = lam
        if k <= params.max_cat_to_onehot:
            candidates = [[int(b)] for b in present]
            group_min = 0.0
        else:
            l2 = lam + float(params.cat_l2)
            used = [int(b) for b in present if cnt[b] >= params.cat_smooth]
            ctr = {b: fg[b] / (fh[b] + params.cat_smooth) for b in used}
            order = sorted(used, key=lambda b: (ctr[b], b))
            max_num = min(int(params.max_cat_threshold), (len(order) + 1) // 2)
            max_threshold = min(max_num, len(order))
            for seq in (order, order[::-1]):
                candidates.extend(seq[: i + 1] for i in range(min(len(seq), max_threshold)))
            group_min = float(params.min_data_per_group)
        group = 0.0
        prev_len = 0
        for left in candidates:
            if len(left) <= prev_len:
                group = 0.0  # a new direction starts
            group += float(cnt[left[-1]])
            prev_len = len(left)
            lg_q = int(gq[left].sum())
            lh_q = int(hq[left].sum())
            lg, lh = float(lg_q) * scale, float(lh_q) * scale
            rg, rh = gt - lg, ht - lh
            if lh < mcw or lh <= 0.0:
                continue
            if rh < mcw or rh <= 0.0 or ht * per_hess - lh * per_hess < group_min:
                continue
            if group < group_min:
                continue
            group = 0.0
            gain = lg * lg / (lh + l2) + rg * rg / (rh + l2) - parent
            if not np.isfinite(gain) or gain <= float(params.gamma):
                continue
            if best is None or gain > best.gain:
                best = SplitCandidate(
                    feature=int(f),
                    bin=-1,
                    missing_left=False,
                    gain=float(gain),
                    left_g=lg_q,
                    left_h=lh_q,
                    left_bins=tuple(sorted(left)),
                )
    return best
