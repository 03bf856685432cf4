"""The bank's estimator for vertical logistic regression (two parties, no arbiter).

Usage::

    model = FederatedLogisticRegression(mode="ckks", C=1.0, max_epochs=10, random_state=0)
    model.fit(bank_table, peer, rows=train_rows)          # bank_table: aligned, with labels
    proba = model.predict_proba(bank_table, peer, rows=test_rows)
    model.save(path)                                      # the bank's part only

``bank_table`` is the bank's :class:`~models.dataset.PartyTable` aligned (same row order) with
the platform's table for the session's dataset; ``rows`` select training / scoring rows of it.
The platform's weights never leave the platform; see ``docs/logreg.md``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument
from models.estimator_params import FederatedEstimator
from models.federation.peer import PassivePeer
from models.logreg.bank_model import LinearBankModel
from models.logreg.encoding import CategoryEncoder, min_count_for
from models.logreg.engine import LrTrainer
from models.logreg.he import ActiveCrypto
from models.logreg.model_io import BANK_FORMAT, check_model_id, load_part
from models.logreg.optim import DEFAULT_WARMUP_BATCHES, LrParams, default_momentum
from models.logreg.partial_scores import PREDICT_CHUNK
from models.logreg.sessions import model_session_spec
from models.logreg.transform import Standardizer
from models.logreg.val_loss import with_validation_metrics
from models.numerics import sigmoid
from models.part_signing import verified_platform_signature

__all__ = ["PREDICT_CHUNK", "FederatedLogisticRegression"]


def _rows(table: PartyTable, rows: np.ndarray | None) -> np.ndarray:
    out = table.row_positions(rows)
    if out.size and (out.min() < 0 or out.max() >= table.n_rows):
        raise InvalidArgument("row positions are out of range")
    return out


class FederatedLogisticRegression(FederatedEstimator, LinearBankModel):
    """Vertical logistic regression between the bank (labels, key) and the platform.

    Parameters
    ----------
    mode:
        ``"paillier"`` (exact fixed-point arithmetic) or ``"ckks"`` (approximate, batched).
    penalty, C, alpha:
        ``"l2"``, ``"l1"`` or ``"none"``; strength as scikit-learn's ``C``
        (``alpha = 1 / (C n_train)``) unless ``alpha`` is given.
    learning_rate, schedule, decay, step_epochs, optimizer, momentum, nesterov:
        Initial learning rate and its schedule (see :class:`~models.logreg.optim.LrParams`);
        optimiser ``"sgd"``, ``"momentum"``, ``"adam"`` or ``"precond"`` (block-preconditioned,
        see :mod:`models.logreg.optim`; the default); ``momentum`` defaults to 0.3 for
        ``precond`` and 0.9 for ``momentum``, with Nesterov's look-ahead unless ``nesterov``
        is false.
    batch_size, max_epochs, tol:
        Mini-batch size (0: full batch, the default; otherwise at least the platform's minimum,
        see :func:`~models.logreg.optim.min_batch_rows`), epoch limit and convergence (the joint
        log-odds moved by less than ``tol`` on average over an epoch; see
        :mod:`models.logreg.engine`).
    warmup_batches:
        Full-batch jobs: the first epoch runs in this many seeded batches, the second in a
        quarter as many (each at least the platform's minimum batch), then full batches; the
        momentum is cleared when the warm-up ends (:func:`~models.logreg.optim.warmup_counts`;
        0: none). The default, 12, halves the epochs to convergence (docs/logreg.md 2.6).
    sigmoid_terms:
        Terms of the separable expansion of the sigmoid (0: 3 for Paillier, 8 for CKKS; see
        :mod:`models.logreg.separable`).
    fit_intercept, standardize:
        Intercept on the bank's side; per-party standardisation with training statistics.
    validation_metrics_per_epoch:
        Compute the validation log-loss of the joint model after every epoch (history key
        ``val_logloss``) as one private aggregate (see :mod:`models.logreg.val_loss`); only
        when ``fit`` gets at least 50 validation rows. Default (none): on in CKKS mode, off in
        Paillier mode (~40% more per epoch with a fifth of the rows held out). AUC and KS come
        from the final model.
    categorical_encoding, min_category_count:
        How each party encodes its own categorical columns, locally (see
        :mod:`models.logreg.encoding`): the bank ``"onehot"`` (default) or ``"woe"`` (from its
        own labels); the platform always one-hot (it has no labels). Categories with fewer
        than ``min_category_count`` training rows (0: 1% of them) go to an ``other`` column,
        as do categories unseen in training at scoring; missing values have their own column.
    key_bits:
        Paillier key size (2048 by default; 1024 only in tests).
    random_state:
        Not used by training (the platform draws the seed of the batches so that the bank
        cannot choose them); accepted for scikit-learn compatibility.
    """

    algorithm = "logreg"

    def __init__(
        self,
        mode: str = "paillier",
        penalty: str = "l2",
        C: float = 1.0,
        alpha: float | None = None,
        learning_rate: float = 1.0,
        schedule: str = "constant",
        decay: float = 0.05,
        step_epochs: int = 5,
        optimizer: str = "precond",
        momentum: float | None = None,
        nesterov: bool = True,
        batch_size: int = 0,
        warmup_batches: int = DEFAULT_WARMUP_BATCHES,
        max_epochs: int = 20,
        tol: float = 1e-2,
        fit_intercept: bool = True,
        standardize: bool = True,
        sigmoid_terms: int = 0,
        validation_metrics_per_epoch: bool | None = None,
        categorical_encoding: str = "onehot",
        min_category_count: int = 0,
        key_bits: int = 2048,
        random_state: int | None = None,
    ) -> None:
        self.mode = mode
        self.penalty = penalty
        self.C = C
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.decay = decay
        self.step_epochs = step_epochs
        self.optimizer = optimizer
        self.momentum = momentum
        self.nesterov = nesterov
        self.batch_size = batch_size
        self.warmup_batches = warmup_batches
        self.max_epochs = max_epochs
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.sigmoid_terms = sigmoid_terms
        self.validation_metrics_per_epoch = validation_metrics_per_epoch
        self.categorical_encoding = categorical_encoding
        self.min_category_count = min_category_count
        self.key_bits = key_bits
        self.random_state = random_state

    # ------------------------------------------------------------------ hyper-parameters
    def resolved_momentum(self) -> float:
        """``momentum``, or its default: 0.3 for ``precond``, 0.9 otherwise."""
        if self.momentum is not None:
            return float(self.momentum)
        return default_momentum(self.optimizer)

    def lr_params(self) -> LrParams:
        try:
            out = self._lr_params()
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgument("a hyper-parameter has the wrong type") from None
        out.validate()
        return out

    def _lr_params(self) -> LrParams:
        return LrParams(
            mode=self.mode,
            penalty=self.penalty,
            C=float(self.C),
            alpha=-1.0 if self.alpha is None else float(self.alpha),
            learning_rate=float(self.learning_rate),
            schedule=self.schedule,
            decay=float(self.decay),
            step_epochs=int(self.step_epochs),
            optimizer=self.optimizer,
            momentum=self.resolved_momentum(),
            batch_size=int(self.batch_size),
            warmup_batches=int(self.warmup_batches),
            max_epochs=int(self.max_epochs),
            tol=float(self.tol),
            fit_intercept=bool(self.fit_intercept),
            standardize=bool(self.standardize),
            nesterov=bool(self.nesterov),
            sigmoid_terms=int(self.sigmoid_terms),
            min_category_count=int(self.min_category_count),
        )

    # ------------------------------------------------------------------ training
    def fit(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        rows: np.ndarray | None = None,
        validation_rows: np.ndarray | None = None,
        platform_dataset: str = "",
        job_id: str | None = None,
        model_id: str | None = None,
        keys: ActiveCrypto | None = None,
        session_params: Mapping[str, str] | None = None,
        callbacks: Sequence[Callable[[dict[str, Any]], None]] = (),
    ) -> FederatedLogisticRegression:
        """Train with the platform over ``peer`` (opens and closes one session).

        ``session_params`` go to the platform with the session (e.g. the catalogue categories
        and as-of date its data provider needs); they are kept for scoring sessions.
        """
        params = self.lr_params()
        if bank_table.y is None:
            raise InvalidArgument("the bank's table has no labels")
        y = np.asarray(bank_table.y, dtype=np.float64)
        if not np.all((y == 0) | (y == 1)):
            raise InvalidArgument("labels must be 0 or 1")
        train = _rows(bank_table, rows)
        val = None if validation_rows is None else _rows(bank_table, validation_rows)
        if train.size == 0 or np.unique(y[train]).size < 2:
            raise InvalidArgument("training rows must hold both classes")
        params = with_validation_metrics(params, self.validation_metrics_per_epoch, val)
        model_id = model_id or f"lr-{secrets.token_hex(8)}"
        check_model_id(model_id)
        keys = keys or ActiveCrypto.generate(params.mode, self.key_bits)
        if keys.mode != params.mode:
            raise InvalidArgument("keys do not match the mode")
        enc = CategoryEncoder(
            str(self.categorical_encoding), min_count_for(params.min_category_count, train.size)
        ).fit(bank_table.X, bank_table.feature_names, bank_table.categories, train, y)
        Ze = enc.transform(bank_table.X, bank_table.categories)
        std = Standardizer(params.standardize).fit(Ze[train])
        Xb = std.transform(Ze)
        spec = model_session_spec(
            job_id=job_id or model_id,
            algorithm=self.algorithm,
            dataset=platform_dataset,
            session_params=session_params,
            model_id=model_id,
            purpose="train",
        )
        peer.open_session(spec)
        try:
            result = LrTrainer(peer, keys, params, random_state=self.random_state).run(
                model_id, bank_table.ids, Xb, y, train, val, callbacks=callbacks
            )
        finally:
            peer.close_session("training finished")
        self.model_id_ = model_id
        self.platform_dataset_ = platform_dataset
        self.session_params_ = dict(session_params or {})
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.transform_ = std
        self.encoder_ = enc
        self.bank_categories_ = {
            n: tuple(c) for n, c in bank_table.categories.items() if n in bank_table.feature_names
        }
        self.feature_names_in_ = list(bank_table.feature_names)
        assert result.final is not None
        self.platform_digest_ = result.final.platform_digest
        self.platform_signature_, self.platform_key_ = verified_platform_signature(result.final)
        self.n_platform_features_ = int(result.init.n_features)
        self.platform_feature_names_ = list(result.init.feature_names)
        self.platform_feature_groups_ = list(result.init.feature_groups)
        self.history_ = result.history
        self.n_epochs_ = len(result.history)
        self.kept_epoch_ = result.kept_epoch
        self.converged_ = result.converged
        self.keys_ = keys
        return self

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise FailedPrecondition("the model is not fitted")

    def platform_scores(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        rows: np.ndarray,
        *,
        platform_dataset: str | None = None,
        job_id: str | None = None,
    ) -> np.ndarray:
        """The platform's partial log-odds of ``rows``, received encrypted and decrypted."""
        self._check_fitted()
        dataset = self.platform_dataset_ if platform_dataset is None else platform_dataset
        return self.platform_part_scores(bank_table, peer, rows, dataset=dataset, job_id=job_id)

    def decision_function(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        rows: np.ndarray | None = None,
        platform_dataset: str | None = None,
    ) -> np.ndarray:
        """Joint log-odds ``wx_b + b + wx_p`` for ``rows`` (default: all)."""
        self._check_fitted()
        sel = _rows(bank_table, rows)
        if list(bank_table.feature_names) != self.feature_names_in_:
            raise InvalidArgument("the bank's features differ from those seen in fit")
        wx_p = self.platform_scores(bank_table, peer, sel, platform_dataset=platform_dataset)
        Xb = self.bank_design(bank_table.X[sel], bank_table.categories)
        return np.asarray(Xb @ self.coef_ + self.intercept_ + wx_p)

    def predict_proba(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        rows: np.ndarray | None = None,
        platform_dataset: str | None = None,
    ) -> np.ndarray:
        """Class probabilities, shape (n, 2)."""
        p = sigmoid(
            self.decision_function(bank_table, peer, rows=rows, platform_dataset=platform_dataset)
        )
        return np.column_stack([1.0 - p, p])

    def bank_design(
        self, X: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> np.ndarray:
        """The bank's design rows of raw bank rows ``X`` (codes under ``categories``; default:
        the training table's): categorical encoding, then standardisation."""
        self._check_fitted()
        cats = self.bank_categories_ if categories is None else categories
        return np.asarray(self.transform_.transform(self.encoder_.transform(X, cats)))

    def design_names(self) -> list[str]:
        """One name per bank weight (one-hot columns ``<feature>#<k>``)."""
        self._check_fitted()
        return list(self.encoder_.names_)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The bank's part (no key material, no platform weights)."""
        self._check_fitted()
        return {
            **self.common_part(BANK_FORMAT),
            "params": self.get_params(),
            "transform": self.transform_.to_dict(),
            **(
                {
                    "categorical": self.encoder_.to_dict(),
                    "bank_categories": {n: list(c) for n, c in self.bank_categories_.items()},
                }
                if self.encoder_.has_categories
                else {}
            ),
            "n_platform_features": self.n_platform_features_,
            "platform_feature_names": self.platform_feature_names_,
            "platform_feature_groups": self.platform_feature_groups_,
            "kept_epoch": self.kept_epoch_,
        }

    @classmethod
    def load(cls, path: Path) -> FederatedLogisticRegression:
        body, _ = load_part(Path(path), BANK_FORMAT)
        model = cls(**body["params"])
        model.restore_common_part(body)
        model.transform_ = Standardizer.from_dict(body["transform"])
        coding = body.get("categorical")
        model.encoder_ = (
            CategoryEncoder.identity(model.feature_names_in_)
            if coding is None
            else CategoryEncoder.from_dict(coding)
        )
        model.bank_categories_ = {
            str(n): tuple(str(x) for x in c) for n, c in body.get("bank_categories", {}).items()
        }
        model.n_platform_features_ = int(body["n_platform_features"])
        model.platform_feature_names_ = list(body["platform_feature_names"])
        model.platform_feature_groups_ = list(body["platform_feature_groups"])
        model.kept_epoch_ = int(body["kept_epoch"])
        model.n_epochs_ = len(model.history_)
        return model
