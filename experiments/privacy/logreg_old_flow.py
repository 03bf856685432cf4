"""Reference re-enactment of the OLD vertical-LR message flow (the ``before`` variant).

A self-contained copy of what ``models/logreg/engine.py`` and ``passive.py`` did before issue
12, reduced to what the bank sees. Per epoch the training rows are cut into batches (one batch
of all rows when ``batch_size >= n_train``, else a shuffle by the bank's seed); per batch:

1. ``scores``: the platform returns ``wx_p = X_p[B] w_p`` **in the clear**;
2. the bank forms ``d = sigmoid(wx_b + b + wx_p) - y`` and sends ``enc(d)``;
3. ``gradient``: the platform returns ``X_p[B]^T enc(d)`` masked; Paillier: the bank decrypts
   ``g + 2^v + m`` with ``m`` uniform in ``[0, 2^(v+81))`` (fixed point: residuals 32, features
   16 fractional bits; emulated here in exact integer arithmetic, which is what decryption and
   unmasking return); CKKS: real SEAL ciphertexts through the old flooded evaluator of
   :mod:`experiments.privacy.logreg_old_ckks`;
4. ``update``: both parties step their own block; the bank learns the platform's largest weight
   change.

``eval`` (``scores(purpose="eval")``) answered ``wx_p`` for any aligned rows, any number of
times: ``eval_rows`` are the bank's validation rows (monitoring, early stopping, kept epoch),
``probe_rows`` rows it asks about besides. Prediction revealed ``wx_p`` of every scored row
(``final_partial``). Optimisers: ``sgd`` (the job default), ``momentum``, ``precond``.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from experiments.privacy.logreg_old_ckks import OldBankCkks, OldFloodEvaluator, new_bank_context
from experiments.privacy.logreg_view import (
    BankView,
    CreditSplit,
    TrainingTrace,
    load_default_credit,
    standardize,
)
from models.crypto.ckks import CkksContext

RESIDUAL_FRAC_BITS = 32
FEATURE_FRAC_BITS = 16
MASK_KAPPA = 80


@dataclass(frozen=True)
class OldLrConfig:
    """The old hyper-parameters (defaults = a job file's defaults)."""

    optimizer: str = "sgd"
    learning_rate: float = 1.0
    schedule: str = "invscaling"
    decay: float = 0.05
    step_epochs: int = 5
    momentum: float = -1.0  # -1: 0.3 for precond, 0.9 otherwise
    batch_size: int = 4096
    max_epochs: int = 20
    tol: float = 1e-4
    n_iter_no_change: int = 3
    C: float = 1.0
    penalty: str = "l2"

    @property
    def beta(self) -> float:
        if self.momentum >= 0:
            return self.momentum
        return 0.3 if self.optimizer == "precond" else 0.9

    def rate(self, epoch: int) -> float:
        eta = self.learning_rate
        if self.schedule == "constant":
            return eta
        if self.schedule == "invscaling":
            return eta / (1.0 + self.decay * epoch)
        if self.schedule == "exponential":
            return float(eta * self.decay**epoch)
        return float(eta * 0.5 ** (epoch // self.step_epochs))


class _Block:
    """One party's weight block and optimiser (the old ``Optimizer``, sgd/momentum/precond)."""

    def __init__(self, X_train: np.ndarray, cfg: OldLrConfig, alpha: float, intercept: bool):
        self.cfg, self.alpha, self.intercept = cfg, alpha, intercept
        f = X_train.shape[1] + (1 if intercept else 0)
        self.w = np.zeros(f)
        self.m = np.zeros(f)
        self.reg = np.ones(f)
        if intercept:
            self.reg[-1] = 0.0
        self.precond: np.ndarray | None = None
        if cfg.optimizer == "precond":
            X = np.hstack([X_train, np.ones((len(X_train), 1))]) if intercept else X_train
            A = 0.25 * X.T @ X / max(1, len(X)) + np.diag(alpha * self.reg) + 1e-8 * np.eye(f)
            self.precond = np.linalg.inv(A)
        elif cfg.optimizer not in ("sgd", "momentum"):
            raise ValueError("the re-enactment covers sgd, momentum and precond")

    @property
    def weights(self) -> np.ndarray:
        return self.w[:-1] if self.intercept else self.w

    @property
    def bias(self) -> float:
        return float(self.w[-1]) if self.intercept else 0.0

    def step(self, grad_mean: np.ndarray, eta: float) -> np.ndarray:
        g = grad_mean + self.alpha * self.reg * self.w
        if self.precond is not None:
            direction = self.precond @ g
            if self.cfg.beta > 0:
                self.m = self.cfg.beta * self.m + direction
                direction = self.m
        elif self.cfg.optimizer == "momentum":
            self.m = self.cfg.beta * self.m + g
            direction = self.m
        else:
            direction = g
        old = self.w.copy()
        self.w = self.w - eta * direction
        return self.w - old


def paillier_gradient(X: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the old Paillier path gave: exact fixed-point ``X^T d`` (platform) and the masked
    values ``g + 2^v + m`` the bank decrypted (as float64; uniform, statistically ~2^-80)."""
    xi = np.rint(np.ldexp(X, FEATURE_FRAC_BITS)).astype(np.int64)
    di = np.rint(np.ldexp(d, RESIDUAL_FRAC_BITS)).astype(np.int64)
    hi, lo = di >> 16, di & 0xFFFF  # di = hi * 2^16 + lo, products stay inside int64
    s_hi, s_lo = xi.T @ hi, xi.T @ lo
    g_int = [(int(a) << 16) + int(b) for a, b in zip(s_hi, s_lo, strict=True)]
    g = np.array([v / 2.0 ** (FEATURE_FRAC_BITS + RESIDUAL_FRAC_BITS) for v in g_int])
    max_x = int(np.abs(xi).max()) if xi.size else 0
    value_bits = max(1, len(d) * max_x * (1 << RESIDUAL_FRAC_BITS)).bit_length()
    limit = 1 << (value_bits + 1 + MASK_KAPPA)
    masked = np.array([float(v + (1 << value_bits) + secrets.randbelow(limit)) for v in g_int])
    return g, masked


class _CkksGradient:
    """The old CKKS gradient path with real ciphertexts (one evaluator per batch row set)."""

    def __init__(self) -> None:
        self.ctx = new_bank_context()
        self.bank = OldBankCkks(self.ctx)
        self.public = CkksContext.from_bytes(self.ctx.public_bytes())
        self._key = b""
        self._ev: OldFloodEvaluator | None = None

    def __call__(self, X: np.ndarray, rows: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
        key = np.ascontiguousarray(rows, "<i8").tobytes()
        if self._ev is None or key != self._key:
            self._ev, self._key = OldFloodEvaluator(self.public, X), key
        blobs, totals = self._ev.masked_xt_d(self.bank.encrypt_residual(d))
        masked = self.bank.decrypt_pairs(blobs, X.shape[1])
        return masked - totals, masked


@dataclass
class OldRun:
    """A re-enacted run: what the bank saw, and the truth the attacks are scored against."""

    view: BankView
    design_p: np.ndarray  # the platform's design matrix (standardised), all aligned rows
    X_p: np.ndarray  # raw platform features, all aligned rows
    epochs: int
    kept_epoch: int


def _pad(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    out[rows] = values
    return out


def run_old_flow(
    split: CreditSplit,
    mode: str,
    train_rows: np.ndarray,
    cfg: OldLrConfig = OldLrConfig(),
    *,
    eval_rows: np.ndarray | None = None,
    probe_rows: np.ndarray | None = None,
    seed: int = 0,
) -> OldRun:
    """Re-enact one old training run plus prediction of all aligned rows; see module docstring."""
    if mode not in ("paillier", "ckks"):
        raise ValueError("mode must be 'paillier' or 'ckks'")
    n = split.n_rows
    train = np.asarray(train_rows, dtype=np.int64)
    Zb, Zp, y = standardize(split.X_b, train), standardize(split.X_p, train), split.y
    alpha = 1.0 / (cfg.C * train.size) if cfg.penalty == "l2" else 0.0
    bank = _Block(Zb[train], cfg, alpha, intercept=True)
    plat = _Block(Zp[train], cfg, alpha, intercept=False)
    ckks = _CkksGradient() if mode == "ckks" else None
    rng = np.random.default_rng(seed)
    vectors: list[np.ndarray] = []
    aggregates: list[np.ndarray] = []
    index: list[int] = []
    residuals: list[np.ndarray] = []
    rates: list[float] = []
    snapshots: dict[int, np.ndarray] = {}
    best, best_epoch, no_improve, epoch = np.inf, -1, 0, 0
    for epoch in range(cfg.max_epochs):
        perm = train if cfg.batch_size >= train.size else rng.permutation(train)
        batches = [perm[s : s + cfg.batch_size] for s in range(0, perm.size, cfg.batch_size)]
        eta = cfg.rate(epoch)
        loss_sum, max_delta = 0.0, 0.0
        for rows in batches:
            u = Zp[rows] @ plat.weights  # 1. platform -> bank, in the clear
            index.append(len(vectors))
            vectors.append(_pad(n, rows, u))
            z = Zb[rows] @ bank.weights + bank.bias + u
            d = expit(z) - y[rows]
            residuals.append(_pad(n, rows, d))
            rates.append(eta)
            loss_sum += float(np.sum(np.logaddexp(0.0, z) - y[rows] * z))
            if ckks is not None:  # 2-3. enc(d) -> masked X_p^T d
                g_p, masked = ckks(Zp[rows], rows, d)
            else:
                g_p, masked = paillier_gradient(Zp[rows], d)
            g_b = np.append(Zb[rows].T @ d, d.sum())
            delta_b = bank.step(g_b / rows.size, eta)
            delta_p = plat.step(g_p / rows.size, eta)  # 4. platform unmasks and steps
            moved = float(np.abs(delta_p).max(initial=0.0))
            aggregates += [masked, g_b, np.array([moved])]
            max_delta = max(max_delta, float(np.abs(delta_b).max()), moved)
        snapshots[epoch] = plat.w.copy()
        monitor = loss_sum / train.size
        aggregates.append(np.array([monitor]))
        for asked, used in ((eval_rows, True), (probe_rows, False)):
            if asked is None or not len(asked):
                continue
            wx = Zp[asked] @ plat.weights  # eval: platform -> bank, in the clear
            vectors.append(_pad(n, asked, wx))
            if used:
                z = Zb[asked] @ bank.weights + bank.bias + wx
                monitor = float(np.mean(np.logaddexp(0.0, z) - y[asked] * z))
                aggregates.append(np.array([monitor]))
        if monitor < best - cfg.tol:
            best, best_epoch, no_improve = monitor, epoch, 0
        else:
            no_improve += 1
        if max_delta < cfg.tol or no_improve >= cfg.n_iter_no_change:
            break
    kept = best_epoch if (eval_rows is not None and len(eval_rows) and best_epoch >= 0) else epoch
    view = BankView(
        n_rows=n,
        train_rows=train,
        per_row_vectors=vectors,
        aggregates=aggregates,
        X_b=split.X_b,
        y=y,
        n_platform_features=Zp.shape[1],
        final_partial=Zp @ snapshots[kept],
        trace=TrainingTrace(
            vector_index=index,
            residuals=residuals,
            learning_rates=rates,
            alpha=alpha,
            optimizer=cfg.optimizer,
            momentum=cfg.beta if cfg.optimizer != "sgd" else 0.0,
        ),
        notes={"mode": mode, "epochs": epoch + 1, "batches_per_epoch": len(batches)},
    )
    return OldRun(view=view, design_p=Zp, X_p=split.X_p, epochs=epoch + 1, kept_epoch=kept)


@dataclass(frozen=True)
class Scenario:
    """The sizes of one measurement: aligned rows, training rows, validation rows."""

    n_rows: int
    n_train: int
    n_validation: int = 0
    batch_size: int = 4096
    seed: int = 0

    @classmethod
    def of(cls, quick: bool, **kwargs: int) -> Scenario:
        base = dict(n_rows=3000, n_train=2000) if quick else dict(n_rows=30000, n_train=24000)
        base.update(kwargs)
        return cls(**base)


def split_rows(sc: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training rows, validation rows, the other aligned rows) of a scenario."""
    perm = np.random.default_rng(sc.seed + 1).permutation(sc.n_rows)
    train = np.sort(perm[: sc.n_train])
    val = np.sort(perm[sc.n_train : sc.n_train + sc.n_validation])
    rest = np.sort(perm[sc.n_train + sc.n_validation :])
    return train, val, rest


@functools.lru_cache(maxsize=16)
def old_run(sc: Scenario, mode: str, probe_all: bool = False, optimizer: str = "sgd") -> OldRun:
    """A cached re-enacted run on default_credit (``probe_all``: the bank also asks ``eval``
    for every aligned row after every epoch)."""
    split = load_default_credit(sc.n_rows, sc.seed)
    train, val, _ = split_rows(sc)
    cfg = OldLrConfig(batch_size=sc.batch_size, optimizer=optimizer)
    probe = np.arange(sc.n_rows) if probe_all else None
    return run_old_flow(
        split,
        mode,
        train,
        cfg,
        eval_rows=val if len(val) else None,
        probe_rows=probe,
        seed=sc.seed,
    )
