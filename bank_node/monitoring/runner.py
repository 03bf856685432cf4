"""One monitoring run of a registered model version for one week.

1. **Score stability** (the bank's own data): the PSI of the week's scores against a reference
   week's (default: the earliest week of the records), over the reference's deciles plus a
   missing bin (:mod:`models.stability`), with each bin's term (characteristic analysis of the
   score: where the distribution moved). Without a scores file, the risk bands the bank served
   with the version (its audit log's ``score_request`` entries), one bin per band.
2. **Feature stability** (optional, the platform's data): the platform computes each of its
   features' characteristic stability index over the monitored population between the
   reference week's Sunday and the current week's Sunday (:mod:`bank_node.monitoring.client`;
   only the index values come back).
3. **Alerts**: every index at or above the warning threshold (default 0.1) raises a
   ``warning`` alert, at or above the action threshold (default 0.25) an ``action`` alert.
4. **Records**: the values are logged as MLflow metrics of the model version's run (step =
   ``YYYYWW``: ``monitor.score_psi``, ``monitor.feature_csi.<feature>``,
   ``monitor.feature_csi_max``, ``monitor.alert_level`` as 0/1/2), the version is tagged
   with its last monitored week and level, the report is saved as JSON under
   ``<bank data>/monitoring/<model>/v<version>/<week>.json`` (0600), and the bank's audit log
   gets a ``monitoring_run`` entry with the score PSI, the level, the number of alerts per
   level and the 20 largest alerts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bank_node.monitoring.client import MonitoringClient
from bank_node.monitoring.scores import (
    ScoreRecords,
    audit_records,
    parse_week,
    week_end,
    week_step,
)
from models.errors import FailedPrecondition, InvalidArgument, NotFound
from models.stability import (
    ACTION,
    LEVELS,
    WARNING,
    alert_level,
    categorical_index,
    contributions,
    label_counts,
    stability_index,
    terms_from_counts,
)

MONITORING_RUN = "monitoring_run"
MIN_SCORES = 20
AUDITED_ALERTS = 20
_METRIC_SAFE = re.compile(r"[^0-9A-Za-z_\-. /]")


@dataclass(frozen=True)
class Thresholds:
    warning: float = WARNING
    action: float = ACTION

    def __post_init__(self) -> None:
        if not 0 < self.warning < self.action:
            raise InvalidArgument("thresholds need 0 < warning < action")

    def level(self, value: float) -> str:
        return alert_level(value, self.warning, self.action)


@dataclass(frozen=True)
class MonitoringAlert:
    metric: str  # "score_psi" or "feature_csi.<feature>"
    value: float
    level: str  # "warning" or "action"


@dataclass
class MonitoringReport:
    model_name: str
    model_version: str
    model_id: str
    week: str
    reference_week: str
    n_reference: int
    n_current: int
    score_psi: float
    score_level: str
    score_bin_terms: list[float]
    score_basis: str = "probability_of_default"
    features: list[dict[str, Any]] = field(default_factory=list)
    platform: dict[str, Any] = field(default_factory=dict)
    alerts: list[MonitoringAlert] = field(default_factory=list)
    level: str = "ok"
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MonitoringReport:
        d = dict(d)
        d["alerts"] = [MonitoringAlert(**a) for a in d.get("alerts", [])]
        return cls(**d)


def metric_key(feature: str) -> str:
    """An MLflow metric name for a feature's index (characters MLflow refuses become ``_``)."""
    return "monitor.feature_csi." + _METRIC_SAFE.sub("_", feature)


def report_dir(data_dir: Path, name: str, version: str) -> Path:
    return Path(data_dir) / "monitoring" / name / f"v{version}"


def save_report(data_dir: Path, report: MonitoringReport) -> Path:
    """Write the report (0600, directories 0700) and return its path."""
    out = report_dir(data_dir, report.model_name, report.model_version)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out / f"{report.week}.json"
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(report.to_dict(), fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def load_reports(data_dir: Path, name: str, version: str) -> list[MonitoringReport]:
    """Saved reports of a model version, by week."""
    out = report_dir(data_dir, name, version)
    return [
        MonitoringReport.from_dict(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(out.glob("*-W*.json"))
    ]


def _choose_weeks(
    records: ScoreRecords, week: str | None, reference_week: str | None
) -> tuple[str, str]:
    weeks = records.week_list()
    current = week or weeks[-1]
    reference = reference_week or weeks[0]
    parse_week(current)
    parse_week(reference)
    if current == reference:
        raise InvalidArgument("the current and reference weeks are the same week")
    for w in (current, reference):
        if w not in weeks:
            raise NotFound("no scores in one of the weeks compared")
    return current, reference


def run_monitoring(
    *,
    tracking: Any,
    model: str,
    records: ScoreRecords | None = None,
    week: str | None = None,
    reference_week: str | None = None,
    platform: MonitoringClient | None = None,
    population: list[str] | None = None,
    dataset: str = "catalogue",
    categories: str | None = None,
    n_bins: int = 10,
    thresholds: Thresholds | None = None,
    data_dir: Path | None = None,
    min_scores: int = MIN_SCORES,
) -> MonitoringReport:
    """Monitor version ``model`` (``NAME[@VERSION|@ALIAS]``, default the champion) for a week.

    ``records``: the scores (default: the risk bands served with this version, from the
    bank's audit log, ``tracking.audit``). ``platform`` with a ``population`` (or records
    naming companies) adds the platform's feature indices; ``data_dir`` saves the report
    there. See the module docstring.
    """
    from bank_node.tracking.registry import TAG_MODEL_ID, get_version, parse_model_spec

    thresholds = thresholds or Thresholds()
    name, version = parse_model_spec(model)
    mv = get_version(tracking, name, version)
    model_id = (mv.tags or {}).get(TAG_MODEL_ID, "")
    if records is None:
        if tracking.audit is None or not model_id:
            raise FailedPrecondition("no score records given and no audit log to read them from")
        records = audit_records(tracking.audit, model_id)
    current, reference = _choose_weeks(records, week, reference_week)
    ref_scores, cur_scores = records.of_week(reference), records.of_week(current)
    if min(ref_scores.size, cur_scores.size) < min_scores:
        raise FailedPrecondition(f"each week compared needs at least {min_scores} scores")
    if records.categorical:  # served risk bands: one bin per band
        score_psi = categorical_index(ref_scores, cur_scores)
        _, p, q = label_counts(ref_scores, cur_scores)
        terms = [float(v) for v in terms_from_counts(p, q)]
    else:
        score_psi = stability_index(ref_scores, cur_scores, n_bins)
        terms = [float(v) for v in contributions(ref_scores, cur_scores, n_bins)]
    report = MonitoringReport(
        model_name=name,
        model_version=str(mv.version),
        model_id=model_id,
        week=current,
        reference_week=reference,
        n_reference=int(ref_scores.size),
        n_current=int(cur_scores.size),
        score_psi=score_psi,
        score_level=thresholds.level(score_psi),
        score_basis=records.column,
        score_bin_terms=terms,
        created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if report.score_level != "ok":
        report.alerts.append(MonitoringAlert("score_psi", score_psi, report.score_level))
    if platform is not None:
        members = population if population is not None else records.companies_of(current)
        if categories is None:
            categories = _run_param(tracking, mv.run_id, "platform.categories")
        reply = platform.feature_stability(
            members,
            week_end(reference).isoformat(),
            week_end(current).isoformat(),
            dataset=dataset,
            categories=categories,
            n_bins=n_bins,
        )
        report.platform = {
            "n_requested": reply.n_requested,
            "n_population": reply.n_population,
            "reference_as_of": reply.reference_as_of,
            "current_as_of": reply.current_as_of,
            "query_id": reply.query_id,
            "dataset": dataset,
        }
        for f in reply.features:
            level = thresholds.level(f.index)
            report.features.append(
                {"feature": f.feature, "group": f.group, "index": f.index, "level": level}
            )
            if level != "ok":
                report.alerts.append(MonitoringAlert(f"feature_csi.{f.feature}", f.index, level))
    report.level = max((a.level for a in report.alerts), key=LEVELS.index, default="ok")
    _log_metrics(tracking, mv, report)
    tracking.record(
        MONITORING_RUN,
        {
            "model_name": name,
            "model_version": report.model_version,
            "model_id": report.model_id,
            "week": current,
            "reference_week": reference,
            "score_psi": round(score_psi, 6),
            "level": report.level,
            "n_warning": sum(a.level == "warning" for a in report.alerts),
            "n_action": sum(a.level == "action" for a in report.alerts),
            # the largest ones (an entry's details are at most 16 KiB; the report has them all)
            "alerts": [
                {"metric": a.metric[:80], "value": round(a.value, 6), "level": a.level}
                for a in sorted(report.alerts, key=lambda a: -a.value)[:AUDITED_ALERTS]
            ],
            "platform_query_id": report.platform.get("query_id", ""),
        },
    )
    if data_dir is not None:
        save_report(data_dir, report)
    return report


def _run_param(tracking: Any, run_id: str | None, key: str) -> str:
    if not run_id:
        return ""
    try:
        return str(tracking.client.get_run(run_id).data.params.get(key, ""))
    except Exception:  # a run that is gone: fall back to every category
        return ""


def _log_metrics(tracking: Any, mv: Any, report: MonitoringReport) -> None:
    """The report's values as metrics of the version's run (see the module docstring)."""
    from mlflow.entities import Metric

    if not mv.run_id:
        raise FailedPrecondition("the model version has no MLflow run to log metrics to")
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    step = week_step(report.week)
    metrics = [
        Metric("monitor.score_psi", report.score_psi, now, step),
        Metric("monitor.alert_level", float(LEVELS.index(report.level)), now, step),
    ]
    if report.features:
        values = [float(f["index"]) for f in report.features]
        metrics.append(Metric("monitor.feature_csi_max", float(np.max(values)), now, step))
        metrics += [
            Metric(metric_key(f["feature"]), float(f["index"]), now, step) for f in report.features
        ]
    client = tracking.client
    for i in range(0, len(metrics), 1000):
        client.log_batch(mv.run_id, metrics=metrics[i : i + 1000])
    client.set_model_version_tag(mv.name, mv.version, "fedcredit.monitoring.last_week", report.week)
    client.set_model_version_tag(
        mv.name, mv.version, "fedcredit.monitoring.last_level", report.level
    )
