"""The bank's federated scorecard: binning -> WOE/IV -> selection -> WOE LR -> points.

One ``scorecard`` session with the platform::

    card = FederatedScorecard(binning_method="optimal", iv_threshold=0.02, mode="paillier")
    card.fit(bank_table, peer, rows=train_rows)
    scores = card.points(bank_table, peer, rows=test_rows)  # assembled at scoring time
    card.points_table()                                     # the bank's part of the table

The platform keeps the cut points, WOE tables, weights and points of its features; at scoring
time it returns each row's platform points sum encrypted under the bank's key, and the bank
adds its base points and its own features' points.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.binning.active import BinningStub, FederatedBinning
from models.binning.transform import WoeTransform, by_index
from models.crypto.paillier import PaillierKeypair
from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument
from models.estimator_params import FederatedEstimator
from models.federation.peer import PassivePeer
from models.logreg.bank_model import LinearBankModel
from models.logreg.engine import LrTrainer
from models.logreg.he import ActiveCrypto
from models.logreg.messages import LrScorecardRequest
from models.logreg.model_io import SCORECARD_BANK_FORMAT, check_model_id, load_part
from models.logreg.optim import DEFAULT_WARMUP_BATCHES, LrParams, default_momentum
from models.logreg.sessions import model_session_spec
from models.logreg.val_loss import with_validation_metrics
from models.numerics import sigmoid
from models.part_signing import verified_platform_signature
from models.scorecard.points import ScoreScaling, points_table, sum_points


class FederatedScorecard(FederatedEstimator, LinearBankModel):
    """Credit scorecard trained with the platform (see module docstring).

    Binning: ``binning_method`` (``quantile``, ``equal_width``, ``optimal``), ``n_bins``,
    ``max_bins``, ``min_bin_fraction``. Selection: ``iv_threshold`` and/or ``top_k`` over both
    parties' features. LR on WOE values: ``mode``, ``penalty``, ``C``, ``optimizer``,
    ``learning_rate``, ``schedule``, ``batch_size``, ``warmup_batches``, ``max_epochs``,
    ``tol``. Scaling: ``base_score`` at ``base_odds`` (good:bad), ``pdo``, ``round_points``.
    Privacy of the platform's per-bin counts: ``dp_epsilon`` (``None``: exact counts; see
    :class:`~models.binning.active.FederatedBinning`); what the platform applied is kept in
    ``binning_dp_`` and in the bank's part. ``validation_metrics_per_epoch``: the validation
    log-loss after every epoch (``val_logloss``), one private aggregate, with at least 50
    validation rows (see :mod:`models.logreg.val_loss`); default: on in CKKS mode, off in
    Paillier mode.
    ``binning_dp_`` and in the bank's part. Categorical columns (both parties', each encoded
    by its owner) are binned by category: ``min_category_count`` (0: 1% of the training rows)
    sets which categories get their own bin; the others, and categories unseen at scoring,
    share an ``other`` bin; missing values their own.
    """

    algorithm = "scorecard"

    def __init__(
        self,
        binning_method: str = "optimal",
        n_bins: int = 20,
        max_bins: int = 6,
        min_bin_fraction: float = 0.05,
        iv_threshold: float | None = 0.02,
        top_k: int | None = None,
        mode: str = "paillier",
        penalty: str = "l2",
        C: float = 1.0,
        optimizer: str = "precond",
        learning_rate: float = 1.0,
        schedule: str = "constant",
        batch_size: int = 0,
        warmup_batches: int = DEFAULT_WARMUP_BATCHES,
        max_epochs: int = 15,
        tol: float = 1e-2,
        base_score: float = 600.0,
        pdo: float = 20.0,
        base_odds: float = 50.0,
        round_points: bool = False,
        key_bits: int = 2048,
        random_state: int | None = None,
        dp_epsilon: float | None = None,
        validation_metrics_per_epoch: bool | None = None,
        min_category_count: int = 0,
    ) -> None:
        self.binning_method = binning_method
        self.n_bins = n_bins
        self.max_bins = max_bins
        self.min_bin_fraction = min_bin_fraction
        self.iv_threshold = iv_threshold
        self.top_k = top_k
        self.mode = mode
        self.penalty = penalty
        self.C = C
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.warmup_batches = warmup_batches
        self.max_epochs = max_epochs
        self.tol = tol
        self.base_score = base_score
        self.pdo = pdo
        self.base_odds = base_odds
        self.round_points = round_points
        self.key_bits = key_bits
        self.random_state = random_state
        self.dp_epsilon = dp_epsilon
        self.validation_metrics_per_epoch = validation_metrics_per_epoch
        self.min_category_count = min_category_count

    def scaling(self) -> ScoreScaling:
        return ScoreScaling(self.base_score, self.pdo, self.base_odds, self.round_points)

    def lr_params(self, n_train: int) -> LrParams:
        out = LrParams(
            mode=self.mode,
            penalty=self.penalty,
            C=float(self.C),
            learning_rate=float(self.learning_rate),
            schedule=self.schedule,
            optimizer=self.optimizer,
            momentum=default_momentum(self.optimizer),
            nesterov=True,
            batch_size=int(self.batch_size),
            warmup_batches=int(self.warmup_batches),
            max_epochs=int(self.max_epochs),
            tol=float(self.tol),
            fit_intercept=True,
            standardize=False,
        )
        out.validate()
        return out

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
        session_params: Mapping[str, str] | None = None,
        callbacks: Sequence[Callable[[dict[str, Any]], None]] = (),
    ) -> FederatedScorecard:
        """Run the whole scorecard job in one ``scorecard`` session (see module docstring);
        ``session_params`` go to the platform's data provider (kept for scoring).
        ``validation_rows`` are not used in training; the platform counts them in the model's
        population, so that scoring them (the job's validation metrics) needs no consent.
        ``callbacks`` get ``{"phase": "binning"}`` and ``{"phase": "training"}`` when those
        start, then each epoch's history entry as it ends."""
        if bank_table.y is None:
            raise InvalidArgument("the bank's table has no labels")
        y = np.asarray(bank_table.y, dtype=np.float64)
        train = bank_table.row_positions(rows)
        model_id = model_id or f"sc-{secrets.token_hex(8)}"
        check_model_id(model_id)
        scaling = self.scaling()
        params = self.lr_params(int(train.size))
        spec = model_session_spec(
            job_id=job_id or model_id,
            algorithm=self.algorithm,
            dataset=platform_dataset,
            session_params=session_params,
            model_id=model_id,
            purpose="train",
        )
        kp = PaillierKeypair.generate(self.key_bits)
        keys = (
            ActiveCrypto("paillier", keypair=kp)
            if params.mode == "paillier"
            else ActiveCrypto.generate(params.mode)
        )
        peer.open_session(spec)
        try:
            for callback in callbacks:  # a phase entry: progress shows it, histories skip it
                callback({"phase": "binning"})
            binning = FederatedBinning(
                method=self.binning_method,
                n_bins=self.n_bins,
                max_bins=self.max_bins,
                min_bin_fraction=self.min_bin_fraction,
                key_bits=self.key_bits,
                dp_epsilon=self.dp_epsilon,
                min_category_count=int(self.min_category_count),
            ).run(BinningStub(peer), bank_table, rows=train, model_id=model_id, keypair=kp)
            selected = binning.select(self.iv_threshold, self.top_k)
            if not selected:
                raise FailedPrecondition("no feature passes the IV selection")
            binning.send_platform_woe()
            bank_woe = binning.bank_transform()
            Xb = bank_woe.transform(
                bank_table.X, by_index(bank_table.feature_names, bank_table.categories)
            )
            for callback in callbacks:
                callback({"phase": "training"})
            val = None if validation_rows is None else bank_table.row_positions(validation_rows)
            params = with_validation_metrics(params, self.validation_metrics_per_epoch, val)
            trainer = LrTrainer(peer, keys, params, random_state=self.random_state)
            result = trainer.run(
                model_id, bank_table.ids, Xb, y, train, val, finalize=False, callbacks=callbacks
            )
            final = trainer.stub.scorecard(
                LrScorecardRequest(
                    model_id=model_id,
                    epoch=result.kept_epoch,
                    factor=scaling.factor,
                    round_points=scaling.round_points,
                )
            )
        finally:
            peer.close_session("scorecard training finished")
        self.model_id_ = model_id
        self.platform_dataset_ = platform_dataset
        self.session_params_ = dict(session_params or {})
        self.binning_ = binning
        self.iv_ = binning.iv()
        self.binning_dp_ = binning.dp_record_
        self.bank_woe_ = bank_woe
        self.coef_ = result.coef
        self.intercept_ = result.intercept
        self.bank_points_ = points_table(
            result.coef, bank_woe.woe, scaling.factor, scaling.round_points
        )
        self.base_points_ = scaling.base_points(result.intercept)
        self.platform_digest_ = final.platform_digest
        self.platform_signature_, self.platform_key_ = verified_platform_signature(final)
        self.bank_features_ = [f.name for f in binning.selected("bank")]
        self.bank_bin_labels_ = [list(f.bin_labels) for f in binning.selected("bank")]
        self.platform_features_ = [f.name for f in binning.selected("platform")]
        self.platform_n_bins_ = list(final.n_bins)
        self.feature_names_in_ = list(bank_table.feature_names)
        self.history_ = result.history
        self.keys_ = keys
        return self

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise FailedPrecondition("the scorecard is not fitted")

    def bank_points(self, bank_table: PartyTable, rows: np.ndarray) -> np.ndarray:
        """Per row: base points plus the points of the bank's selected features."""
        codes = self.bank_woe_.coarse_codes(
            bank_table.X[rows], by_index(bank_table.feature_names, bank_table.categories)
        )
        return self.base_points_ + sum_points(codes, self.bank_points_)

    def platform_points(
        self, bank_table: PartyTable, peer: PassivePeer, rows: np.ndarray
    ) -> np.ndarray:
        """Per row, the platform's points sum, received encrypted and decrypted."""
        self._check_fitted()
        return self.platform_part_scores(bank_table, peer, rows, dataset=self.platform_dataset_)

    def points(
        self, bank_table: PartyTable, peer: PassivePeer, *, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Total points per row (base + bank features + platform features).

        (``score`` is scikit-learn's mean accuracy, as for every estimator.)"""
        self._check_fitted()
        sel = bank_table.row_positions(rows)
        return self.bank_points(bank_table, sel) + self.platform_points(bank_table, peer, sel)

    def predict_proba(
        self, bank_table: PartyTable, peer: PassivePeer, *, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Default probabilities implied by the (unrounded) score, shape (n, 2)."""
        logit = self.scaling().logit_from_score(self.points(bank_table, peer, rows=rows))
        p = sigmoid(logit)
        return np.column_stack([1.0 - p, p])

    # ------------------------------------------------------------------ tables and files
    def points_table(self) -> Any:
        """The bank's part of the points table (pandas): base points, then each selected bank
        feature's bins with WOE and points. Platform features appear by name only; their
        bins and points stay on the platform."""
        import pandas as pd

        self._check_fitted()
        rows: list[dict[str, Any]] = [
            {
                "feature": "(base)",
                "party": "bank",
                "bin": "",
                "woe": np.nan,
                "points": self.base_points_,
            }
        ]
        for j, pts in enumerate(self.bank_points_):
            labels = self.bank_bin_labels_[j]
            for k, p in enumerate(pts.tolist()):
                rows.append(
                    {
                        "feature": self.bank_features_[j],
                        "party": "bank",
                        "bin": labels[k] if k < len(labels) else f"bin {k}",
                        "woe": float(self.bank_woe_.woe[j][k]),
                        "points": p,
                    }
                )
        for name, nb in zip(self.platform_features_, self.platform_n_bins_, strict=True):
            rows.append(
                {
                    "feature": name,
                    "party": "platform",
                    "bin": f"({nb} bins, held by platform)",
                    "woe": np.nan,
                    "points": np.nan,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            **self.common_part(SCORECARD_BANK_FORMAT),
            "scaling": self.scaling().to_dict(),
            "woe_transform": self.bank_woe_.to_dict(),
            "base_points": self.base_points_,
            "points": [p.tolist() for p in self.bank_points_],
            "iv": self.iv_,
            "bank_features": self.bank_features_,
            "bank_bin_labels": self.bank_bin_labels_,
            "platform_features": self.platform_features_,
            "platform_n_bins": self.platform_n_bins_,
            **({"binning_dp": self.binning_dp_} if getattr(self, "binning_dp_", None) else {}),
        }

    @classmethod
    def load(cls, path: Path) -> FederatedScorecard:
        body, _ = load_part(Path(path), SCORECARD_BANK_FORMAT)
        sc = body["scaling"]
        card = cls(
            mode=body["mode"],
            base_score=sc["base_score"],
            pdo=sc["pdo"],
            base_odds=sc["base_odds"],
            round_points=sc["round_points"],
        )
        card.restore_common_part(body)
        card.bank_woe_ = WoeTransform.from_dict(body["woe_transform"])
        card.base_points_ = float(body["base_points"])
        card.bank_points_ = [np.asarray(p, dtype=np.float64) for p in body["points"]]
        card.iv_ = dict(body["iv"])
        card.bank_features_ = list(body["bank_features"])
        card.bank_bin_labels_ = [list(v) for v in body["bank_bin_labels"]]
        card.platform_features_ = list(body["platform_features"])
        card.platform_n_bins_ = [int(v) for v in body["platform_n_bins"]]
        card.binning_dp_ = body.get("binning_dp")
        if card.binning_dp_:
            card.dp_epsilon = float(card.binning_dp_["epsilon"])
        return card
