"""The bank's half of SecureBoost: :class:`SecureBoostClassifier`.

The bank holds the labels and the Paillier secret key, computes and encrypts the gradients,
chooses every split (its own and, among opaque candidates, the platform's) and keeps the tree
structure and leaf weights. See ``docs/secureboost.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.categorical import recode
from models.crypto.ckks_readout import ReadoutKey
from models.crypto.paillier import PaillierKeypair
from models.dataset import PartyTable
from models.errors import DataLoss, FedCreditError, InvalidArgument, NotFound
from models.estimator_params import FederatedEstimator
from models.federation.peer import PassivePeer
from models.federation.session import SessionSpec
from models.part_signing import verified_platform_signature
from models.secureboost.binning import QuantileBinner
from models.secureboost.checkpoint import Checkpoint
from models.secureboost.engine import (
    BoostEngine,
    BoostParams,
    BoostState,
    Callback,
    frac_bits_for,
)
from models.secureboost.federated import FederatedBackend
from models.secureboost.ghpack import GHLayout
from models.secureboost.hidden import HiddenBackend
from models.secureboost.loss import sigmoid
from models.secureboost.messages import SbFinalizeRequest, SbInitRequest
from models.secureboost.model_io import (
    BANK_FORMAT,
    FORMAT_VERSION,
    check_model_id,
    content_digest,
    ids_digest,
    load_part,
    save_part,
)
from models.secureboost.predict import SecurePredictor, new_prediction_key
from models.secureboost.privacy import DEFAULT_PRIVACY, STANDARD, privacy_record
from models.secureboost.stub import ALGORITHM, SecureBoostStub
from models.secureboost.tree import BANK, Tree

StopFlag = Callable[[], bool] | threading.Event | None

_PARAM_NAMES = (
    "n_estimators",
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "reg_lambda",
    "gamma",
    "n_bins",
    "subsample",
    "colsample_bytree",
    "goss",
    "top_rate",
    "other_rate",
    "early_stopping_rounds",
    "random_state",
    "privacy",
    "cat_smooth",
    "cat_l2",
    "max_cat_threshold",
    "min_data_per_group",
    "max_cat_to_onehot",
)


def _stop_check(flag: StopFlag) -> Callable[[], bool] | None:
    if flag is None:
        return None
    if isinstance(flag, threading.Event):
        return flag.is_set
    return flag


def _rows_digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()


class SecureBoostClassifier(FederatedEstimator):
    """Vertical SecureBoost binary classifier (bank side).

    Parameters
    ----------
    n_estimators, learning_rate, max_depth:
        Boosting rounds, shrinkage, depth of the level-wise trees (<= 15).
    min_child_weight, reg_lambda, gamma:
        Minimum hessian sum per child, L2 regularisation of leaf weights, minimum split gain.
    n_bins:
        Quantile bins per feature (plus one bin for missing values).
    subsample, colsample_bytree:
        Row and column sampling per tree.
    goss, top_rate, other_rate:
        Gradient-based one-side sampling instead of uniform row sampling.
    early_stopping_rounds:
        Stop when the validation AUC has not improved for this many trees (0: off; needs
        ``privacy = "standard"``, the only mode that scores validation rows after every tree).
    privacy:
        ``"hardened"`` (default), ``"strict"`` or ``"standard"``: what the platform and the bank
        may learn during training (:mod:`models.secureboost.privacy`, docs/secureboost.md).
        In ``hardened`` and ``strict`` the platform never receives a node's rows and adds noise
        to every histogram; validation rows are scored once, after training, by
        :meth:`decision_function`.
    cat_smooth, cat_l2, max_cat_threshold, min_data_per_group, max_cat_to_onehot:
        Categorical splits, as LightGBM's parameters of the same names
        (:mod:`models.secureboost.splitter`). A categorical feature is a string column (or one
        declared categorical) of either party, encoded by its owner.
    key_bits:
        Paillier key size (2048 in production; tests may use 1024).
    random_state:
        Seed of every random choice except the encryption randomness.
    chunk_size:
        Ciphertexts per gradient upload step.
    workers:
        Processes for encryption/decryption (None: the crypto layer decides).
    """

    def __init__(
        self,
        n_estimators: int = 50,
        learning_rate: float = 0.1,
        max_depth: int = 5,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        gamma: float = 0.0,
        n_bins: int = 32,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        goss: bool = False,
        top_rate: float = 0.2,
        other_rate: float = 0.1,
        early_stopping_rounds: int = 0,
        privacy: str = DEFAULT_PRIVACY,
        key_bits: int = 2048,
        random_state: int = 0,
        chunk_size: int = 8192,
        workers: int | None = None,
        cat_smooth: float = 10.0,
        cat_l2: float = 10.0,
        max_cat_threshold: int = 32,
        min_data_per_group: int = 100,
        max_cat_to_onehot: int = 4,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.gamma = gamma
        self.n_bins = n_bins
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.goss = goss
        self.top_rate = top_rate
        self.other_rate = other_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.privacy = privacy
        self.key_bits = key_bits
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.workers = workers
        self.cat_smooth = cat_smooth
        self.cat_l2 = cat_l2
        self.max_cat_threshold = max_cat_threshold
        self.min_data_per_group = min_data_per_group
        self.max_cat_to_onehot = max_cat_to_onehot

    def boost_params(self) -> BoostParams:
        return BoostParams(**{k: getattr(self, k) for k in _PARAM_NAMES})

    # ------------------------------------------------------------------ training
    def fit(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        rows: np.ndarray | None = None,
        validation_rows: np.ndarray | None = None,
        platform_dataset: str = "",
        checkpoint_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        should_stop: StopFlag = None,
        job_id: str = "sb",
        session_params: Mapping[str, str] | None = None,
    ) -> SecureBoostClassifier:
        """Train with the platform behind ``peer`` on rows aligned with ``bank_table``.

        Parameters
        ----------
        bank_table:
            The bank's aligned rows with labels ``y``; row ``i`` is the same company as the
            platform's aligned row ``i``.
        peer:
            Connection to the platform; ``fit`` opens (or resumes) the session of ``job_id``.
        rows, validation_rows:
            Positions of the training rows (default: all) and of the validation rows used for
            progress metrics and early stopping (default: none). In the hardened and strict
            modes validation rows are scored after training (``training_valid_raw_``), not per
            tree.
        checkpoint_dir:
            Where to checkpoint after each tree; re-running ``fit`` with the same ``job_id``
            resumes from the last completed tree.
        callbacks:
            Called after each tree with ``{tree, train_loss, val_auc, val_ks, seconds}``.
        should_stop:
            A callable or :class:`threading.Event` checked between trees and levels; when set,
            ``fit`` raises :class:`~models.errors.Cancelled` (the checkpoint stays valid).
        job_id:
            The session's job id; also the model id.
        platform_dataset, session_params:
            The platform dataset and extra session parameters (e.g. the PSI alignment).
        """
        params = self.boost_params()
        params.validate()
        check_model_id(job_id)
        if bank_table.y is None:
            raise InvalidArgument("the bank's table has no labels")
        n = bank_table.n_rows
        train = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        valid = (
            np.zeros(0, dtype=np.int64)
            if validation_rows is None
            else np.asarray(validation_rows, dtype=np.int64)
        )
        for part in (train, valid):
            if part.size and (part.min() < 0 or part.max() >= n):
                raise InvalidArgument("row positions are out of range")
        if train.size < 2 or np.unique(train).size != train.size:
            raise InvalidArgument("training rows must be at least two distinct positions")
        if np.intersect1d(train, valid).size:
            raise InvalidArgument("training and validation rows overlap")
        y = np.asarray(bank_table.y, dtype=np.float64)
        if not np.all((y[train] == 0) | (y[train] == 1)):
            raise InvalidArgument("labels must be 0 or 1")
        if np.unique(y[train]).size < 2:
            raise InvalidArgument("training rows must hold both classes")

        stop = _stop_check(should_stop)
        policy = params.policy
        frac_bits = frac_bits_for(train.size, params.max_row_weight)
        fingerprint = content_digest(
            {
                "params": params.to_dict(),
                "table": bank_table.digest(),
                "train": _rows_digest(train),
                "valid": _rows_digest(valid),
            }
        )
        ckpt = Checkpoint(Path(checkpoint_dir), job_id, fingerprint) if checkpoint_dir else None
        state: BoostState | None = ckpt.load() if ckpt is not None else None
        run = f"r{ckpt.run}" if ckpt is not None else f"x{secrets.token_hex(4)}"

        spec_params = {"n_bins": str(params.n_bins), **dict(session_params or {})}
        peer.open_session(SessionSpec(job_id, ALGORITHM, platform_dataset, spec_params))
        backend: FederatedBackend | None = None
        try:
            keypair = PaillierKeypair.generate(self.key_bits)
            pk = keypair.public_key
            layout = GHLayout.for_rows(
                train.size + policy.noise_margin_rows(),
                frac_bits,
                params.max_row_weight,
                pk.key_bits,
            )
            binner = QuantileBinner(params.n_bins).fit(
                bank_table.X[train], bank_table.categorical_mask()
            )
            bank_bins = binner.transform(bank_table.X)
            stub = SecureBoostStub(peer, run)
            info = stub.init(
                SbInitRequest(
                    model_id=job_id,
                    n_rows=n,
                    ids_digest=ids_digest(bank_table.ids),
                    train_rows=train.astype(np.int32),
                    n_bins=params.n_bins,
                    public_key=pk.to_bytes(),
                    slot_bits=layout.slot_bits,
                    slots_per_ciphertext=layout.slots_per_ciphertext,
                    completed_trees=0 if state is None else len(state.trees),
                    privacy=policy.mode,
                    frac_bits=frac_bits,
                    g_bits=layout.g_bits,
                    valid_rows=valid.astype(np.int32),
                )
            )
            if policy.hide_membership:
                backend = HiddenBackend(
                    stub,
                    keypair,
                    layout,
                    bank_bins,
                    binner,
                    info,
                    train,
                    policy,
                    chunk_size=self.chunk_size,
                    workers=self.workers,
                )
            else:
                backend = FederatedBackend(
                    stub,
                    keypair,
                    layout,
                    bank_bins,
                    binner,
                    info,
                    chunk_size=self.chunk_size,
                    workers=self.workers,
                )
            engine = BoostEngine(params, backend, y, train, valid)
            if state is None:
                state = engine.initial_state()
            state = engine.run(
                state,
                callbacks=callbacks,
                should_stop=stop,
                on_tree=None if ckpt is None else ckpt.save,
            )
            trees = engine.final_trees(state)
            trees_digest = content_digest([t.to_dict() for t in trees])
            fin = stub.finalize(
                SbFinalizeRequest(
                    model_id=job_id,
                    n_trees=len(trees),
                    trees_digest=trees_digest,
                )
            )
        finally:
            if backend is not None:
                backend.close()
            with contextlib.suppress(FedCreditError):
                peer.close_session("fit finished")

        self.model_id_ = job_id
        self.trees_ = trees
        self.base_score_ = state.base_score
        self.frac_bits_ = frac_bits
        self.best_iteration_ = len(trees) - 1
        self.n_trees_trained_ = len(state.trees)
        self.history_ = state.history
        self.training_valid_raw_ = state.raw_valid.copy()
        self.training_train_raw_ = state.raw_train.copy()
        self.bank_feature_names_ = list(bank_table.feature_names)
        self.bank_categories_ = {
            n: tuple(c) for n, c in bank_table.categories.items() if n in self.bank_feature_names_
        }
        self.n_platform_features_ = int(info.n_features)
        self.platform_feature_groups_ = list(info.feature_groups)
        self.platform_feature_names_ = list(info.feature_names)
        self.platform_party_ = peer.party
        self.platform_dataset_ = platform_dataset
        self.platform_digest_ = fin.platform_digest
        self.platform_signature_, self.platform_key_ = verified_platform_signature(fin)
        self.platform_n_splits_ = int(fin.n_splits)
        self.trees_digest_ = trees_digest
        assert backend is not None
        self.stats_ = dict(backend.stats)
        if not policy.routes_validation and valid.size:
            # scored once, by the model's own federated prediction (never routed per tree)
            t0 = time.perf_counter()
            self.training_valid_raw_ = self.decision_function(
                bank_table.take(valid),
                peer,
                platform_dataset=platform_dataset,
                session_params=session_params,
            )
            self.stats_["validation_predict_s"] = time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "trees_"):
            raise NotFound("the model is not fitted")

    def _bank_matrix(self, bank_table: PartyTable) -> np.ndarray:
        col = {name: j for j, name in enumerate(bank_table.feature_names)}
        missing = [f for f in self.bank_feature_names_ if f not in col]
        if missing:
            raise InvalidArgument("the bank table lacks features the model uses")
        X = bank_table.X[:, [col[f] for f in self.bank_feature_names_]].copy()
        trained = getattr(self, "bank_categories_", {})
        for j, name in enumerate(self.bank_feature_names_):
            if name in trained:
                current = bank_table.categories.get(name)
                if current is None:
                    raise InvalidArgument(
                        f"the model's categorical feature {name!r} is not categorical in the table"
                    )
                X[:, j] = recode(X[:, j], trained[name], current)
        return X

    def platform_split_ids(self) -> list[int]:
        self._check_fitted()
        return sorted(s for t in self.trees_ for s in t.platform_split_ids())

    def secure_predictor(self, key: ReadoutKey | None = None) -> SecurePredictor:
        """The bank's side of EINI prediction for this model (a fresh CKKS key by default)."""
        self._check_fitted()
        return SecurePredictor(self.trees_, self.base_score_, key or new_prediction_key())

    def decision_function(
        self,
        bank_table: PartyTable,
        peer: PassivePeer | None,
        *,
        rows: np.ndarray | None = None,
        platform_dataset: str | None = None,
        job_id: str | None = None,
        session_params: Mapping[str, str] | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Raw scores (log-odds) by federated EINI prediction for the companies of ``bank_table``.

        The bank encrypts, per company, the leaf values its own features select (CKKS); the
        platform selects with its own decisions and sums under encryption; the bank reads only
        each company's margin (see :mod:`models.secureboost.predict`), within
        ``secure_predictor().tolerance()`` of plaintext prediction. Companies outside the
        model's population need their scoring consent. ``peer`` may be None only if the model
        has no platform split. ``batch_size`` companies per step (an answer is about 22 KiB per
        company, and the platform's step cache keeps recent answers for retries).
        """
        self._check_fitted()
        if rows is not None:
            bank_table = bank_table.take(bank_table.row_positions(rows))
        X = self._bank_matrix(bank_table)
        predictor = self.secure_predictor()
        if not predictor.has_platform:
            return predictor.local_scores(X)
        if peer is None:
            raise InvalidArgument("the model has platform splits: a peer is required")
        jid = job_id or f"{self.model_id_}.predict.{secrets.token_hex(6)}"
        params = {"mode": "predict", "model_id": self.model_id_, **dict(session_params or {})}
        ds = self.platform_dataset_ if platform_dataset is None else platform_dataset
        peer.open_session(SessionSpec(jid, ALGORITHM, ds, params))
        try:
            stub = SecureBoostStub(peer, "p")
            return predictor.predict(
                stub.secure_predict,
                self.model_id_,
                self.platform_digest_,
                bank_table.ids,
                X,
                batch_size,
            )
        finally:
            with contextlib.suppress(FedCreditError):
                peer.close_session("prediction finished")

    def predict_proba(
        self, bank_table: PartyTable, peer: PassivePeer | None, **kwargs: Any
    ) -> np.ndarray:
        """Class probabilities, shape ``(n, 2)``, by federated prediction."""
        p = sigmoid(self.decision_function(bank_table, peer, **kwargs))
        return np.column_stack([1.0 - p, p])

    # ------------------------------------------------------------------ importance
    def _feature_label(self, owner: str, feature: int) -> str:
        if owner == BANK:
            return f"bank:{self.bank_feature_names_[feature]}"
        if self.platform_feature_names_:
            return f"platform:{self.platform_feature_names_[feature]}"
        # the bank knows each platform feature by index and group only (the index is in every
        # split it chose); one entry per feature, never a name the platform did not share
        return f"platform:{self.platform_feature_groups_[feature]}/f{feature}"

    def feature_importance(self, kind: str = "gain") -> dict[str, float]:
        """Split count (``"split"``) or total gain (``"gain"``) per feature.

        Bank features are named ``bank:<name>``; platform features ``platform:<group>/f<k>``
        (group and index ``k``), or ``platform:<name>`` where the platform allowed its names.
        """
        self._check_fitted()
        if kind not in ("gain", "split"):
            raise InvalidArgument("importance kind must be 'gain' or 'split'")
        out: dict[str, float] = {}
        for tree in self.trees_:
            for node in tree.split_nodes():
                key = self._feature_label(node.owner, node.feature)
                out[key] = out.get(key, 0.0) + (node.gain if kind == "gain" else 1.0)
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def feature_importances_(self) -> dict[str, float]:
        """Normalised total gain per feature label (sums to 1)."""
        gain = self.feature_importance("gain")
        total = sum(gain.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in gain.items()}

    # ------------------------------------------------------------------ persistence
    def _body(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "format": BANK_FORMAT,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id_,
            "objective": "binary:logistic",
            "base_score": self.base_score_,
            "frac_bits": self.frac_bits_,
            "params": {**self.boost_params().to_dict(), "key_bits": self.key_bits},
            "privacy": privacy_record(self.privacy),
            "bank_features": list(self.bank_feature_names_),
            "bank_categories": {n: list(c) for n, c in self.bank_categories_.items()},
            "platform": {
                "party": self.platform_party_,
                "dataset": self.platform_dataset_,
                "n_features": self.n_platform_features_,
                "feature_groups": list(self.platform_feature_groups_),
                "feature_names": list(self.platform_feature_names_),
                "digest": self.platform_digest_,
                "n_splits": self.platform_n_splits_,
            },
            "trees_digest": self.trees_digest_,
            "n_trees": len(self.trees_),
            "n_trees_trained": self.n_trees_trained_,
            "trees": [t.to_dict() for t in self.trees_],
            "importance": {
                "gain": self.feature_importance("gain"),
                "split": self.feature_importance("split"),
            },
            "history": self.history_,
        }

    def save_model(self, path: str | Path) -> str:
        """Write the bank part of the model (JSON, see docs/secureboost.md); returns its digest."""
        return save_part(Path(path), self._body())

    @classmethod
    def load_model(cls, path: str | Path) -> SecureBoostClassifier:
        """Read a bank part written by :meth:`save_model` (digest and tree digest checked)."""
        body, _digest = load_part(Path(path), BANK_FORMAT)
        try:
            params = dict(body["params"])
            params.setdefault("privacy", STANDARD)  # written before the privacy modes existed
            key_bits = int(params.pop("key_bits"))
            model = cls(**params, key_bits=key_bits)
            trees = [Tree.from_dict(t) for t in body["trees"]]
            plat = body["platform"]
            model.model_id_ = str(body["model_id"])
            model.trees_ = trees
            model.base_score_ = float(body["base_score"])
            model.frac_bits_ = int(body["frac_bits"])
            model.best_iteration_ = len(trees) - 1
            model.n_trees_trained_ = int(body["n_trees_trained"])
            model.history_ = [
                {k: (math.nan if v is None else v) for k, v in h.items()} for h in body["history"]
            ]
            model.bank_feature_names_ = [str(x) for x in body["bank_features"]]
            model.bank_categories_ = {
                str(n): tuple(str(c) for c in cs)
                for n, cs in body.get("bank_categories", {}).items()
            }
            model.n_platform_features_ = int(plat["n_features"])
            model.platform_feature_groups_ = [str(x) for x in plat["feature_groups"]]
            model.platform_feature_names_ = [str(x) for x in plat["feature_names"]]
            model.platform_party_ = str(plat["party"])
            model.platform_dataset_ = str(plat["dataset"])
            model.platform_digest_ = str(plat["digest"])
            model.platform_n_splits_ = int(plat["n_splits"])
            model.trees_digest_ = str(body["trees_digest"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataLoss("the bank model part is malformed") from exc
        if content_digest([t.to_dict() for t in trees]) != model.trees_digest_:
            raise DataLoss("the trees do not match their digest")
        return model
