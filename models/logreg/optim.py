"""Hyper-parameters, learning-rate schedules and per-party optimisers for vertical LR.

Objective (scikit-learn's, divided by the number of training rows ``n``)::

    (1/n) sum_i logloss(y_i, z_i) + alpha * R(w),   alpha = 1 / (C n)
    R(w) = ||w||^2 / 2  ("l2"),  ||w||_1  ("l1"),  0  ("none")

The intercept is not regularised. Mini-batch gradient descent: each party updates ITS OWN
weights from its own gradient block; the optimisers below are coordinate-wise (SGD, momentum,
Adam), so running them separately on the two blocks is exactly the joint algorithm. L1 uses a
proximal (soft-thresholding) step after the gradient step.

``precond`` is block-preconditioned gradient descent: each party multiplies its gradient
block by ``P = (X_k^T X_k / (4 n) + alpha I)^-1`` computed from ITS OWN training features
(``1/4`` bounds the logistic curvature), i.e. a block-Jacobi Newton step with a fixed curvature
bound. It removes the ill-conditioning within each party's (often strongly correlated) features
and needs no extra exchange. Since ``X^T X <= 2 blockdiag(X_b^T X_b, X_p^T X_p)`` for two
blocks, the full-batch objective decreases for learning rates up to 1 without momentum; a
Nesterov momentum (``momentum``, 0.3 by default for this optimiser) speeds up the slow tail
that the correlation between the two parties' blocks leaves.

Warm-up (``warmup_batches``, full-batch jobs): the first epoch runs in several seeded batches
and the second in a quarter as many (:func:`warmup_counts`); each is one step of both parties
at the cost of its rows only, so the two epochs take ~15 steps where full batches take 2. Both
parties clear the momentum at the warm-up's last step; full batches follow, whose steps carry no
sampling noise, so that the stopping rule (the joint log-odds move by less than ``tol``) can
fire. Every warm-up batch keeps at least :func:`min_batch_rows` rows, so the privacy budget
below holds whatever the batch counts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from models.errors import InvalidArgument

MODES = ("paillier", "ckks")
PENALTIES = ("l2", "l1", "none")
SCHEDULES = ("constant", "invscaling", "exponential", "step")
OPTIMIZERS = ("sgd", "momentum", "adam", "precond")
#: Upper bound of the logistic loss curvature, used by the "precond" optimiser.
CURVATURE_BOUND = 0.25


#: Most epochs a job may run (bounds what the batches reveal, see :func:`min_batch_rows`).
MAX_EPOCHS = 200
#: Most expansion terms of the sigmoid (see :mod:`models.logreg.separable`).
MAX_SIGMOID_TERMS = 8
#: Expansion terms used when ``sigmoid_terms = 0``: each Paillier term costs one encryption per
#: row and epoch, a CKKS term is nearly free.
DEFAULT_SIGMOID_TERMS = {"paillier": 3, "ckks": 4}
#: Smallest batch the platform accepts (unless the training set is smaller).
MIN_BATCH_FLOOR = 256
#: Most batches of the first warm-up epoch (see :func:`warmup_counts`).
MAX_WARMUP_BATCHES = 64
#: Warm-up batches of the estimators' defaults (full batch, ``precond``): epoch 0 in 12
#: batches, epoch 1 in 3, then full batches (docs/logreg.md 2.6).
DEFAULT_WARMUP_BATCHES = 12


def default_momentum(optimizer: str) -> float:
    """The momentum used when none is given: 0.3 for ``precond`` (with the warm-up, the
    fastest to ``tol`` without overshoot, docs/logreg.md 2.6), 0.9 otherwise."""
    return 0.3 if optimizer == "precond" else 0.9


def sigmoid_terms(params: LrParams) -> int:
    """The number of expansion terms of the sigmoid for these parameters."""
    return params.sigmoid_terms or DEFAULT_SIGMOID_TERMS[params.mode]


def min_batch_rows(params: LrParams, n_train: int, n_bank: int, n_platform: int) -> int:
    """The smallest batch the platform accepts.

    Per batch the bank learns ``n_bank + 2`` aggregates (its gradient, ``sum d``, the loss) and
    the platform ``n_platform`` (its gradient). Over ``max_epochs`` epochs of ``n / b`` batches
    that is ``max_epochs (n / b) (f + 2)`` numbers about ``n`` unknown per-row values; requiring
    ``b >= 2 max_epochs (f + 2)`` keeps it below half of them for each side (and the batches are
    drawn by the platform's seed, so they cannot be chosen to difference rows out).
    """
    need = max(MIN_BATCH_FLOOR, 2 * params.max_epochs * (max(n_bank, n_platform) + 2))
    return min(int(n_train), need)


def full_batch(params: LrParams, n_train: int) -> bool:
    """Whether every batch is the whole training set (``batch_size`` 0 or >= n)."""
    return params.batch_size == 0 or params.batch_size >= n_train


def warmup_counts(params: LrParams, n_train: int, min_rows: int) -> tuple[int, ...]:
    """Batches per epoch of the warm-up of a full-batch job: epoch 0 in ``warmup_batches``
    batches, epoch 1 in a quarter as many, each count capped so that every batch keeps at
    least ``min_rows`` rows (:func:`min_batch_rows`); the warm-up ends at the first count below
    2 and later epochs are full batches. Empty when off or not a full-batch job.

    Several cheap, slightly noisy steps take the model most of the way in the first epochs;
    the full-batch epochs after them converge without gradient noise (the stopping rule needs
    it, see :mod:`models.logreg.engine`)."""
    if not params.warmup_batches or not full_batch(params, n_train):
        return ()
    cap = int(n_train) // max(1, int(min_rows))
    out: list[int] = []
    for want in (params.warmup_batches, params.warmup_batches // 4):
        count = min(want, cap)
        if count < 2:
            break
        out.append(count)
    return tuple(out)


def batch_plan(
    params: LrParams, train: np.ndarray, seed: bytes, epoch: int, min_rows: int
) -> list[np.ndarray]:
    """The training rows of every batch of ``epoch``: a permutation drawn from the platform's
    seed, cut into ``max(1, n // batch_size)`` batches of near-equal size (each at least
    ``batch_size`` rows). Full batch (``batch_size`` 0 or >= n) keeps the training order,
    except in the warm-up epochs (:func:`warmup_counts`, batches of at least ``min_rows``, the
    job's :func:`min_batch_rows`: both parties must pass the same)."""
    n = int(train.size)
    if full_batch(params, n):
        warm = warmup_counts(params, n, min_rows)
        if epoch >= len(warm):
            return [np.asarray(train, dtype=np.int64)]
        count = warm[epoch]
    else:
        count = max(1, n // params.batch_size)
    entropy = int.from_bytes(hashlib.sha256(seed + epoch.to_bytes(8, "big")).digest(), "big")
    perm = np.random.Generator(np.random.PCG64(entropy)).permutation(train)
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(perm, count)]


def ends_warmup(params: LrParams, n_train: int, min_rows: int, epoch: int, last: bool) -> bool:
    """Whether the step of this batch (``last``: the epoch's last batch) ends the warm-up:
    each party then clears its momentum, so that the full-batch epochs do not carry the
    warm-up's noisy steps (both parties do it at the same step, restart-safe: it is part of
    the step's persisted state)."""
    return last and epoch == len(warmup_counts(params, n_train, min_rows)) - 1


@dataclass(frozen=True)
class LrParams:
    """Training hyper-parameters shared by both parties (sent to the platform in the clear).

    ``alpha`` overrides ``C`` when given (> 0 or 0 for none). ``validation_metrics``: the
    validation log-loss is computed privately after every epoch (one scalar to the bank, see
    :mod:`models.logreg.val_loss`). ``schedule``: ``constant``
    (``eta0``), ``invscaling`` (``eta0 / (1 + decay * epoch)``), ``exponential``
    (``eta0 * decay ** epoch``), ``step`` (``eta0 * 0.5 ** floor(epoch / step_epochs)``).
    """

    mode: str = "paillier"
    penalty: str = "l2"
    C: float = 1.0
    alpha: float = -1.0
    learning_rate: float = 1.0
    schedule: str = "invscaling"
    decay: float = 0.05
    step_epochs: int = 5
    optimizer: str = "sgd"
    momentum: float = 0.9
    batch_size: int = 0
    max_epochs: int = 20
    tol: float = 1e-2
    fit_intercept: bool = True
    standardize: bool = True
    nesterov: bool = False
    sigmoid_terms: int = 0
    #: The platform answers one validation-loss request per epoch (models/logreg/val_loss.py).
    validation_metrics: bool = False
    #: Full-batch jobs: batches of the first epoch (0: no warm-up), see :func:`warmup_counts`.
    warmup_batches: int = 0
    min_category_count: int = 0  # rare categories -> "other" (0: 1% of the training rows)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InvalidArgument("mode must be 'paillier' or 'ckks'")
        if self.penalty not in PENALTIES:
            raise InvalidArgument("penalty must be 'l2', 'l1' or 'none'")
        if self.schedule not in SCHEDULES:
            raise InvalidArgument("unknown learning-rate schedule")
        if self.optimizer not in OPTIMIZERS:
            raise InvalidArgument("optimizer must be 'sgd', 'momentum', 'adam' or 'precond'")
        if self.optimizer == "precond" and self.penalty == "l1":
            raise InvalidArgument("the 'precond' optimiser supports 'l2' or no penalty")
        if not (self.C > 0 and math.isfinite(self.C)):
            raise InvalidArgument("C must be positive")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise InvalidArgument("learning rate must be positive")
        if not (self.decay >= 0 and math.isfinite(self.decay)):
            raise InvalidArgument("decay must be non-negative")
        if self.schedule == "exponential" and not 0 < self.decay <= 1:
            raise InvalidArgument("exponential decay must be in (0, 1]")
        if self.step_epochs < 1 or self.batch_size < 0 or self.max_epochs < 1:
            raise InvalidArgument("step_epochs and max_epochs must be positive, batch_size >= 0")
        if self.max_epochs > MAX_EPOCHS:
            raise InvalidArgument(f"max_epochs must be at most {MAX_EPOCHS}")
        if self.sigmoid_terms and not 2 <= self.sigmoid_terms <= MAX_SIGMOID_TERMS:
            raise InvalidArgument(f"sigmoid_terms must be 0 (default) or 2 to {MAX_SIGMOID_TERMS}")
        if not 0 <= self.momentum < 1:
            raise InvalidArgument("momentum must be in [0, 1)")
        if self.tol < 0:
            raise InvalidArgument("tol must be >= 0")
        if self.min_category_count < 0:
            raise InvalidArgument("min_category_count must be >= 0")
        if self.warmup_batches and not 2 <= self.warmup_batches <= MAX_WARMUP_BATCHES:
            raise InvalidArgument(f"warmup_batches must be 0 or 2 to {MAX_WARMUP_BATCHES}")

    def reg_strength(self, n_train: int) -> float:
        """``alpha`` (per-row objective), from ``C`` unless given explicitly."""
        if self.penalty == "none":
            return 0.0
        if self.alpha >= 0:
            return float(self.alpha)
        return 1.0 / (self.C * max(1, n_train))

    def to_params(self) -> dict[str, str]:
        """As string parameters (SessionSpec / wire)."""
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: dict[str, str]) -> LrParams:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in params:
                continue
            raw = params[f.name]
            try:
                if f.type in ("bool", bool):
                    kwargs[f.name] = raw.lower() in ("1", "true", "yes")
                elif f.type in ("int", int):
                    kwargs[f.name] = int(raw)
                elif f.type in ("float", float):
                    kwargs[f.name] = float(raw)
                else:
                    kwargs[f.name] = raw
            except ValueError:
                raise InvalidArgument("a training parameter is malformed") from None
        out = cls(**kwargs)
        out.validate()
        return out


def learning_rate(params: LrParams, epoch: int) -> float:
    """Learning rate for (0-based) ``epoch``."""
    eta0 = params.learning_rate
    if params.schedule == "constant":
        return eta0
    if params.schedule == "invscaling":
        return eta0 / (1.0 + params.decay * epoch)
    if params.schedule == "exponential":
        return float(eta0 * params.decay**epoch)
    return float(eta0 * 0.5 ** (epoch // params.step_epochs))


class Optimizer:
    """Coordinate-wise update of one party's weight block (optionally with an intercept).

    ``step(grad_mean, eta)`` applies ``w <- w - eta * direction(grad + alpha * w)`` (L2) or the
    gradient step followed by soft-thresholding by ``eta * alpha`` (L1). The intercept (last
    entry when ``intercept=True``) is never regularised.
    """

    def __init__(self, n_weights: int, params: LrParams, alpha: float, intercept: bool) -> None:
        self.params = params
        self.alpha = float(alpha)
        self.intercept = intercept
        self.w = np.zeros(n_weights + (1 if intercept else 0))
        self.m = np.zeros_like(self.w)
        self.v = np.zeros_like(self.w)
        self.t = 0
        self.precond: np.ndarray | None = None

    def set_preconditioner(self, X_train: np.ndarray) -> None:
        """Compute this party's block preconditioner from its training design matrix."""
        X = np.asarray(X_train, dtype=np.float64)
        n = max(1, X.shape[0])
        if self.intercept:
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        if X.shape[1] != self.w.size:
            raise InvalidArgument("design matrix does not match the weights")
        reg = self.alpha if self.params.penalty == "l2" else 0.0
        A = CURVATURE_BOUND * (X.T @ X) / n + np.diag(reg * self._reg_mask())
        A += 1e-8 * np.eye(A.shape[0])
        self.precond = np.linalg.inv(A)

    @property
    def weights(self) -> np.ndarray:
        return self.w[:-1] if self.intercept else self.w

    @property
    def bias(self) -> float:
        return float(self.w[-1]) if self.intercept else 0.0

    def penalty(self, w: np.ndarray) -> float:
        """``alpha * R(w)`` of this block at ``w`` (the intercept is not penalised)."""
        v = np.asarray(w, dtype=np.float64) * self._reg_mask()
        if self.params.penalty == "l2":
            return 0.5 * self.alpha * float(v @ v)
        if self.params.penalty == "l1":
            return self.alpha * float(np.abs(v).sum())
        return 0.0

    def lookahead(self, eta: float) -> np.ndarray:
        """Where the next gradient is evaluated: the weights, or Nesterov's look-ahead point
        ``w - eta * momentum * m`` (for ``precond`` and ``momentum`` with ``nesterov``)."""
        p = self.params
        if p.nesterov and p.momentum > 0 and p.optimizer in ("precond", "momentum"):
            return self.w - eta * p.momentum * self.m
        return self.w.copy()

    def _reg_mask(self) -> np.ndarray:
        mask = np.ones_like(self.w)
        if self.intercept:
            mask[-1] = 0.0
        return mask

    def step(self, grad_mean: np.ndarray, eta: float) -> np.ndarray:
        """One update from the mean data gradient of a batch (evaluated at
        :meth:`lookahead`); returns the weight change."""
        g = np.asarray(grad_mean, dtype=np.float64)
        if g.shape != self.w.shape or not np.all(np.isfinite(g)):
            raise InvalidArgument("gradient has the wrong shape or is not finite")
        reg = self._reg_mask()
        if self.params.penalty == "l2":
            g = g + self.alpha * reg * self.lookahead(eta)
        opt = self.params.optimizer
        if opt == "sgd":
            direction = g
        elif opt == "precond":
            if self.precond is None:
                raise InvalidArgument("the preconditioner was not computed")
            direction = self.precond @ g
            if self.params.momentum > 0:  # heavy ball on the preconditioned direction
                self.m = self.params.momentum * self.m + direction
                direction = self.m
        elif opt == "momentum":
            self.m = self.params.momentum * self.m + g
            direction = self.m
        else:
            self.t += 1
            b1, b2 = 0.9, 0.999
            self.m = b1 * self.m + (1 - b1) * g
            self.v = b2 * self.v + (1 - b2) * g * g
            m_hat = self.m / (1 - b1**self.t)
            v_hat = self.v / (1 - b2**self.t)
            direction = m_hat / (np.sqrt(v_hat) + 1e-8)
        old = self.w.copy()
        new = self.w - eta * direction
        if self.params.penalty == "l1" and self.alpha > 0:
            thr = eta * self.alpha * reg
            new = np.sign(new) * np.maximum(np.abs(new) - thr, 0.0)
        self.w = new
        return new - old

    def clear_momentum(self) -> None:
        """Forget the momentum (and Adam's moments): the next step starts afresh from ``w``."""
        self.m = np.zeros_like(self.w)
        self.v = np.zeros_like(self.w)
        self.t = 0

    def state(self) -> dict[str, Any]:
        return {"w": self.w.tolist(), "m": self.m.tolist(), "v": self.v.tolist(), "t": self.t}

    def load_state(self, state: dict[str, Any]) -> None:
        w = np.asarray(state["w"], dtype=np.float64)
        if w.shape != self.w.shape:
            raise InvalidArgument("optimiser state does not match the weights")
        self.w = w
        self.m = np.asarray(state["m"], dtype=np.float64)
        self.v = np.asarray(state["v"], dtype=np.float64)
        self.t = int(state["t"])


def log_loss(y: np.ndarray, z: np.ndarray) -> float:
    """Mean logistic loss from labels and log-odds (stable)."""
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if y.size == 0:
        return 0.0
    return float(np.mean(np.logaddexp(0.0, z) - y * z))
