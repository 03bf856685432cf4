"""The bank's training loop of vertical LR (shared by the LR and scorecard estimators).

Per epoch the training rows are cut into batches by the seed the platform drew at init
(:func:`~models.logreg.optim.batch_plan`; full batch keeps the training order). Per batch:

1. the platform has announced a coarse interval ``[lo, hi]`` of its partial scores of the
   batch (in the previous response);
2. ``terms``: the bank computes its partial scores ``a`` (its look-ahead weights and
   intercept) and the expansion coefficients of the residual on that interval
   (:mod:`models.logreg.separable`), and sends them encrypted with its feature products; the
   platform combines them with its basis values and features and returns the bank's output
   (the bank's gradient and ``sum d``) and its own output masked uniformly;
3. ``update``: the bank decrypts its output, hands back the platform's masked read-outs, steps
   its own weights; the platform unmasks its gradient, steps its weights and announces the next
   batch's interval.

Warm-up (``params.warmup_batches``, full-batch jobs): the first epoch is cut into several
seeded batches, the second into a quarter as many (each at least the platform's minimum batch),
then every epoch is one full batch; both parties clear their momentum with the warm-up's last
step (:func:`~models.logreg.optim.warmup_counts`).

Stopping: after ``max_epochs``, or when the joint log-odds moved by less than ``tol`` on
average over an epoch (converged: the bank's mean change of its partial scores plus the
platform's, which it reports as one number per batch). No per-row quantity is ever decrypted
(it would reveal partial scores). Validation rows are fixed at init (the platform counts them
in the model's population, so scoring them needs no consent). With
``params.validation_metrics`` the validation log-loss of the joint model at the end of every
epoch is computed as one private aggregate (:mod:`models.logreg.val_loss`: the bank encrypts
its coefficients, the platform sums them against its basis values, the bank decrypts the sum)
and reported as ``val_logloss`` in the epoch's history entry. It is not used to stop or to
pick an epoch. AUC and KS need the ranking of the rows, so they come once, from the final
model, by prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.crypto.wire import CipherArray
from models.errors import InvalidArgument
from models.federation.peer import PassivePeer
from models.logreg.he import ActiveCrypto
from models.logreg.messages import (
    LrFinalizeRequest,
    LrFinalizeResponse,
    LrInitRequest,
    LrInitResponse,
    LrTermsRequest,
    LrUpdateRequest,
    LrValLossRequest,
)
from models.logreg.model_io import ids_digest
from models.logreg.optim import (
    LrParams,
    Optimizer,
    batch_plan,
    ends_warmup,
    learning_rate,
    min_batch_rows,
    sigmoid_terms,
)
from models.logreg.separable import check_interval, residual_terms
from models.logreg.stub import LogRegStub
from models.logreg.val_loss import MIN_VALIDATION_ROWS, loss_coefficients, loss_terms_for


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
    #: The bank's weights (intercept last) at the end of each epoch.
    weights_by_epoch: dict[int, np.ndarray] = field(default_factory=dict)


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

    def _encrypted_terms(
        self, Xb: np.ndarray, y: np.ndarray, w: np.ndarray, lo: float, hi: float
    ) -> CipherArray:
        """The encrypted expansion terms of rows ``Xb`` at bank weights ``w`` on the interval
        the platform announced."""
        p = self.params
        lo, hi = check_interval(lo, hi)
        a = Xb @ (w[:-1] if p.fit_intercept else w) + (w[-1] if p.fit_intercept else 0.0)
        resid = residual_terms(a, y, lo, hi, sigmoid_terms(p), self.keys.basis)
        return self.keys.encrypt_terms(resid, Xb)

    def _val_logloss(
        self,
        epoch: int,
        Xb: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        interval: tuple[float, float],
    ) -> float:
        """The mean validation log-loss of the joint model at the end of ``epoch``: one private
        aggregate (see :mod:`models.logreg.val_loss`). ``Xb``, ``y``: the validation rows;
        ``w``: the bank's weights of the epoch; ``interval``: what the platform announced."""
        p = self.params
        lo, hi = check_interval(*interval)
        a = Xb @ (w[:-1] if p.fit_intercept else w) + (w[-1] if p.fit_intercept else 0.0)
        coef = loss_coefficients(a, y, lo, hi, loss_terms_for(p.mode))
        out = self.stub.val_loss(LrValLossRequest(epoch, self.keys.encrypt_loss_terms(coef)))
        if int(out.epoch) != epoch:
            raise InvalidArgument("the validation loss answers another epoch")
        return self.keys.read_loss(out.enc_loss, coef) / y.size

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
        callbacks: Sequence[Callable[[dict[str, Any]], None]] = (),
    ) -> TrainResult:
        """Train on ``train`` rows of the aligned table; ``Xb`` is the bank's design matrix
        for all aligned rows, ``y`` its labels (0/1). ``validation`` rows are fixed at init
        (the platform counts them in the model's population; they are not used in training).
        Each of ``callbacks`` is called with the history entry of every epoch as it ends (with
        ``val_logloss`` when ``params.validation_metrics``; AUC and KS come from the final
        model only, see docs/logreg.md)."""
        p = self.params
        train = np.asarray(train, dtype=np.int64)
        val = np.zeros(0, dtype=np.int64) if validation is None else np.asarray(validation)
        val = val.astype(np.int64)
        if p.validation_metrics and val.size < MIN_VALIDATION_ROWS:
            raise InvalidArgument(
                f"per-epoch validation metrics need at least {MIN_VALIDATION_ROWS} validation rows"
            )
        n_bank = int(Xb.shape[1])
        init = self.stub.init(
            LrInitRequest(
                model_id=model_id,
                n_rows=len(ids),
                ids_digest=ids_digest(ids),
                train_rows=train,
                params=p.to_params(),
                public_key=self.keys.public_bytes(),
                validation_rows=val,
                n_bank_features=n_bank,
            )
        )
        opt = Optimizer(n_bank, p, p.reg_strength(train.size), intercept=p.fit_intercept)
        if p.optimizer == "precond":
            opt.set_preconditioner(Xb[train])
        history: list[dict[str, Any]] = []
        snapshots: dict[int, np.ndarray] = {}
        converged = False
        lo, hi = init.lo, init.hi
        val_interval = (0.0, 0.0)
        n_platform = int(init.n_features)
        min_rows = min_batch_rows(p, train.size, n_bank, n_platform)
        # the encryption randomness of the next batch is precomputed by the helper process
        # while this process waits or runs serial code (docs/logreg.md 2.10)
        with self.keys.background_randomness(train.size, sigmoid_terms(p), n_bank):
            for epoch in range(p.max_epochs):
                t0 = time.perf_counter()
                sent0, recv0 = traffic(self.peer)
                batches = batch_plan(p, train, init.batch_seed, epoch, min_rows)
                eta = learning_rate(p, epoch)
                max_delta, change = 0.0, 0.0
                for b, rows in enumerate(batches):
                    enc = self._encrypted_terms(Xb[rows], y[rows], opt.lookahead(eta), lo, hi)
                    out = self.stub.terms(LrTermsRequest(epoch, b, enc))
                    mine = self.keys.decrypt_bank_output(out.enc_bank, n_bank)
                    masked = self.keys.decrypt_masked(out.enc_platform, n_platform)
                    g = mine.gradient
                    if p.fit_intercept:
                        g = np.append(g, mine.residual_sum)
                    delta = opt.step(g / rows.size, eta)
                    last = b == len(batches) - 1
                    if ends_warmup(p, train.size, min_rows, epoch, last):
                        opt.clear_momentum()
                    moved = Xb[rows] @ (delta[:-1] if p.fit_intercept else delta)
                    if p.fit_intercept:
                        moved = moved + delta[-1]
                    upd = self.stub.update(LrUpdateRequest(epoch, b, masked, end_of_epoch=last))
                    lo, hi = upd.lo, upd.hi
                    val_interval = (upd.val_lo, upd.val_hi)
                    max_delta = max(max_delta, float(np.abs(delta).max(initial=0.0)))
                    max_delta = max(max_delta, float(upd.max_abs_delta))
                    change += (float(np.mean(np.abs(moved))) + upd.mean_abs_change) * (
                        rows.size / train.size
                    )
                snapshots[epoch] = opt.w.copy()
                metrics: dict[str, float] = {}
                if p.validation_metrics:
                    metrics["val_logloss"] = self._val_logloss(
                        epoch, Xb[val], y[val], snapshots[epoch], val_interval
                    )
                sent1, recv1 = traffic(self.peer)
                history.append(
                    {
                        **metrics,
                        "epoch": epoch,
                        "learning_rate": eta,
                        "mean_abs_change": change,
                        "max_abs_delta": max_delta,
                        "batches": len(batches),
                        "seconds": time.perf_counter() - t0,
                        "bytes_sent": sent1 - sent0,
                        "bytes_received": recv1 - recv0,
                    }
                )
                for callback in callbacks:
                    callback(dict(history[-1]))
                if change < p.tol:
                    converged = True
                    break
        kept = history[-1]["epoch"]
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
            weights_by_epoch=snapshots,
        )
