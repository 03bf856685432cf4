"""The bank's training loop of vertical LR (shared by the LR and scorecard estimators).

Per epoch the training rows are shuffled (bank's seed) and cut into mini-batches (a single
batch of all rows keeps its order: the platform then reuses its encoded CKKS columns). Per
batch:

1. ``scores``: the platform returns ``wx_p`` for the batch rows;
2. the bank forms ``z = wx_b + b + wx_p`` and the residuals ``d = sigmoid(z) - y``;
3. ``gradient``: the bank sends ``enc(d)``; the platform returns ``X_p^T enc(d)`` masked;
4. ``update``: the bank decrypts the masked block and sends it back; the platform unmasks it
   and steps ``w_p``; the bank steps its own ``(w_b, b)`` with ``X_b^T d`` and ``sum d``.

Stopping: after ``max_epochs``; or when no weight of either party moved by more than ``tol``
in an epoch (converged); or when the monitored loss (validation loss if validation rows are
given, else the epoch's mean training loss) has not improved by ``tol`` for
``n_iter_no_change`` epochs (early stopping; with validation rows the best epoch is kept).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.errors import InvalidArgument
from models.federation.peer import PassivePeer
from models.logreg.he import ActiveCrypto
from models.logreg.messages import (
    LrFinalizeRequest,
    LrFinalizeResponse,
    LrGradientRequest,
    LrInitRequest,
    LrInitResponse,
    LrScoresRequest,
    LrUpdateRequest,
)
from models.logreg.model_io import ids_digest
from models.logreg.optim import LrParams, Optimizer, learning_rate, log_loss
from models.logreg.stub import LogRegStub
from models.numerics import sigmoid


def traffic(peer: Any) -> tuple[int, int]:
    """Bytes sent and received so far, if the peer (or a peer it wraps) counts them."""
    seen = 0
    while peer is not None and seen < 8:
        sent = getattr(peer, "bytes_sent", None)
        received = getattr(peer, "bytes_received", None)
        if isinstance(sent, int) and isinstance(received, int):
            return sent, received
        peer = getattr(peer, "inner", None)
        seen += 1
    return 0, 0


@dataclass
class TrainResult:
    """What the loop produced: the bank's weights, the platform's layout, the history."""

    coef: np.ndarray
    intercept: float
    init: LrInitResponse
    final: LrFinalizeResponse | None
    history: list[dict[str, Any]] = field(default_factory=list)
    kept_epoch: int = -1
    converged: bool = False
    stopped_early: bool = False


class LrTrainer:
    """Runs one vertical-LR training job over an open session."""

    def __init__(
        self,
        peer: PassivePeer,
        keys: ActiveCrypto,
        params: LrParams,
        *,
        prefix: str = "lr",
        random_state: int | None = None,
    ) -> None:
        params.validate()
        if keys.mode != params.mode:
            raise InvalidArgument("keys do not match the mode")
        self.peer = peer
        self.stub = LogRegStub(peer, prefix)
        self.keys = keys
        self.params = params
        self.rng = np.random.default_rng(random_state)

    def run(
        self,
        model_id: str,
        ids: np.ndarray,
        Xb: np.ndarray,
        y: np.ndarray,
        train: np.ndarray,
        validation: np.ndarray | None = None,
        *,
        finalize: bool = True,
    ) -> TrainResult:
        """Train on ``train`` rows of the aligned table; ``Xb`` is the bank's design matrix
        for all aligned rows, ``y`` its labels (0/1)."""
        p = self.params
        train = np.asarray(train, dtype=np.int64)
        val = None if validation is None else np.asarray(validation, dtype=np.int64)
        init = self.stub.init(
            LrInitRequest(
                model_id=model_id,
                n_rows=len(ids),
                ids_digest=ids_digest(ids),
                train_rows=train,
                params=p.to_params(),
                public_key=self.keys.public_bytes(),
            )
        )
        opt = Optimizer(Xb.shape[1], p, p.reg_strength(train.size), intercept=p.fit_intercept)
        if p.optimizer == "precond":
            opt.set_preconditioner(Xb[train])
        history: list[dict[str, Any]] = []
        snapshots: dict[int, np.ndarray] = {}
        best_loss, best_epoch, no_improve = np.inf, -1, 0
        converged = stopped = False
        for epoch in range(p.max_epochs):
            t0 = time.perf_counter()
            sent0, recv0 = traffic(self.peer)
            # One batch of all rows: the order does not change the gradient, and a fixed
            # order lets the platform reuse its encoded CKKS plaintext columns.
            perm = train if p.batch_size >= train.size else self.rng.permutation(train)
            batches = [perm[s : s + p.batch_size] for s in range(0, perm.size, p.batch_size)]
            eta = learning_rate(p, epoch)
            loss_sum, max_delta = 0.0, 0.0
            for b, rows in enumerate(batches):
                scores = self.stub.scores(LrScoresRequest(epoch, b, rows, "train")).scores
                z = Xb[rows] @ opt.weights + opt.bias + scores
                d = sigmoid(z) - y[rows]
                loss_sum += log_loss(y[rows], z) * rows.size
                grad = self.stub.gradient(
                    LrGradientRequest(epoch, b, self.keys.encrypt_residual(d))
                )
                packed, sums = self.keys.decrypt_masked(grad.enc_masked, grad.n_values)
                g = Xb[rows].T @ d
                if p.fit_intercept:
                    g = np.append(g, d.sum())
                delta = opt.step(g / rows.size, eta)
                upd = self.stub.update(
                    LrUpdateRequest(epoch, b, packed, sums, end_of_epoch=b == len(batches) - 1)
                )
                max_delta = max(max_delta, float(np.abs(delta).max(initial=0.0)))
                max_delta = max(max_delta, float(upd.max_abs_delta))
            snapshots[epoch] = opt.w.copy()
            sent1, recv1 = traffic(self.peer)
            record: dict[str, Any] = {
                "epoch": epoch,
                "learning_rate": eta,
                "train_loss": loss_sum / max(1, train.size),
                "max_abs_delta": max_delta,
                "seconds": time.perf_counter() - t0,
                "bytes_sent": sent1 - sent0,
                "bytes_received": recv1 - recv0,
                "batches": len(batches),
            }
            monitor = record["train_loss"]
            if val is not None and val.size:
                wx = self.stub.scores(LrScoresRequest(epoch, -1, val, "eval")).scores
                record["val_loss"] = log_loss(y[val], Xb[val] @ opt.weights + opt.bias + wx)
                monitor = record["val_loss"]
            history.append(record)
            if monitor < best_loss - p.tol:
                best_loss, best_epoch, no_improve = monitor, epoch, 0
            else:
                no_improve += 1
            if max_delta < p.tol:
                converged = True
                break
            if no_improve >= p.n_iter_no_change:
                stopped = True
                break
        last = history[-1]["epoch"]
        kept = best_epoch if (val is not None and val.size and best_epoch >= 0) else last
        w = snapshots[kept]
        final = (
            self.stub.finalize(LrFinalizeRequest(model_id=model_id, epoch=kept))
            if finalize
            else None
        )
        coef = w[:-1] if p.fit_intercept else w
        intercept = float(w[-1]) if p.fit_intercept else 0.0
        return TrainResult(
            coef=np.asarray(coef, dtype=np.float64),
            intercept=intercept,
            init=init,
            final=final,
            history=history,
            kept_epoch=int(kept),
            converged=converged,
            stopped_early=stopped,
        )
