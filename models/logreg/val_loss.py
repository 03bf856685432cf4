"""The validation log-loss of the joint model as one private aggregate per epoch.

The per-row loss ``l_i = softplus(z_i) - y_i z_i`` of the joint log-odds ``z_i = a_i + u_i``
(``a`` the bank's partial score, ``u`` the platform's) is expanded, like the sigmoid in
:mod:`models.logreg.separable`, as a sum of products of a function of the bank's row (its
partial score and label) and a function of the platform's partial score::

    l_i  ~  sum_k c_k(a_i, y_i) T_k(t_i),   t_i = tanh((u_i - c) / tau) / tanh(h / tau)

on the coarse interval ``[lo, hi]`` (centre ``c``, half-width ``h``) of the platform's
validation partial scores. The softplus is not saturating but has a kink of width ~1 at
``z = 0``, so the warp is milder than for the sigmoid (``tau = h``) and the expansion longer
(:data:`LOSS_TERMS`). The platform sums the products over the validation rows inside the
encryption (:mod:`models.logreg.val_loss_terms`): the bank decrypts only
``sum_i sum_k c_ik T_k(t_i)``, the validation log-loss times the number of rows.

Accuracy (plaintext, 2,000 rows, the expansion's error relative to the exact mean loss): with
8 terms (Paillier) ~1e-5 when the platform's partial scores span ~8.5 log-odds (default_credit)
and ~1e-3 for a span of 25 (breast, near-separable); with 16 terms (CKKS) ~1e-9 and ~3e-4.
Rows whose partial score lies outside the interval cannot occur (the interval covers them).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from models.errors import InvalidArgument
from models.logreg import separable
from models.logreg.optim import LrParams

#: Terms of the loss expansion per mode: each Paillier term costs one encryption and one
#: short exponentiation per validation row and epoch; a CKKS term one product per 4096 rows.
LOSS_TERMS = {"paillier": 8, "ckks": 16}
#: Chebyshev nodes of the loss expansion.
LOSS_NODES = 64
#: ``tau / h`` of the warp of the platform's validation partial scores.
LOSS_WARP = 1.0
#: Fewest validation rows for which the platform answers (the answer must stay an aggregate).
MIN_VALIDATION_ROWS = 50


def loss_terms_for(mode: str) -> int:
    """The number of expansion terms of the loss in ``mode``."""
    try:
        return LOSS_TERMS[mode]
    except KeyError:
        raise InvalidArgument("mode must be 'paillier' or 'ckks'") from None


def _warp(lo: float, hi: float) -> tuple[float, float, float]:
    c, h = (lo + hi) / 2, (hi - lo) / 2
    tau = LOSS_WARP * h
    return c, tau, math.tanh(h / tau)


def loss_basis(u: np.ndarray, lo: float, hi: float, n_terms: int) -> np.ndarray:
    """The platform's basis values ``T_k(t_i)`` (rows x K, in ``[-1, 1]``, column 0 is 1)."""
    lo, hi = separable.check_interval(lo, hi)
    c, tau, smax = _warp(lo, hi)
    t = np.clip(np.tanh((np.asarray(u, dtype=np.float64) - c) / tau) / smax, -1.0, 1.0)
    return separable.psi(t, n_terms, "chebyshev")


def loss_coefficients(
    a: np.ndarray, y: np.ndarray, lo: float, hi: float, n_terms: int
) -> np.ndarray:
    """The bank's coefficients (rows x K) of ``softplus(a + u) - y (a + u)`` for ``u`` in
    ``[lo, hi]``."""
    lo, hi = separable.check_interval(lo, hi)
    if n_terms < 2:
        raise InvalidArgument("a separable expansion needs at least two terms")
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != y.shape:
        raise InvalidArgument("partial scores and labels do not match")
    c, tau, smax = _warp(lo, hi)
    j = np.arange(LOSS_NODES)
    x = np.cos(np.pi * (j + 0.5) / LOSS_NODES)
    z = a[:, None] + (c + tau * np.arctanh(smax * x))[None, :]
    values = np.logaddexp(0.0, z) - y[:, None] * z
    return separable.chebyshev_coefficients(values, n_terms)


def with_validation_metrics(
    params: LrParams, wanted: bool | None, validation_rows: np.ndarray | None
) -> LrParams:
    """``params`` with per-epoch validation metrics on when ``wanted`` (``None``: by default,
    on in CKKS mode, where they cost ~0.2 s per epoch, off in Paillier mode, where they add
    ~40% to an epoch with a fifth of the rows held out) and there are at least
    :data:`MIN_VALIDATION_ROWS` validation rows (fewer: off, the platform would refuse them)."""
    n_val = 0 if validation_rows is None else int(np.asarray(validation_rows).size)
    default = params.mode == "ckks"
    on = (default if wanted is None else bool(wanted)) and n_val >= MIN_VALIDATION_ROWS
    return dataclasses.replace(params, validation_metrics=on)
