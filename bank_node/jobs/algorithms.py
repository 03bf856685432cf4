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


ADAPTERS: dict[str, Adapter] = {"secureboost": fit_secureboost}


def adapter_for(algorithm: str) -> Adapter:
    try:
        return ADAPTERS[algorithm]
    except KeyError:
        raise InvalidArgument("this algorithm is not available in the job runner") from None
