"""Supervised ("optimal") binning: merge fine bins into a few monotonic ones.

Input: the per-fine-bin event counts and totals of one feature (non-missing bins, in value
order). Steps:

1. Pool adjacent bins until the event rate is monotonic (pool-adjacent-violators), once for
   an increasing and once for a decreasing trend.
2. While a group holds fewer than ``min_bin_size`` rows, merge it with the neighbour whose
   event rate is closest; while there are more than ``max_bins`` groups, merge the adjacent
   pair whose merge loses the least information value.
3. Keep the trend (increasing or decreasing) with the larger information value.

Merging adjacent monotonic groups keeps monotonicity, so the result is monotonic. The
function sees only counts; for platform features those counts are what the bank decrypts in
the federated protocol, so the bank runs this and sends the platform the resulting mapping.
"""

from __future__ import annotations

import numpy as np

from models.binning.woe import DEFAULT_SMOOTHING, woe_iv
from models.errors import InvalidArgument


def _pav(events: np.ndarray, totals: np.ndarray, increasing: bool) -> list[list[int]]:
    """Groups of consecutive fine bins with monotonic event rate (empty bins join a group)."""
    groups: list[list[int]] = []
    ge: list[float] = []
    gn: list[float] = []
    for i in range(events.size):
        groups.append([i])
        ge.append(float(events[i]))
        gn.append(float(totals[i]))
        while len(groups) > 1:
            r_prev = ge[-2] / gn[-2] if gn[-2] > 0 else None
            r_last = ge[-1] / gn[-1] if gn[-1] > 0 else None
            if r_prev is None or r_last is None:
                violates = True  # fold empty bins into their neighbour
            else:
                violates = r_last < r_prev if increasing else r_last > r_prev
            if not violates:
                break
            last_group, last_e, last_n = groups.pop(), ge.pop(), gn.pop()
            groups[-1].extend(last_group)
            ge[-1] += last_e
            gn[-1] += last_n
    return groups


def _stats(
    groups: list[list[int]], events: np.ndarray, totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray([events[g].sum() for g in groups], dtype=np.float64)
    n = np.asarray([totals[g].sum() for g in groups], dtype=np.float64)
    return e, n


def _merge_small_and_many(
    groups: list[list[int]],
    events: np.ndarray,
    totals: np.ndarray,
    max_bins: int,
    min_bin_size: float,
    smoothing: float,
) -> list[list[int]]:
    groups = [list(g) for g in groups]
    while len(groups) > 1:
        e, n = _stats(groups, events, totals)
        small = np.flatnonzero(n < min_bin_size)
        if small.size:
            i = int(small[np.argmin(n[small])])
            rate = e / np.maximum(n, 1.0)
            if i == 0:
                j = 1
            elif i == len(groups) - 1:
                j = i - 1
            else:
                left, right = abs(rate[i] - rate[i - 1]), abs(rate[i] - rate[i + 1])
                j = i - 1 if left <= right else i + 1
        elif len(groups) > max_bins:
            base = woe_iv(e, n, smoothing).iv
            losses = []
            for i in range(len(groups) - 1):
                e2 = np.concatenate([e[:i], [e[i] + e[i + 1]], e[i + 2 :]])
                n2 = np.concatenate([n[:i], [n[i] + n[i + 1]], n[i + 2 :]])
                losses.append(base - woe_iv(e2, n2, smoothing).iv)
            i = int(np.argmin(losses))
            j = i + 1
        else:
            break
        a, b = min(i, j), max(i, j)
        groups[a].extend(groups.pop(b))
    return groups


def monotonic_merge(
    events: np.ndarray,
    totals: np.ndarray,
    max_bins: int = 6,
    min_bin_size: float = 0.0,
    smoothing: float = DEFAULT_SMOOTHING,
) -> np.ndarray:
    """Coarse bin index of each fine bin (non-decreasing, starting at 0)."""
    events = np.asarray(events, dtype=np.float64)
    totals = np.asarray(totals, dtype=np.float64)
    if events.shape != totals.shape or events.ndim != 1 or events.size == 0:
        raise InvalidArgument("events and totals must be non-empty vectors of the same length")
    if max_bins < 1:
        raise InvalidArgument("max_bins must be positive")
    best: list[list[int]] | None = None
    best_iv = -1.0
    for increasing in (True, False):
        groups = _pav(events, totals, increasing)
        groups = _merge_small_and_many(groups, events, totals, max_bins, min_bin_size, smoothing)
        e, n = _stats(groups, events, totals)
        iv = woe_iv(e, n, smoothing).iv
        if iv > best_iv + 1e-12:
            best, best_iv = groups, iv
    assert best is not None
    mapping = np.empty(events.size, dtype=np.int64)
    for k, g in enumerate(best):
        mapping[g] = k
    return mapping
