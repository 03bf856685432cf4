"""Per-algorithm glue for the job runner: build the estimator, fit it, save the bank's part.

Every adapter has the same shape so the runner stays algorithm-agnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
    stats: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    def __call__(
        self,
        params: Mapping[str, Any],
        key_bits: int,
        scheme: str,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        job_id: str,
        dataset: str,
        session_params: Mapping[str, str],
        train_rows: np.ndarray,
        valid_rows: np.ndarray,
        checkpoint_dir: Path,
        model_dir: Path,
        callbacks: list[Callback],
        should_stop: Callable[[], bool] | None,
    ) -> FitOutcome: ...


def fit_secureboost(
    params: Mapping[str, Any],
    key_bits: int,
    scheme: str,
    bank_table: PartyTable,
    peer: PassivePeer,
    *,
    job_id: str,
    dataset: str,
    session_params: Mapping[str, str],
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    checkpoint_dir: Path,
    model_dir: Path,
    callbacks: list[Callback],
    should_stop: Callable[[], bool] | None,
) -> FitOutcome:
    from models.secureboost.active import SecureBoostClassifier

    est = SecureBoostClassifier(key_bits=key_bits)
    try:
        est.set_params(**dict(params))
    except InvalidArgument:
        raise InvalidArgument("the job names a hyper-parameter SecureBoost does not have") from None
    est.fit(
        bank_table,
        peer,
        train_rows=train_rows,
        valid_rows=valid_rows,
        checkpoint_dir=checkpoint_dir,
        callbacks=callbacks,
        should_stop=should_stop,
        job_id=job_id,
        dataset=dataset,
        session_params=session_params,
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / "bank_part.json"
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
        stats=dict(getattr(est, "stats_", {})),
    )


def _linear_importance(est: Any) -> dict[str, float]:
    """|weight| of standardised features: bank features by name, platform ones by category."""
    out: dict[str, float] = {}
    names = list(getattr(est, "feature_names_in_", getattr(est, "bank_features_", [])))
    coef = np.asarray(getattr(est, "coef_", np.zeros(0)), dtype=float).ravel()
    for name, w in zip(names, coef[: len(names)], strict=False):
        out[f"bank:{name}"] = abs(float(w))
    return out


def _fit_linear(
    est: Any,
    params: Mapping[str, Any],
    bank_table: PartyTable,
    peer: PassivePeer,
    *,
    job_id: str,
    dataset: str,
    session_params: Mapping[str, str],
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    model_dir: Path,
    callbacks: list[Callback],
    with_validation: bool,
) -> FitOutcome:
    try:
        est.set_params(**dict(params))
    except (InvalidArgument, ValueError, TypeError):
        raise InvalidArgument(
            "the job names a hyper-parameter the estimator does not have"
        ) from None
    kwargs: dict[str, Any] = {
        "rows": train_rows,
        "platform_dataset": dataset,
        "job_id": job_id,
        "model_id": job_id,
        "session_params": session_params,
    }
    if with_validation:
        kwargs["validation_rows"] = valid_rows
    est.fit(bank_table, peer, **kwargs)
    history = [
        dict(h) if isinstance(h, Mapping) else dict(vars(h)) for h in getattr(est, "history_", [])
    ]
    for i, h in enumerate(history):
        h.setdefault("tree", i)
        for cb in callbacks:
            cb(h)
    valid_scores = None
    if valid_rows.size:
        valid_scores = est.predict_proba(bank_table, peer, rows=valid_rows)[:, 1]
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / "bank_part.json"
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
    )


def _linear_adapter(family: str, *, with_validation: bool) -> Adapter:
    """The adapter of a linear family (``logreg`` or ``scorecard``): the scheme is its mode."""

    def fit(
        params: Mapping[str, Any],
        key_bits: int,
        scheme: str,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        job_id: str,
        dataset: str,
        session_params: Mapping[str, str],
        train_rows: np.ndarray,
        valid_rows: np.ndarray,
        checkpoint_dir: Path,
        model_dir: Path,
        callbacks: list[Callback],
        should_stop: Callable[[], bool] | None,
    ) -> FitOutcome:
        if family == "logreg":
            from models.logreg.active import FederatedLogisticRegression as Estimator
        else:
            from models.scorecard.active import FederatedScorecard as Estimator  # type: ignore[assignment]
        return _fit_linear(
            Estimator(mode=scheme, key_bits=key_bits),
            params,
            bank_table,
            peer,
            job_id=job_id,
            dataset=dataset,
            session_params=session_params,
            train_rows=train_rows,
            valid_rows=valid_rows,
            model_dir=model_dir,
            callbacks=callbacks,
            with_validation=with_validation,
        )

    return fit


fit_logreg = _linear_adapter("logreg", with_validation=True)
fit_scorecard = _linear_adapter("scorecard", with_validation=False)


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
