"""Separable expansions of the logistic function of a joint score, for vertical LR.

The joint log-odds of a row is ``z = a + u``: ``a`` is the bank's partial score (its features,
weights and intercept), ``u`` the platform's. Neither may learn the other's. The residual
``sigmoid(a + u) - y`` is approximated by a sum of products of a function of ``a`` (computed by
the bank) and a function of ``u`` (computed by the platform)::

    sigmoid(a + u) ~ sum_k phi_k(a) psi_k(u)

The platform announces an interval ``[lo, hi]`` that contains the partial scores of the rows in
question (ends rounded outwards to a coarse grid, :func:`coarse_interval`). With centre ``c``
and half-width ``h`` it maps ``u`` to ``t = tanh((u - c) / tau) / tanh(h / tau)`` in ``[-1, 1]``,
``tau = WARP * h``: the warp compresses the tails, where the sigmoid saturates, so that a few
terms fit the whole interval (in ``t`` the sigmoid of ``a + u`` is nearly a ratio of linear
functions). The bank expands ``f(t) = sigmoid(a + c + tau atanh(tanh(h / tau) t))`` for each of
its rows in Chebyshev polynomials ``T_k(t)`` (a truncated Chebyshev series from ``NODES``
Chebyshev nodes) and sends the coefficients encrypted. Two bases for the platform's side:

- ``"chebyshev"`` (CKKS): ``psi_k = T_k(t)``, ``|psi_k| <= 1``;
- ``"monomial"`` (Paillier, whose exponents must be non-negative integers): ``psi_k = s^k``
  with ``s = (t + 1) / 2`` in ``[0, 1]``; the bank converts its coefficients with
  :func:`cheb_to_monomial`.

Accuracy (plaintext simulation, default_credit with the platform's partial scores spanning
~8.5, and breast, spanning ~25): with 3 terms the model trains to the exact optimum's loss
(0.4638 vs 0.4638) and within 0.0008 AUC of scikit-learn on both; without the warp, 3 terms
leave the loss at 0.59. Averages of the residual (gradients) are accurate to ~1e-3 with 3
terms; sums of bounded per-row functions are not (a Brier score or log-loss estimated this way
is 9% off with 3 terms on default_credit and several-fold off on breast), which is why the
per-epoch validation loss has its own, longer expansion of the softplus
(:mod:`models.logreg.val_loss`, docs/logreg.md 2.10).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from models.errors import InvalidArgument
from models.numerics import sigmoid

BASES = ("chebyshev", "monomial")
#: Chebyshev nodes per expansion (truncation after ``K`` terms of a 32-point series).
NODES = 32
#: Grid of the announced interval's ends (partial log-odds units).
INTERVAL_GRID = 1.0 / 16.0
#: Smallest half-width of an interval (all partial scores equal, e.g. zero weights).
MIN_HALF_WIDTH = 1.0 / 16.0
#: Largest magnitude of a partial score the protocol accepts (fixed-point headroom).
MAX_PARTIAL_ABS = 256.0
#: ``tau / h`` of the tanh warp of the platform's partial scores.
WARP = 0.5


def coarse_interval(u: np.ndarray) -> tuple[float, float]:
    """``[lo, hi]`` containing ``u``, ends rounded outwards to :data:`INTERVAL_GRID`, at least
    ``2 * MIN_HALF_WIDTH`` wide. Reveals to the other party only these two grid points."""
    u = np.asarray(u, dtype=np.float64)
    if u.size == 0:
        return -MIN_HALF_WIDTH, MIN_HALF_WIDTH
    if not np.all(np.isfinite(u)) or np.abs(u).max() > MAX_PARTIAL_ABS:
        raise InvalidArgument("partial scores are outside the supported range")
    lo = math.floor(float(u.min()) / INTERVAL_GRID) * INTERVAL_GRID
    hi = math.ceil(float(u.max()) / INTERVAL_GRID) * INTERVAL_GRID
    if hi - lo < 2 * MIN_HALF_WIDTH:
        mid = (hi + lo) / 2
        lo, hi = mid - MIN_HALF_WIDTH, mid + MIN_HALF_WIDTH
    return lo, hi


def check_interval(lo: float, hi: float) -> tuple[float, float]:
    """Validate an announced interval (finite, ordered, on the grid, within range)."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo < 2 * MIN_HALF_WIDTH - 1e-12:
        raise InvalidArgument("the partial-score interval is malformed")
    if max(abs(lo), abs(hi)) > MAX_PARTIAL_ABS + INTERVAL_GRID:
        raise InvalidArgument("the partial-score interval is outside the supported range")
    return lo, hi


def _warp(lo: float, hi: float) -> tuple[float, float, float]:
    """(centre, tau, tanh(h / tau)) of the interval's warp."""
    c, h = (lo + hi) / 2, (hi - lo) / 2
    tau = WARP * h
    return c, tau, math.tanh(h / tau)


def normalised(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``t = tanh((u - c) / tau) / tanh(h / tau)``, clipped to ``[-1, 1]``."""
    c, tau, smax = _warp(lo, hi)
    t = np.tanh((np.asarray(u, dtype=np.float64) - c) / tau) / smax
    return np.clip(t, -1.0, 1.0)


@functools.lru_cache(maxsize=8)
def _cheb_nodes(m: int) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(m)
    theta = np.pi * (j + 0.5) / m
    return np.cos(theta), theta


def chebyshev_coefficients(values_at_nodes: np.ndarray, n_terms: int) -> np.ndarray:
    """Truncated Chebyshev series from values at the ``M`` Chebyshev nodes (rows x M)."""
    m = values_at_nodes.shape[1]
    _, theta = _cheb_nodes(m)
    T = np.cos(np.outer(np.arange(n_terms), theta))  # (K, M)
    coeffs = (2.0 / m) * values_at_nodes @ T.T
    coeffs[:, 0] /= 2.0
    return coeffs


@functools.lru_cache(maxsize=16)
def cheb_to_monomial(n_terms: int) -> np.ndarray:
    """Matrix ``C`` (K x K) with ``sum_k c_k T_k(2 s - 1) = sum_j (c @ C)_j s^j``."""
    # T_k(2s - 1) as polynomials in s via the recurrence T_{k+1} = 2 t T_k - T_{k-1}
    polys: list[np.ndarray] = [np.zeros(n_terms) for _ in range(n_terms)]
    polys[0][0] = 1.0
    if n_terms > 1:
        polys[1][0], polys[1][1] = -1.0, 2.0  # t = 2 s - 1
    for k in range(1, n_terms - 1):
        t_times = np.zeros(n_terms)
        t_times[1:] += 2.0 * polys[k][:-1]  # 2 s * T_k
        t_times -= polys[k]  # - T_k  (so t * T_k = (2 s - 1) T_k)
        polys[k + 1] = 2.0 * t_times - polys[k - 1]
    return np.vstack(polys)


def psi(t: np.ndarray, n_terms: int, basis: str) -> np.ndarray:
    """The platform's basis functions of ``t`` (rows x K)."""
    t = np.asarray(t, dtype=np.float64)
    if basis == "chebyshev":
        out = [np.ones_like(t), t]
        for _ in range(2, n_terms):
            out.append(2.0 * t * out[-1] - out[-2])
        return np.stack(out[:n_terms], axis=1)
    if basis == "monomial":
        s = (t + 1.0) / 2.0
        return np.stack([s**k for k in range(n_terms)], axis=1)
    raise InvalidArgument("unknown basis")


def _node_scores(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``a + u(t)`` at the Chebyshev nodes ``t`` of the warped interval (rows x NODES)."""
    c, tau, smax = _warp(lo, hi)
    x, _ = _cheb_nodes(NODES)
    u = c + tau * np.arctanh(smax * x)
    return np.asarray(a, dtype=np.float64).reshape(-1)[:, None] + u[None, :]


def _coefficients(vals: np.ndarray, n_terms: int, basis: str) -> np.ndarray:
    if basis not in BASES:
        raise InvalidArgument("unknown basis")
    if n_terms < 2:
        raise InvalidArgument("a separable expansion needs at least two terms")
    coeffs = chebyshev_coefficients(vals, n_terms)
    if basis == "monomial":
        coeffs = coeffs @ cheb_to_monomial(n_terms)
    return coeffs


def residual_terms(
    a: np.ndarray, y: np.ndarray, lo: float, hi: float, n_terms: int, basis: str
) -> np.ndarray:
    """The bank's coefficients (rows x K) of the residual ``sigmoid(a + u) - y`` for ``u`` in
    ``[lo, hi]`` (the ``-y`` in the constant term)."""
    out = _coefficients(sigmoid(_node_scores(a, lo, hi)), n_terms, basis)
    out[:, 0] -= np.asarray(y, dtype=np.float64)
    return out
