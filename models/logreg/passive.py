"""The platform's half of vertical logistic regression (``algorithm = "logreg"``).

The platform keeps its weights ``w_p`` and never sends them. Per mini-batch it returns its
partial scores ``X_p w_p`` for the batch rows, computes its gradient block ``X_p^T enc(d)``
under the bank's key, masks it, and updates ``w_p`` from the unmasked gradient the bank
decrypted. It persists weights and optimiser state after every update under
``context.state_dir`` (a restarted node resumes the job), and saves its part of the model
under its models directory. It never sees a label, residual, bank feature or bank weight.

The design matrix is built by :meth:`LogRegPassive.design` (standardisation with training-row
statistics, missing values at the training mean); the scorecard party overrides it with WOE
values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from models.crypto.ckks_inner import matrix_digest
from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.federation.passive_env import models_dir, names_allowed, session_table
from models.logreg.he import MaskState, PassiveCrypto
from models.logreg.messages import (
    LrFinalizeRequest,
    LrFinalizeResponse,
    LrGradientRequest,
    LrGradientResponse,
    LrInitRequest,
    LrInitResponse,
    LrPredictRequest,
    LrPredictResponse,
    LrScoresRequest,
    LrScoresResponse,
    LrUpdateRequest,
    LrUpdateResponse,
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
from models.logreg.optim import LrParams, Optimizer, learning_rate
from models.logreg.transform import Standardizer

STATE_FILE = "logreg_state.json"
KEY_FILE = "logreg_public.bin"
STATE_VERSION = 1


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
        self.x_digest = b""
        self.train_mask = np.zeros(0, dtype=bool)
        self.opt: Optimizer | None = None
        self.snapshots: dict[int, list[float]] = {}
        self.applied: tuple[int, int] = (-1, -1)
        self.pending: tuple[int, int, np.ndarray] | None = None
        self.mask_state: MaskState | None = None
        self.transform_meta: dict[str, Any] = {}
        self._parts: dict[str, tuple[dict[str, Any], str]] = {}

    # ------------------------------------------------------------------ hooks
    def design(
        self, table: PartyTable, train: np.ndarray, params: LrParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The design matrix for all aligned rows and a JSON description of the transform."""
        std = Standardizer(standardize=params.standardize).fit(table.X[train])
        return std.transform(table.X), std.to_dict()

    def apply_transform(self, body: dict[str, Any], X: np.ndarray) -> np.ndarray:
        """Re-apply a saved transform (model part body) to raw platform features."""
        return Standardizer.from_dict(body["transform"]).transform(X)

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
            **fields,
        }
        digest = save_part(self.part_path(self.model_id), body)
        self._parts.pop(self.model_id, None)
        return digest

    # ------------------------------------------------------------------ training steps
    @handles
    def init(self, request: LrInitRequest) -> LrInitResponse:
        """Build the design matrix on the training rows; reload persisted weights on resume.

        Reveals to bank: see :class:`LrInitResponse`.
        """
        check_model_id(request.model_id)
        table = self._load()
        if request.n_rows != table.n_rows or request.ids_digest != ids_digest(table.ids):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        train = check_rows(request.train_rows, table.n_rows)
        if train.size == 0:
            raise InvalidArgument("there are no training rows")
        params = LrParams.from_params(dict(request.params))
        crypto = PassiveCrypto(params.mode, request.public_key, workers=self._workers)
        X, meta = self.design(table, train, params)
        opt = Optimizer(X.shape[1], params, params.reg_strength(train.size), intercept=False)
        if params.optimizer == "precond":
            opt.set_preconditioner(X[train])
        snapshots: dict[int, list[float]] = {}
        applied = (-1, -1)
        path = self._state_path()
        key_path = Path(self.context.state_dir) / KEY_FILE
        if path.exists():
            st = read_json(path)
            if st.get("model_id") != request.model_id:
                raise FailedPrecondition("this job id was used for another model")
            if not key_path.exists() or key_path.read_bytes() != request.public_key:
                raise FailedPrecondition("the job was started under another key")
            opt.load_state(st["optimizer"])
            snapshots = {int(k): list(v) for k, v in st["snapshots"].items()}
            applied = (int(st["applied"][0]), int(st["applied"][1]))
        else:
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(request.public_key)
        self.model_id = request.model_id
        self.params, self.crypto, self.opt = params, crypto, opt
        self.X = X
        self.x_digest = matrix_digest(X)
        self.train_mask = np.zeros(table.n_rows, dtype=bool)
        self.train_mask[train] = True
        self.transform_meta = meta
        self.snapshots, self.applied = snapshots, applied
        self.pending, self.mask_state = None, None
        self._persist()
        allow = names_allowed(self.context, table)
        return LrInitResponse(
            n_features=int(X.shape[1]),
            feature_names=self.feature_names() if allow else [],
            feature_groups=self.feature_groups(),
        )

    def feature_names(self) -> list[str]:
        return list(self._load().feature_names)

    def feature_groups(self) -> list[str]:
        return list(self._load().feature_groups)

    @handles
    def scores(self, request: LrScoresRequest) -> LrScoresResponse:
        """Partial scores ``X_p[rows] @ w_p`` at the current weights.

        Reveals to bank: see :class:`LrScoresResponse`.
        """
        _, opt, _ = self._require_ready()
        rows = check_rows(request.rows, self.X.shape[0])
        if request.purpose == "train":
            if not np.all(self.train_mask[rows]):
                raise InvalidArgument("a training batch holds rows outside the training set")
            self.pending = (int(request.epoch), int(request.batch), rows)
            self.mask_state = None
        elif request.purpose != "eval":
            raise InvalidArgument("purpose must be 'train' or 'eval'")
        return LrScoresResponse(
            epoch=request.epoch, batch=request.batch, scores=self.X[rows] @ opt.weights
        )

    def _require_pending(self, epoch: int, batch: int) -> np.ndarray:
        if self.pending is None or self.pending[:2] != (epoch, batch):
            raise FailedPrecondition("this step is not for the current batch")
        return self.pending[2]

    @handles
    def gradient(self, request: LrGradientRequest) -> LrGradientResponse:
        """Masked ``X_p[batch]^T enc(d)``.

        Reveals to bank: see :class:`LrGradientResponse`.
        """
        crypto, _, _ = self._require_ready()
        rows = self._require_pending(int(request.epoch), int(request.batch))
        key = hashlib.sha256(self.x_digest + np.ascontiguousarray(rows, "<i8").tobytes()).digest()
        enc, state = crypto.masked_gradient(self.X[rows], request.enc_residual, key=key)
        self.mask_state = state
        return LrGradientResponse(
            epoch=request.epoch, batch=request.batch, n_values=state.n_values, enc_masked=enc
        )

    @handles
    def update(self, request: LrUpdateRequest) -> LrUpdateResponse:
        """Unmask the gradient block and take one optimiser step on ``w_p``.

        Reveals to bank: see :class:`LrUpdateResponse`.
        """
        crypto, opt, params = self._require_ready()
        epoch, batch = int(request.epoch), int(request.batch)
        rows = self._require_pending(epoch, batch)
        if self.mask_state is None:
            raise FailedPrecondition("no masked gradient is outstanding for this batch")
        if (epoch, batch) <= self.applied:
            raise FailedPrecondition("this batch was already applied")
        sums = crypto.unmask(self.mask_state, list(request.masked_packed), request.masked_sums)
        delta = opt.step(sums / max(1, rows.size), learning_rate(params, epoch))
        self.applied = (epoch, batch)
        self.pending, self.mask_state = None, None
        if request.end_of_epoch:
            self.snapshots[epoch] = opt.weights.tolist()
        self._persist()
        return LrUpdateResponse(
            epoch=epoch, batch=batch, max_abs_delta=float(np.abs(delta).max(initial=0.0))
        )

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
            model_id=self.model_id, platform_digest=digest, n_features=len(weights)
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

    def partial_scores(self, body: dict[str, Any], X_raw: np.ndarray) -> np.ndarray:
        """``transform(X) @ w_p`` for raw platform rows (scorecards override for points)."""
        X = self.apply_transform(body, X_raw)
        return X @ np.asarray(body["weights"], dtype=np.float64)

    @handles
    def predict(self, request: LrPredictRequest) -> LrPredictResponse:
        """Encrypted partial scores of the listed rows under the bank's key.

        Reveals to bank: see :class:`LrPredictResponse`. Outside a PSI-aligned session every
        company needs its consent for this bank (``PassiveContext.check_use``).
        """
        check_model_id(request.model_id)
        body = self.load_part(request.model_id, request.platform_digest)
        if body.get("mode") != request.mode:
            raise InvalidArgument("the model was trained in another mode")
        table = self._load()
        rows = check_rows(request.rows, table.n_rows, unique=False)
        if request.ids_digest != ids_digest(table.ids[rows]):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        self.context.check_use(table.ids[rows])
        if list(body["source_feature_names"]) != list(table.feature_names):
            raise FailedPrecondition("the platform's features changed since training")
        crypto = PassiveCrypto(request.mode, request.public_key, workers=self._workers)
        scores = self.partial_scores(body, table.X[rows])
        enc, slot_bits, per_ct = crypto.encrypt_scores(scores)
        return LrPredictResponse(
            n_rows=int(rows.size),
            enc_scores=enc,
            slot_bits=slot_bits,
            slots_per_ciphertext=per_ct,
        )
