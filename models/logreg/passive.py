"""The platform's half of vertical logistic regression (``algorithm = "logreg"``).

The platform keeps its weights ``w_p`` on the platform and never sends them, nor a per-row
partial score during training. Per batch (rows drawn from the seed it chose at init) it
announces a coarse interval of its partial scores, combines the bank's encrypted expansion
terms with its own basis values and features (``models/logreg/{paillier,ckks}_terms.py``),
returns the bank's output and its own output masked uniformly, unmasks its gradient block from
what the bank hands back and steps ``w_p``. It persists weights and optimiser state after every
update under ``context.state_dir`` (a restarted node resumes the job), answers each batch's
terms once, and saves its part of the model (with the training population, for consent at
prediction) under its models directory. It never sees a label, residual, bank feature or bank
weight, nor the bank's gradient.

The design matrix is built by :meth:`LogRegPassive.design` (standardisation with training-row
statistics, missing values at the training mean); the scorecard party overrides it with WOE
values.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.federation.passive_env import models_dir, names_allowed, session_table
from models.logreg import separable, val_loss
from models.logreg.encoding import PLATFORM_PAD_MULTIPLE, CategoryEncoder, min_count_for
from models.logreg.he import MaskState, PassiveCrypto
from models.logreg.messages import (
    LrFinalizeRequest,
    LrFinalizeResponse,
    LrInitRequest,
    LrInitResponse,
    LrPredictRequest,
    LrPredictResponse,
    LrTermsRequest,
    LrTermsResponse,
    LrUpdateRequest,
    LrUpdateResponse,
    LrValLossRequest,
    LrValLossResponse,
)
from models.logreg.model_io import (
    FORMAT_VERSION,
    PLATFORM_FORMAT,
    check_model_id,
    ids_digest,
    load_part,
    read_json,
    save_part,
    write_json_atomic,
)
from models.logreg.optim import (
    LrParams,
    Optimizer,
    batch_plan,
    ends_warmup,
    learning_rate,
    min_batch_rows,
    sigmoid_terms,
)
from models.logreg.scoring import LinearPart
from models.logreg.transform import Standardizer
from models.part_signing import signature_fields
from models.population import SUFFIX as POPULATION_SUFFIX
from models.population import Population

STATE_FILE = "logreg_state.json"
KEY_FILE = "logreg_public.bin"
STATE_VERSION = 2
SEED_BYTES = 32


class PartialScorer(Protocol):
    """A saved platform part that computes partial scores of raw platform rows."""

    def partial(
        self, X: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class PendingBatch:
    """The batch the platform announced: its rows, interval and basis values."""

    epoch: int
    batch: int
    rows: np.ndarray
    lo: float
    hi: float
    psi: np.ndarray
    answered: bool = False


def rows_digest(rows: np.ndarray) -> str:
    """SHA-256 of row positions (the validation rows a job started with)."""
    return hashlib.sha256(np.asarray(rows, dtype="<i8").tobytes()).hexdigest()


def check_rows(rows: np.ndarray, n_rows: int, *, unique: bool = True) -> np.ndarray:
    out = np.asarray(rows, dtype=np.int64).reshape(-1)
    if out.size and (out.min() < 0 or out.max() >= n_rows):
        raise InvalidArgument("row positions are out of range")
    if unique and out.size and np.bincount(out, minlength=n_rows).max() > 1:
        raise InvalidArgument("row positions repeat")
    return out


@register_party
class LogRegPassive(PassiveParty):
    """Platform side of vertical LR: partial scores, masked encrypted gradient, own weights."""

    algorithm = "logreg"
    part_kind = "logreg"
    part_format = PLATFORM_FORMAT

    def __init__(self, context: PassiveContext) -> None:
        super().__init__(context)
        self._table: PartyTable | None = None
        self._workers: int | None = context.extras.get("workers")
        self.model_id = ""
        self.params: LrParams | None = None
        self.crypto: PassiveCrypto | None = None
        self.X = np.zeros((0, 0))
        self.train_rows = np.zeros(0, dtype=np.int64)
        self.val_rows = np.zeros(0, dtype=np.int64)
        self.n_bank = 0
        self.min_rows = 1  # the smallest batch of this job (set at init)
        self.batch_seed = b""
        self.opt: Optimizer | None = None
        self.snapshots: dict[int, list[float]] = {}
        self.applied: tuple[int, int] = (-1, -1)
        self.pending: PendingBatch | None = None
        self.mask_state: MaskState | None = None
        self.val_answered: set[int] = set()
        self.transform_meta: dict[str, Any] = {}
        self.encoder: CategoryEncoder | None = None
        self._parts: dict[str, tuple[dict[str, Any], str]] = {}
        self._populations: dict[str, Population] = {}

    # ------------------------------------------------------------------ hooks
    def design(
        self, table: PartyTable, train: np.ndarray, params: LrParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The design matrix for all aligned rows and a JSON description of the transform.

        The platform's categorical columns are one-hot encoded here, locally
        (:mod:`models.logreg.encoding`; padded to a multiple of ``PLATFORM_PAD_MULTIPLE``
        columns), then every column is standardised with training-row statistics.
        """
        enc = CategoryEncoder(
            "onehot",
            min_count_for(params.min_category_count, train.size),
            PLATFORM_PAD_MULTIPLE,
        ).fit(table.X, table.feature_names, table.categories, train)
        Z = enc.transform(table.X, table.categories)
        std = Standardizer(standardize=params.standardize).fit(Z[train])
        self.encoder = enc
        meta = std.to_dict()
        if enc.has_categories:
            meta["categorical"] = enc.to_dict()
        return std.transform(Z), meta

    def scoring_part(self, model_id: str) -> PartialScorer:
        """The saved part as the online scorer reads it: batch prediction and online scoring
        share one computation (:mod:`models.logreg.scoring`)."""
        return LinearPart.load(self.part_path(model_id))

    def part_extra(self) -> dict[str, Any]:
        """Extra fields for the platform part (subclasses add theirs)."""
        return {}

    # ------------------------------------------------------------------ helpers
    def _load(self) -> PartyTable:
        if self._table is None:
            self._table = session_table(self.context)
        return self._table

    def _state_path(self) -> Path:
        return Path(self.context.state_dir) / STATE_FILE

    def _persist(self) -> None:
        assert self.opt is not None
        write_json_atomic(
            self._state_path(),
            {
                "version": STATE_VERSION,
                "model_id": self.model_id,
                "applied": list(self.applied),
                "optimizer": self.opt.state(),
                "snapshots": {str(k): v for k, v in sorted(self.snapshots.items())},
                "batch_seed": self.batch_seed.hex(),
                "validation_digest": rows_digest(self.val_rows),
                "val_answered": sorted(self.val_answered),
            },
        )

    def _require_ready(self) -> tuple[PassiveCrypto, Optimizer, LrParams]:
        if self.crypto is None or self.opt is None or self.params is None:
            raise FailedPrecondition("the training session was not initialised")
        return self.crypto, self.opt, self.params

    def part_path(self, model_id: str) -> Path:
        check_model_id(model_id)
        return models_dir(self.context, self.part_kind) / f"{model_id}.json"

    def kept_weights(self, epoch: int, opt: Optimizer) -> np.ndarray:
        """The weights kept at the end of ``epoch``, or the current ones for ``-1``."""
        if epoch >= 0:
            if epoch not in self.snapshots:
                raise NotFound("no weights were kept for that epoch")
            return np.asarray(self.snapshots[int(epoch)], dtype=np.float64)
        return opt.weights.copy()

    def save_model_part(
        self, params: LrParams, epoch: int, weights: np.ndarray, fields: dict[str, Any]
    ) -> str:
        """Save the platform's part of ``self.model_id``; returns its digest.

        Parameters
        ----------
        params, epoch, weights:
            The training hyper-parameters, the epoch the weights were kept at (``-1``: the
            last update) and the weights.
        fields:
            What the part kind adds (its transform; a scorecard's points).
        """
        table = self._load()
        population = np.concatenate([self.train_rows, self.val_rows])
        pop_path = self.part_path(self.model_id).with_suffix(POPULATION_SUFFIX)
        pop_digest = Population.of(table.ids[population].tolist()).save(pop_path)
        body: dict[str, Any] = {
            "format": self.part_format,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "bank_party": self.context.caller.party,
            "dataset": self.context.spec.dataset,
            "mode": params.mode,
            "epoch": int(epoch),
            "feature_names": self.feature_names(),
            "feature_groups": self.feature_groups(),
            "source_feature_names": list(table.feature_names),
            "weights": weights.tolist(),
            "params": params.to_params(),
            "population_digest": pop_digest,
            **fields,
        }
        digest = save_part(self.part_path(self.model_id), body)
        self._parts.pop(self.model_id, None)
        self._populations.pop(self.model_id, None)
        return digest

    def population(self, model_id: str, body: dict[str, Any]) -> Population:
        """The companies the model was trained and validated on (consent-free at prediction)."""
        cached = self._populations.get(model_id)
        if cached is None:
            digest = str(body.get("population_digest", ""))
            path = self.part_path(model_id).with_suffix(POPULATION_SUFFIX)
            cached = Population.load(path, digest) if digest else Population.of([])
            self._populations[model_id] = cached
        return cached

    # ------------------------------------------------------------------ training steps
    @handles
    def init(self, request: LrInitRequest) -> LrInitResponse:
        """Build the design matrix on the training rows, draw the batch seed, announce the
        first batch; reload persisted weights on resume.

        Reveals to bank: see :class:`LrInitResponse`.
        """
        check_model_id(request.model_id)
        table = self._load()
        if request.n_rows != table.n_rows or request.ids_digest != ids_digest(table.ids):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        train = check_rows(request.train_rows, table.n_rows)
        val = check_rows(request.validation_rows, table.n_rows)
        if train.size == 0:
            raise InvalidArgument("there are no training rows")
        if np.intersect1d(train, val).size:
            raise InvalidArgument("validation rows overlap the training rows")
        params = LrParams.from_params(dict(request.params))
        if params.validation_metrics and val.size < val_loss.MIN_VALIDATION_ROWS:
            raise InvalidArgument(
                "per-epoch validation metrics need at least "
                f"{val_loss.MIN_VALIDATION_ROWS} validation rows"
            )
        n_bank = int(request.n_bank_features)
        if not 0 <= n_bank <= 4096:
            raise InvalidArgument("the number of bank features is out of range")
        crypto = PassiveCrypto(params.mode, request.public_key, workers=self._workers)
        crypto.check_training_key()
        X, meta = self.design(table, train, params)
        need = min_batch_rows(params, train.size, n_bank, X.shape[1])
        if 0 < params.batch_size < need:
            raise InvalidArgument(
                f"batches must hold at least {need} rows for this job (or use full batches)"
            )
        opt = Optimizer(X.shape[1], params, params.reg_strength(train.size), intercept=False)
        if params.optimizer == "precond":
            opt.set_preconditioner(X[train])
        snapshots: dict[int, list[float]] = {}
        applied = (-1, -1)
        val_answered: set[int] = set()
        seed = secrets.token_bytes(SEED_BYTES)
        path = self._state_path()
        key_path = Path(self.context.state_dir) / KEY_FILE
        if path.exists():
            st = read_json(path)
            if st.get("model_id") != request.model_id or st.get("version") != STATE_VERSION:
                raise FailedPrecondition("this job id was used for another model")
            if not key_path.exists() or key_path.read_bytes() != request.public_key:
                raise FailedPrecondition("the job was started under another key")
            opt.load_state(st["optimizer"])
            snapshots = {int(k): list(v) for k, v in st["snapshots"].items()}
            applied = (int(st["applied"][0]), int(st["applied"][1]))
            seed = bytes.fromhex(st["batch_seed"])
            if st.get("validation_digest", rows_digest(val)) != rows_digest(val):
                raise FailedPrecondition(
                    "the validation rows differ from those the job started with"
                )
            val_answered = {int(e) for e in st.get("val_answered", [])}
        else:
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(request.public_key)
        self.model_id = request.model_id
        self.params, self.crypto, self.opt = params, crypto, opt
        self.X = X
        self.train_rows, self.val_rows = train, val
        self.n_bank = n_bank
        self.min_rows = need
        self.batch_seed = seed
        self.transform_meta = meta
        self.snapshots, self.applied = snapshots, applied
        self.val_answered = val_answered
        self.pending, self.mask_state = None, None
        self._persist()
        lo, hi = self._announce(*self._next_batch(applied))
        allow = names_allowed(self.context, table)
        return LrInitResponse(
            n_features=int(X.shape[1]),
            feature_names=self.feature_names() if allow else [],
            feature_groups=self.feature_groups(),
            batch_seed=seed,
            lo=lo,
            hi=hi,
        )

    def feature_names(self) -> list[str]:
        """Names of the design columns (one-hot columns: ``<feature>#<k>``, never a category)."""
        if self.encoder is not None:
            return list(self.encoder.names_)
        return list(self._load().feature_names)

    def feature_groups(self) -> list[str]:
        """The group of each design column (its source feature's)."""
        groups = self._load().feature_groups
        if self.encoder is not None:
            return [groups[j] for j in self.encoder.sources_]
        return list(groups)

    def _plan(self, epoch: int) -> list[np.ndarray]:
        assert self.params is not None
        return batch_plan(self.params, self.train_rows, self.batch_seed, epoch, self.min_rows)

    def _next_batch(self, done: tuple[int, int]) -> tuple[int, int]:
        """The batch after ``done`` (``(-1, -1)``: none yet)."""
        epoch, batch = done
        if epoch < 0:
            return 0, 0
        if batch + 1 < len(self._plan(epoch)):
            return epoch, batch + 1
        return epoch + 1, 0

    def _basis(self, rows: np.ndarray, weights: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Interval and basis values of the platform's partial scores on ``rows``."""
        crypto, _, params = self._require_ready()
        u = self.X[rows] @ weights
        lo, hi = separable.coarse_interval(u)
        t = separable.normalised(u, lo, hi)
        return lo, hi, separable.psi(t, sigmoid_terms(params), crypto.basis)

    def _announce(self, epoch: int, batch: int) -> tuple[float, float]:
        """Prepare batch ``(epoch, batch)`` at the look-ahead weights; its interval, or zeros
        once every epoch is done."""
        _, opt, params = self._require_ready()
        if epoch >= params.max_epochs:
            self.pending = None
            return 0.0, 0.0
        rows = self._plan(epoch)[batch]
        weights = opt.lookahead(learning_rate(params, epoch))
        lo, hi, psi = self._basis(rows, weights)
        self.pending = PendingBatch(epoch, batch, rows, lo, hi, psi)
        return lo, hi

    def _require_pending(self, epoch: int, batch: int) -> PendingBatch:
        if self.pending is None or (self.pending.epoch, self.pending.batch) != (epoch, batch):
            raise FailedPrecondition("this step is not for the current batch")
        return self.pending

    @handles
    def terms(self, request: LrTermsRequest) -> LrTermsResponse:
        """Combine the bank's encrypted terms of the current batch with the platform's basis
        values and features; answered once per batch.

        Reveals to bank: see :class:`LrTermsResponse`.
        """
        crypto, _, _ = self._require_ready()
        pending = self._require_pending(int(request.epoch), int(request.batch))
        if pending.answered:
            raise FailedPrecondition("this batch's terms were already answered")
        bank, plat, state = crypto.combine(
            request.enc_terms, pending.psi, self.X[pending.rows], self.n_bank
        )
        pending.answered = True
        self.mask_state = state
        return LrTermsResponse(
            epoch=request.epoch,
            batch=request.batch,
            enc_bank=bank,
            enc_platform=plat,
        )

    @handles
    def update(self, request: LrUpdateRequest) -> LrUpdateResponse:
        """Unmask the gradient block, take one optimiser step on ``w_p``, announce the next
        batch.

        Reveals to bank: see :class:`LrUpdateResponse`.
        """
        crypto, opt, params = self._require_ready()
        epoch, batch = int(request.epoch), int(request.batch)
        pending = self._require_pending(epoch, batch)
        if self.mask_state is None or not pending.answered:
            raise FailedPrecondition("no masked gradient is outstanding for this batch")
        if (epoch, batch) <= self.applied:
            raise FailedPrecondition("this batch was already applied")
        end = batch == len(self._plan(epoch)) - 1
        if bool(request.end_of_epoch) != end:
            raise InvalidArgument("end_of_epoch does not match the batch plan")
        grad = crypto.unmask(self.mask_state, list(request.masked))
        delta = opt.step(grad / max(1, pending.rows.size), learning_rate(params, epoch))
        if ends_warmup(params, self.train_rows.size, self.min_rows, epoch, end):
            opt.clear_momentum()  # as the bank does (engine.py), persisted with the step
        self.applied = (epoch, batch)
        self.mask_state = None
        if end:
            self.snapshots[epoch] = opt.weights.tolist()
        self._persist()
        lo, hi = self._announce(*self._next_batch(self.applied))
        val_lo, val_hi = (0.0, 0.0)
        if end and params.validation_metrics:
            val_lo, val_hi = separable.coarse_interval(self.X[self.val_rows] @ opt.weights)
        return LrUpdateResponse(
            epoch=epoch,
            batch=batch,
            max_abs_delta=float(np.abs(delta).max(initial=0.0)),
            mean_abs_change=float(np.mean(np.abs(self.X[pending.rows] @ delta))),
            lo=lo,
            hi=hi,
            val_lo=val_lo,
            val_hi=val_hi,
        )

    @handles
    def val_loss(self, request: LrValLossRequest) -> LrValLossResponse:
        """The summed validation log-loss of the joint model at the end of a finished epoch,
        encrypted under the bank's key; answered once per epoch, only in a job that agreed to
        per-epoch validation metrics, on the validation rows fixed at init (at least
        :data:`~models.logreg.val_loss.MIN_VALIDATION_ROWS`).

        Reveals to bank: see :class:`LrValLossResponse`.
        """
        crypto, _, params = self._require_ready()
        if not params.validation_metrics:
            raise FailedPrecondition("per-epoch validation metrics were not agreed for this job")
        if self.val_rows.size < val_loss.MIN_VALIDATION_ROWS:
            raise FailedPrecondition("too few validation rows for per-epoch metrics")
        epoch = int(request.epoch)
        if epoch not in self.snapshots:
            raise FailedPrecondition("that epoch has not finished")
        if epoch in self.val_answered:
            raise FailedPrecondition("this epoch's validation loss was already answered")
        u = self.X[self.val_rows] @ np.asarray(self.snapshots[epoch], dtype=np.float64)
        lo, hi = separable.coarse_interval(u)
        basis = val_loss.loss_basis(u, lo, hi, val_loss.loss_terms_for(params.mode))
        out = crypto.combine_loss(request.enc_terms, basis)
        self.val_answered.add(epoch)
        self._persist()
        return LrValLossResponse(epoch=epoch, enc_loss=out)

    @handles
    def finalize(self, request: LrFinalizeRequest) -> LrFinalizeResponse:
        """Save the platform part with the weights of ``request.epoch`` (or the current ones
        for ``-1``). Reveals to bank: the part's digest."""
        _, opt, params = self._require_ready()
        check_model_id(request.model_id)
        if request.model_id != self.model_id:
            raise FailedPrecondition("finalize names another model")
        weights = self.kept_weights(int(request.epoch), opt)
        digest = self.save_model_part(
            params,
            int(request.epoch),
            weights,
            {"transform": self.transform_meta, **self.part_extra()},
        )
        return LrFinalizeResponse(
            model_id=self.model_id,
            platform_digest=digest,
            n_features=len(weights),
            **signature_fields(self.part_path(self.model_id)),
        )

    # ------------------------------------------------------------------ scoring
    def load_part(self, model_id: str, digest: str) -> dict[str, Any]:
        """A saved platform part, checked against the digest the bank holds and its owner."""
        cached = self._parts.get(model_id)
        if cached is None:
            try:
                cached = load_part(self.part_path(model_id), self.part_format)
            except NotFound:
                raise NotFound("no platform model part with that id") from None
            self._parts[model_id] = cached
        body, found = cached
        if found != digest:
            raise FailedPrecondition("the bank's model does not match the platform's part")
        if body.get("bank_party") != self.context.caller.party:
            raise PermissionDenied("the model belongs to another party")
        return body

    @handles
    def predict(self, request: LrPredictRequest) -> LrPredictResponse:
        """Encrypted partial scores of the listed rows under the bank's key.

        Reveals to bank: see :class:`LrPredictResponse`. A company outside the model's training
        population needs its consent for this bank, in any session
        (``PassiveContext.check_use``).
        """
        check_model_id(request.model_id)
        body = self.load_part(request.model_id, request.platform_digest)
        if body.get("mode") != request.mode:
            raise InvalidArgument("the model was trained in another mode")
        table = self._load()
        rows = check_rows(request.rows, table.n_rows, unique=False)
        if request.ids_digest != ids_digest(table.ids[rows]):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        ids = table.ids[rows].tolist()
        self.context.check_use(ids, self.population(request.model_id, body))
        if list(body["source_feature_names"]) != list(table.feature_names):
            raise FailedPrecondition("the platform's features changed since training")
        crypto = PassiveCrypto(request.mode, request.public_key, workers=self._workers)
        scores = self.scoring_part(request.model_id).partial(table.X[rows], table.categories)[0]
        enc, slot_bits, per_ct = crypto.encrypt_scores(scores)
        return LrPredictResponse(
            n_rows=int(rows.size),
            enc_scores=enc,
            slot_bits=slot_bits,
            slots_per_ciphertext=per_ct,
        )
