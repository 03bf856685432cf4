"""Per-algorithm glue for the job runner: build the estimator, fit it, save the bank's part.

Every adapter has the same shape so the runner stays algorithm-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.dataset import PartyTable
from models.errors import InvalidArgument
from models.federation.peer import PassivePeer

Callback = Callable[[dict[str, Any]], None]


@dataclass
class FitOutcome:
    """What the runner needs from a fitted estimator."""

    estimator: Any
    model_id: str
    model_path: Path
    model_digest: str
    history: list[dict[str, Any]] = field(default_factory=list)
    valid_scores: np.ndarray | None = None
    importance: dict[str, float] = field(default_factory=dict)
    platform_digest: str = ""
    platform_signature: str = ""  # the platform's Ed25519 signature over platform_digest
    platform_key: str = ""  # ... and its model-signing public key (hex)
    stats: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FitJob:
    """One training job as the runner hands it to an adapter.

    Parameters
    ----------
    params, key_bits, scheme:
        The algorithm's hyper-parameters and the job's crypto settings.
    job_id, dataset, session_params:
        The training session's id, the platform's dataset and what its data provider needs.
    train_rows, valid_rows:
        Positions in the bank's aligned table.
    checkpoint_dir, model_dir:
        Where the estimator checkpoints (if it does) and where the bank's part is saved.
    callbacks, should_stop:
        Called with each history entry; polled to stop early (if the estimator supports it).
    on_phase:
        Told the name of each phase inside the fit (e.g. the scorecard's ``binning``).
    """

    params: Mapping[str, Any]
    key_bits: int
    scheme: str
    job_id: str
    dataset: str
    session_params: Mapping[str, str]
    train_rows: np.ndarray
    valid_rows: np.ndarray
    checkpoint_dir: Path
    model_dir: Path
    callbacks: list[Callback]
    should_stop: Callable[[], bool] | None
    on_phase: Callable[[str], None] = field(default=lambda _phase: None)


#: Fits one algorithm's estimator on the bank's table with the platform behind the peer.
Adapter = Callable[[FitJob, PartyTable, PassivePeer], FitOutcome]


def fit_secureboost(job: FitJob, bank_table: PartyTable, peer: PassivePeer) -> FitOutcome:
    from models.secureboost.active import SecureBoostClassifier
    from models.secureboost.privacy import privacy_record

    est = SecureBoostClassifier(key_bits=job.key_bits)
    try:
        est.set_params(**dict(job.params))
    except InvalidArgument:
        raise InvalidArgument("the job names a hyper-parameter SecureBoost does not have") from None
    est.fit(
        bank_table,
        peer,
        rows=job.train_rows,
        validation_rows=job.valid_rows,
        checkpoint_dir=job.checkpoint_dir,
        callbacks=job.callbacks,
        should_stop=job.should_stop,
        job_id=job.job_id,
        platform_dataset=job.dataset,
        session_params=job.session_params,
    )
    job.model_dir.mkdir(parents=True, exist_ok=True)
    path = job.model_dir / "bank_part.json"
    digest = est.save_model(path)
    valid_raw = getattr(est, "training_valid_raw_", None)
    valid_scores = None if valid_raw is None else 1.0 / (1.0 + np.exp(-np.asarray(valid_raw)))
    return FitOutcome(
        estimator=est,
        model_id=est.model_id_,
        model_path=path,
        model_digest=digest,
        history=list(getattr(est, "history_", [])),
        valid_scores=valid_scores,
        importance=dict(est.feature_importance("gain")),
        platform_digest=getattr(est, "platform_digest_", ""),
        platform_signature=str(getattr(est, "platform_signature_", "")),
        platform_key=str(getattr(est, "platform_key_", "")),
        stats=dict(getattr(est, "stats_", {})),
        privacy=privacy_record(est.privacy),
    )


def _linear_importance(est: Any) -> dict[str, float]:
    """|weight| of standardised features: bank features by name, platform ones by category."""
    out: dict[str, float] = {}
    design = getattr(est, "design_names", None)
    names = (
        design()
        if callable(design)
        else list(getattr(est, "feature_names_in_", getattr(est, "bank_features_", [])))
    )
    coef = np.asarray(getattr(est, "coef_", np.zeros(0)), dtype=float).ravel()
    for name, w in zip(names, coef[: len(names)], strict=False):
        out[f"bank:{name}"] = abs(float(w))
    return out


def _fit_linear(
    est: Any,
    job: FitJob,
    bank_table: PartyTable,
    peer: PassivePeer,
    *,
    with_validation: bool,
) -> FitOutcome:
    try:
        est.set_params(**dict(job.params))
    except (InvalidArgument, ValueError, TypeError):
        raise InvalidArgument(
            "the job names a hyper-parameter the estimator does not have"
        ) from None
    kwargs: dict[str, Any] = {
        "rows": job.train_rows,
        "platform_dataset": job.dataset,
        "job_id": job.job_id,
        "model_id": job.job_id,
        "session_params": job.session_params,
    }
    if with_validation:
        kwargs["validation_rows"] = job.valid_rows

    def each_epoch(entry: dict[str, Any]) -> None:  # the progress bar moves as epochs end
        if "phase" in entry:  # e.g. the scorecard's binning before its epochs
            job.on_phase(str(entry["phase"]))
            return
        entry.setdefault("step", entry.get("epoch", 0))
        for cb in job.callbacks:
            cb(entry)

    est.fit(bank_table, peer, callbacks=[each_epoch], **kwargs)
    history = [
        dict(h) if isinstance(h, Mapping) else dict(vars(h)) for h in getattr(est, "history_", [])
    ]
    for i, h in enumerate(history):
        h.setdefault("step", h.get("epoch", i))
    valid_scores = None
    if job.valid_rows.size:
        valid_scores = est.predict_proba(bank_table, peer, rows=job.valid_rows)[:, 1]
    job.model_dir.mkdir(parents=True, exist_ok=True)
    path = job.model_dir / "bank_part.json"
    digest = est.save(path)
    return FitOutcome(
        estimator=est,
        model_id=est.model_id_,
        model_path=path,
        model_digest=str(digest),
        history=history,
        valid_scores=valid_scores,
        importance=_linear_importance(est),
        platform_digest=str(getattr(est, "platform_digest_", "")),
        platform_signature=str(getattr(est, "platform_signature_", "")),
        platform_key=str(getattr(est, "platform_key_", "")),
    )


def fit_logreg(job: FitJob, bank_table: PartyTable, peer: PassivePeer) -> FitOutcome:
    """Logistic regression (the job's scheme is its mode); the validation log-loss per epoch
    is a private aggregate (``val_logloss`` in the history), AUC and KS come from scoring the
    validation rows with the final model."""
    from models.logreg.active import FederatedLogisticRegression

    # job files show val_logloss per epoch by default in both modes (the estimator's own
    # default leaves it off in Paillier mode); `validation_metrics_per_epoch = false` turns it off
    est = FederatedLogisticRegression(
        mode=job.scheme, key_bits=job.key_bits, validation_metrics_per_epoch=True
    )
    return _fit_linear(est, job, bank_table, peer, with_validation=True)


def fit_scorecard(job: FitJob, bank_table: PartyTable, peer: PassivePeer) -> FitOutcome:
    """A scorecard (the job's scheme is its LR mode); ``val_logloss`` per epoch as for
    logistic regression, validation rows scored with the final model at the end."""
    from models.scorecard.active import FederatedScorecard

    est = FederatedScorecard(
        mode=job.scheme, key_bits=job.key_bits, validation_metrics_per_epoch=True
    )
    outcome = _fit_linear(est, job, bank_table, peer, with_validation=True)
    applied = getattr(est, "binning_dp_", None)  # the DP the platform applied to the counts
    if applied:
        outcome.stats["privacy"] = {"binning_counts": dict(applied)}
    return outcome


ADAPTERS: dict[str, Adapter] = {
    "secureboost": fit_secureboost,
    "logreg": fit_logreg,
    "scorecard": fit_scorecard,
}


def adapter_for(algorithm: str) -> Adapter:
    try:
        return ADAPTERS[algorithm]
    except KeyError:
        raise InvalidArgument("this algorithm is not available in the job runner") from None
