"""Log one federated training job as an MLflow run (params, metrics, inputs, artifacts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bank_node.tracking.model_card import build_model_card, privacy_params
from bank_node.tracking.plots import plot_importance, plot_ks, plot_roc
from bank_node.tracking.records import JobRecord, PartyData, RunInfo, TrainingResult
from bank_node.tracking.store import Tracking
from bank_node.tracking.version import code_version
from models.audit import events as ev
from models.errors import DataLoss, InvalidArgument

JOB_ARTIFACT = "fedcredit/job.json"
MODEL_DIR = "model"
_BATCH = 900  # MLflow accepts at most 1000 metrics per batch
_MLFLOW_TYPES = {
    "float64": "double",
    "float32": "float",
    "double": "double",
    "float": "float",
    "int64": "long",
    "long": "long",
    "int32": "integer",
    "integer": "integer",
    "int": "long",
    "bool": "boolean",
    "boolean": "boolean",
    "string": "string",
    "str": "string",
    "object": "string",
    "category": "string",
    "date": "datetime",
    "datetime": "datetime",
    "datetime64[ns]": "datetime",
    "bytes": "binary",
    "binary": "binary",
}


def _millis(iso: str) -> int | None:
    if not iso:
        return None
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument("job times are ISO 8601 strings") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def run_params(job: JobRecord) -> dict[str, str]:
    """The MLflow params of a job: hyper-parameters under their own names plus fixed keys."""
    fixed: dict[str, Any] = {
        "algorithm": job.algorithm,
        "crypto.scheme": job.crypto.scheme,
        "crypto.key_bits": job.crypto.key_bits,
        **{f"crypto.{k}": v for k, v in job.crypto.settings.items()},
        "psi.protocol": job.psi.protocol,
        "psi.bank_size": job.psi.bank_size,
        "psi.platform_size": job.psi.platform_size,
        "psi.intersection_size": job.psi.intersection_size,
        "platform.party": job.platform.party,
        "platform.categories": ",".join(job.platform.categories),
        "bank.party": job.bank.party,
        "bank.categories": ",".join(job.bank.categories),
    }
    if job.privacy:
        fixed["privacy.mode"] = job.privacy.get("mode", "")
        fixed["privacy.protocol_version"] = job.privacy.get("protocol_version", "")
        for name, value in dict(job.privacy.get("measured", {})).items():
            fixed[f"privacy.measured.{name}"] = value
    params = {k: _param_value(v) for k, v in job.params.items()}
    for k, v in fixed.items():
        value = _param_value(v)
        if params.get(k, value) != value:
            raise InvalidArgument("a hyper-parameter name collides with a fixed run parameter")
        params[k] = value
    return params


def _schema_json(schema: list[tuple[str, str]]) -> str:
    from mlflow.types import ColSpec, Schema, TensorSpec

    cols: list[ColSpec | TensorSpec] = [
        ColSpec(_MLFLOW_TYPES.get(t.lower(), "string"), name) for name, t in schema
    ]
    return json.dumps({"mlflow_colspec": Schema(cols).to_dict()}) if cols else ""


def _dataset_input(side: PartyData, role: str, psi_size: int) -> Any:
    """An MLflow dataset describing one side: source, schema, digest and profile, no rows."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source = {
        "uri": f"fedcredit://{side.party}/{side.dataset}",
        "party": side.party,
        "dataset": side.dataset,
        "role": role,
    }
    profile = {
        "num_rows": side.n_rows,
        "psi_input_size": psi_size,
        "digest_sha256": side.digest,
        "date_range": list(side.date_range) if side.date_range else None,
        "categories": list(side.categories),
        "num_columns": len(side.schema),
        "party": side.party,
        "cert_fingerprint": side.cert_fingerprint,
    }
    dataset = Dataset(
        name=f"{side.party}/{side.dataset}",
        digest=(side.digest.removeprefix("sha256:") or "unknown")[:32],
        source_type="fedcredit",
        source=json.dumps(source, sort_keys=True),
        schema=_schema_json(side.schema) or None,
        profile=json.dumps(profile, sort_keys=True),
    )
    tags = [
        InputTag("mlflow.data.context", "training"),
        InputTag("fedcredit.party", side.party),
        InputTag("fedcredit.role", role),
    ]
    return DatasetInput(dataset, tags)


def _metrics(result: TrainingResult, now_ms: int) -> list[Any]:
    from mlflow.entities import Metric

    out: list[Any] = []
    last_step = 0
    for i, point in enumerate(result.history):
        step = int(point.get("step", i))
        last_step = max(last_step, step)
        for key, value in point.items():
            if key != "step" and value is not None and math.isfinite(float(value)):
                out.append(Metric(key, float(value), now_ms, step))
    for key, value in result.final_metrics.items():
        if value is not None and math.isfinite(float(value)):
            out.append(Metric(f"final.{key}", float(value), now_ms, last_step))
    return out


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_artifacts(out: Path, job: JobRecord, result: TrainingResult) -> str:
    """Write every artifact under ``out``; returns why the curves are missing ("" if drawn)."""
    curves_missing = ""
    try:
        plot_roc(result.y_true, result.y_score, out / "plots" / "roc.png")
        plot_ks(result.y_true, result.y_score, out / "plots" / "ks.png")
    except InvalidArgument as exc:  # no validation scores, or a single class
        curves_missing = exc.message
    plot_importance(result.importance, out / "plots" / "importance.png")
    card = build_model_card(job, result)
    card["curves"] = (
        f"not drawn: {curves_missing}" if curves_missing else "plots/roc.png, plots/ks.png"
    )
    (out / "model_card.json").write_text(json.dumps(card, indent=2, sort_keys=True))
    model_dir = out / MODEL_DIR
    model_dir.mkdir(parents=True, exist_ok=True)
    bank_file = ""
    if result.bank_part.path:
        src = Path(result.bank_part.path)
        if not src.is_file():
            raise InvalidArgument("the bank model part file does not exist")
        if result.bank_part.digest.removeprefix("sha256:") != _file_digest(src):
            raise DataLoss("the bank model part file does not match its digest")
        bank_file = src.name
        shutil.copyfile(src, model_dir / bank_file)
    parts = {
        "model_id": result.model_id,
        "bank": {**dataclasses.asdict(result.bank_part), "path": bank_file},
        "platform": {
            **dataclasses.asdict(result.platform_part),
            "path": None,
            "location": f"held by {result.platform_part.party}",
        },
    }
    (model_dir / "MODEL_PARTS.json").write_text(json.dumps(parts, indent=2, sort_keys=True))
    _write_mlmodel(model_dir, job, result)
    record = {
        "job": job.to_dict(),
        "model_id": result.model_id,
        "model_parts": parts,
        "final_metrics": dict(result.final_metrics),
        "importance": {p: dict(c) for p, c in result.importance.items()},
        "n_steps": len(result.history),
    }
    (out / JOB_ARTIFACT).parent.mkdir(parents=True, exist_ok=True)
    (out / JOB_ARTIFACT).write_text(json.dumps(record, indent=2, sort_keys=True))
    return curves_missing


def _write_mlmodel(model_dir: Path, job: JobRecord, result: TrainingResult) -> None:
    """Write ``MLmodel`` with the model's signature, so MLflow's registry shows what it takes.

    Inputs: the company's USCC, the score date and the bank's own feature columns; the
    platform's features never appear (they stay on the platform, which computes its part of
    the score itself). Output: the probability of default. The flavour ``fedcredit`` names the
    parts file; the model is served by fedcredit's scoring service, not ``mlflow models serve``.
    """
    from mlflow.models import Model
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = [ColSpec("string", "uscc"), ColSpec("string", "as_of")]
    inputs += [ColSpec(_MLFLOW_TYPES.get(t.lower(), "string"), n) for n, t in job.bank.schema]
    signature = ModelSignature(
        inputs=Schema(inputs),  # type: ignore[arg-type]
        outputs=Schema([ColSpec("double", "probability_of_default")]),
    )
    model = Model(signature=signature, model_uuid=result.model_id.replace("-", "")[:32] or None)
    model.add_flavor(
        "fedcredit",
        parts="MODEL_PARTS.json",
        algorithm=job.algorithm,
        platform_party=result.platform_part.party,
    )
    model.save(str(model_dir / "MLmodel"))


def log_training_run(tracking: Tracking, job: JobRecord, result: TrainingResult) -> RunInfo:
    """Log a finished training job as one MLflow run and return it.

    Params: algorithm, hyper-parameters, crypto scheme and key size, PSI protocol and sizes,
    categories of both sides. Metrics: every key of each ``history`` point at its step, and
    ``final.<name>``. Inputs: one metadata-only dataset per side (digest, row count, date range,
    schema, categories). Artifacts: ``plots/{roc,ks,importance}.png``, ``model_card.json``,
    ``model/`` (the bank's part and ``MODEL_PARTS.json``) and ``fedcredit/job.json``. Without
    usable validation scores (empty, or one class only) the ROC and KS plots are skipped and
    the run gets a ``fedcredit.curves`` tag saying why.
    An audit entry ``training_run_logged`` links the job to the run.
    """
    if not job.code_version:
        job = dataclasses.replace(job, code_version=code_version())
    client = tracking.client
    tags = {
        "mlflow.runName": job.job_id,
        "mlflow.user": job.launched_by,
        "mlflow.source.name": "fedcredit",
        "mlflow.source.type": "JOB",
        "fedcredit.job_id": job.job_id,
        "fedcredit.model_id": result.model_id,
        "fedcredit.algorithm": job.algorithm,
        "fedcredit.launched_by": job.launched_by,
        "fedcredit.launched_by_fingerprint": job.launched_by_fingerprint,
        "fedcredit.launched_at": job.launched_at,
        "fedcredit.code_version": job.code_version,
        "fedcredit.bank.party": job.bank.party,
        "fedcredit.bank.cert_fingerprint": job.bank.cert_fingerprint,
        "fedcredit.bank.digest": job.bank.digest,
        "fedcredit.platform.party": job.platform.party,
        "fedcredit.platform.cert_fingerprint": job.platform.cert_fingerprint,
        "fedcredit.platform.digest": job.platform.digest,
        "fedcredit.bank_part.digest": result.bank_part.digest,
        "fedcredit.platform_part.digest": result.platform_part.digest,
        "fedcredit.platform_part.model_id": result.platform_part.model_id or result.model_id,
    }
    if job.privacy:
        tags["fedcredit.privacy.mode"] = str(job.privacy.get("mode", ""))
    params = {**run_params(job), **privacy_params(result)}
    run = client.create_run(
        tracking.experiment_id(),
        start_time=_millis(job.launched_at),
        tags=tags,
        run_name=job.job_id,
    )
    run_id = run.info.run_id
    try:
        from mlflow.entities import Param

        plist = [Param(k, v) for k, v in params.items()]
        metrics = _metrics(result, int(time.time() * 1000))
        for i in range(0, len(plist), 100):  # MLflow: at most 100 params per batch
            client.log_batch(run_id, params=plist[i : i + 100])
        for i in range(0, len(metrics), _BATCH):
            client.log_batch(run_id, metrics=metrics[i : i + _BATCH])
        client.log_inputs(
            run_id,
            [
                _dataset_input(job.bank, "active", job.psi.bank_size),
                _dataset_input(job.platform, "passive", job.psi.platform_size),
            ],
        )
        with tempfile.TemporaryDirectory(prefix="fedcredit-run-") as tmp:
            curves_missing = _write_artifacts(Path(tmp), job, result)
            client.log_artifacts(run_id, tmp)
        if curves_missing:
            client.set_tag(run_id, "fedcredit.curves", f"not drawn: {curves_missing}")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED", end_time=_millis(job.finished_at))
    info = RunInfo(run_id, run.info.experiment_id, run.info.artifact_uri, job.job_id)
    tracking.record(
        ev.TRAINING_RUN_LOGGED,
        {
            "job_id": job.job_id,
            "model_id": result.model_id,
            "run_id": run_id,
            "algorithm": job.algorithm,
            "launched_by": job.launched_by,
            "code_version": job.code_version,
            "parties": [job.bank.party, job.platform.party],
        },
    )
    return info
