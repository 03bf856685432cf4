"""Weight of evidence and information value from per-bin event counts.

Events are the label-1 rows (defaults, "bads"); non-events the label-0 rows ("goods").
For a feature with bins ``k`` (the missing bin included), event counts ``e_k`` and totals
``n_k``, non-events ``g_k = n_k - e_k``; over the ``K`` bins that hold rows::

    p_k = (g_k + a) / (G + a K),   q_k = (e_k + a) / (E + a K)
    WOE_k = ln(p_k / q_k),          IV = sum_k (p_k - q_k) WOE_k

with smoothing ``a`` (0.5 by default) so that a bin without events or non-events keeps a
finite WOE. Bins without rows get WOE 0 and add nothing. Positive WOE means fewer defaults
than average (Siddiqi's convention). The same function serves the federated computation (on
decrypted counts) and the centralized reference, so both agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import InvalidArgument

DEFAULT_SMOOTHING = 0.5


@dataclass(frozen=True)
class WoeIv:
    """WOE per bin and the feature's information value."""

    woe: np.ndarray
    iv_bins: np.ndarray
    iv: float
    events: np.ndarray
    totals: np.ndarray


def woe_iv(events: np.ndarray, totals: np.ndarray, smoothing: float = DEFAULT_SMOOTHING) -> WoeIv:
    """WOE and IV of one feature from its per-bin event counts and totals."""
    e = np.asarray(events, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    if e.shape != n.shape or e.ndim != 1:
        raise InvalidArgument("events and totals must be vectors of the same length")
    if np.any(e < 0) or np.any(e > n):
        raise InvalidArgument("event counts must lie between 0 and the bin totals")
    if smoothing < 0:
        raise InvalidArgument("smoothing must be non-negative")
    g = n - e
    used = n > 0
    k = int(used.sum())
    woe = np.zeros_like(e)
    iv_bins = np.zeros_like(e)
    if k == 0:
        return WoeIv(woe, iv_bins, 0.0, e, n)
    a = float(smoothing)
    G, E = float(g[used].sum()), float(e[used].sum())
    if G + a * k <= 0 or E + a * k <= 0:
        raise InvalidArgument("WOE needs both classes (or smoothing)")
    p = (g[used] + a) / (G + a * k)
    q = (e[used] + a) / (E + a * k)
    if np.any(p <= 0) or np.any(q <= 0):
        raise InvalidArgument("a bin without events or non-events needs smoothing > 0")
    w = np.log(p / q)
    woe[used] = w
    iv_bins[used] = (p - q) * w
    return WoeIv(woe, iv_bins, float(iv_bins.sum()), e, n)


def woe_iv_from_codes(
    codes: np.ndarray, y: np.ndarray, n_bins: int, smoothing: float = DEFAULT_SMOOTHING
) -> WoeIv:
    """Centralized reference: WOE/IV of one feature from its bin codes and labels."""
    codes = np.asarray(codes, dtype=np.int64)
    y = np.asarray(y, dtype=np.float64)
    totals = np.bincount(codes, minlength=n_bins).astype(np.float64)
    events = np.bincount(codes, weights=y, minlength=n_bins)
    return woe_iv(np.rint(events), totals, smoothing)
