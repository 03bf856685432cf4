"""The model registry as the head of risk and the regulator see it: the scoring store's
versions and approvals, with MLflow's metrics, privacy mode and plots where a run exists."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from bank_node.config import BankConfig
from bank_node.scoring.model_store import ModelStore
from models.audit import events as ev
from models.audit.log import AuditLog

PLOTS = ("roc", "ks", "importance")
METRICS = ("valid_auc", "valid_ks", "train_auc", "auc", "ks")


def _tracking(config: BankConfig) -> Any:
    from bank_node.governance import has_tracking_store

    if not has_tracking_store(config):
        return None
    from bank_node.jobs.tracking_glue import bank_tracking

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return bank_tracking(config)


def _run_of(tracking: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        mv = tracking.client.get_model_version(name, version)
        return tracking.client.get_run(mv.run_id)
    except MlflowException:
        return None


def registry_rows(config: BankConfig, store: ModelStore) -> list[dict[str, Any]]:
    """One row per registered version, newest first."""
    tracking = _tracking(config)
    rows = []
    for e in store.entries():
        row: dict[str, Any] = {
            "name": e.name, "version": e.version, "family": e.family, "model_id": e.model_id,
            "approvals": e.approvals, "aliases": sorted(e.approvals), "metrics": {},
            "privacy_mode": "", "mlflow": False, "plots": [],
        }  # fmt: skip
        run = _run_of(tracking, e.name, e.version) if tracking is not None and e.version else None
        if run is not None:
            metrics = run.data.metrics
            row["metrics"] = {k: metrics[k] for k in sorted(metrics) if not k.startswith("tree")}
            row["privacy_mode"] = run.data.params.get("privacy.mode", "")
            row["mlflow"] = True
            row["plots"] = list(PLOTS)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["name"], _num(r["version"])), reverse=True)


def _num(version: str) -> int:
    return int(version) if version.isdigit() else 0


def plot_png(config: BankConfig, name: str, version: str, plot: str) -> bytes | None:
    """A plot of the version's run (``plots/<plot>.png`` in MLflow), or None."""
    if plot not in PLOTS:
        return None
    tracking = _tracking(config)
    run = _run_of(tracking, name, version) if tracking is not None else None
    if run is None:
        return None
    with tempfile.TemporaryDirectory() as tmp, contextlib.suppress(Exception):
        path = tracking.client.download_artifacts(run.info.run_id, f"plots/{plot}.png", tmp)
        return Path(path).read_bytes()
    return None


def score_counts(audit: AuditLog) -> list[dict[str, Any]]:
    """Scores served and refused per model version, from the bank's audit log."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for e in audit.query(event=ev.SCORE_REQUEST):
        d = e.details
        key = (str(d.get("model_name", "")), str(d.get("model_version", "")))
        c = counts.setdefault(key, {"ok": 0, "denied": 0, "error": 0})
        outcome = str(d.get("outcome", ""))
        c[outcome if outcome in c else "error"] += 1
    return [{"model": f"{n or '-'}@{v or '-'}", **c} for (n, v), c in sorted(counts.items())]
