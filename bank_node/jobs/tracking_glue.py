"""After training: log the MLflow run, register the version, bind the platform's part."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from bank_node.config import BankConfig
from bank_node.jobs.algorithms import FitOutcome
from bank_node.jobs.spec import JobSpec
from bank_node.jobs.state import JobState
from models.dataset import PartyTable


def _cert_fp(config: BankConfig, party: str) -> str:
    from proto.transport.tls import cert_fingerprint

    if config.tls is None:
        return ""
    path = config.tls.ca.parent / party / "cert.pem"
    return cert_fingerprint(path) if path.exists() else ""


def importance_by_party(
    importance: dict[str, float], bank_party: str, platform: str
) -> dict[str, dict[str, float]]:
    """``{"bank:x": g, "platform:tax": g}`` -> ``{bank_party: {x: g}, platform: {tax: g}}``."""
    out: dict[str, dict[str, float]] = {bank_party: {}, platform: {}}
    for key, value in importance.items():
        side, _, name = key.partition(":")
        target = out[bank_party] if side == "bank" else out[platform]
        target[name] = target.get(name, 0.0) + float(value)
    return out


def track_and_register(
    spec: JobSpec,
    config: BankConfig,
    state: JobState,
    outcome: FitOutcome,
    bank: PartyTable,
    valid_y: np.ndarray,
    audit: Any,
) -> dict[str, Any]:
    from bank_node.tracking import (
        CryptoInfo,
        JobRecord,
        ModelPart,
        PartyData,
        PsiInfo,
        TrainingResult,
        log_training_run,
        register_model,
    )

    tracking = bank_tracking(config, audit)
    platform = state.platform
    bank_groups = sorted(set(bank.feature_groups))
    job = JobRecord(
        job_id=spec.job_id,
        launched_by=state.launched_by,
        launched_by_fingerprint=_cert_fp(config, config.party),
        launched_at=state.launched_at,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        algorithm=spec.algorithm,
        params={k: v for k, v in spec.params.items()},
        crypto=CryptoInfo(spec.scheme, spec.key_bits),
        psi=PsiInfo(
            state.psi.get("protocol", "ecdh-psi"),
            bank_size=int(state.psi.get("n_bank", 0)),
            platform_size=int(state.psi.get("n_platform", 0)),
            intersection_size=int(state.psi.get("n_intersection", 0)),
        ),
        bank=PartyData(
            config.party,
            str(spec.bank_data.path.name),
            bank.digest(),
            bank.n_rows,
            categories=bank_groups,
            schema=[(n, "double") for n in bank.feature_names],
            date_range=_date_range(spec),
            cert_fingerprint=_cert_fp(config, config.party),
        ),
        platform=PartyData(
            platform.get("party", config.platform_name),
            platform.get("dataset", spec.platform_data.dataset),
            platform.get("digest", ""),
            int(platform.get("n_rows", 0)),
            categories=list(platform.get("categories", [])),
            schema=[(c, "category") for c in platform.get("categories", [])],
            date_range=_date_range(spec),
            cert_fingerprint=_cert_fp(config, config.platform_name),
        ),
        privacy=dict(outcome.privacy),
    )
    history = [
        {
            k: float(v)
            for k, v in h.items()
            if isinstance(v, int | float) and k not in ("tree", "epoch", "step")
        }
        | {"step": int(h.get("tree", h.get("step", i)))}
        for i, h in enumerate(outcome.history)
    ]
    result = TrainingResult(
        model_id=outcome.model_id,
        history=history,
        final_metrics=dict(state.metrics),
        importance=importance_by_party(
            outcome.importance, config.party, platform.get("party", config.platform_name)
        ),
        y_true=valid_y,
        y_score=outcome.valid_scores if outcome.valid_scores is not None else np.zeros(0),
        bank_part=ModelPart(
            config.party,
            _file_sha256(outcome.model_path),
            outcome.model_id,
            path=str(outcome.model_path),
        ),
        platform_part=ModelPart(
            platform.get("party", config.platform_name),
            outcome.platform_digest,
            outcome.model_id,
        ),
        privacy=dict(outcome.stats.get("privacy", {})),
    )
    run = log_training_run(tracking, job, result)
    ref = register_model(tracking, spec.name, run, job, result)
    return {
        "run_id": ref.run_id,
        "model_name": spec.name,
        "model_version": str(ref.version),
        "tracking_uri": tracking.tracking_uri,
        "ui": tracking.ui_command(),
    }


def bank_tracking(config: BankConfig, audit: Any = None) -> Any:
    """The bank's MLflow store: ``tracking_uri`` from the config, else SQLite in the data dir.

    With a local SQLite store (the default, or any ``sqlite:///`` URI) the artifacts go to
    ``artifacts/`` beside the database (``<data_dir>/mlflow/artifacts`` by default), never to
    ``./mlruns`` in the working directory; a tracking server decides on its own.
    """
    from bank_node.tracking import Tracking
    from models.audit.entry import Actor

    actor = Actor(config.party, "bank", _cert_fp(config, config.party))
    uri = config.tracking_uri
    if not uri:
        return Tracking.for_data_dir(config.data_dir, audit=audit, actor=actor)
    artifacts = None
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        db.parent.mkdir(parents=True, exist_ok=True)
        artifacts = (db.parent / "artifacts").resolve().as_uri()
    return Tracking(uri, artifact_location=artifacts, audit=audit, actor=actor)


def _file_sha256(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _date_range(spec: JobSpec) -> tuple[str, str] | None:
    if not spec.platform_data.as_of:
        return None
    start = dt.date.fromisoformat(spec.platform_data.as_of)
    try:
        end = start.replace(year=start.year + 1)
    except ValueError:
        end = start.replace(year=start.year + 1, day=28)
    return (start.isoformat(), end.isoformat())


def model_dir(config: BankConfig, job_id: str) -> Path:
    return config.data_dir / "models" / job_id
