"""A monitoring run on the bank: score PSI per week against a direct numpy computation, the
platform's feature indices over gRPC with mutual TLS, alerts at the thresholds, MLflow metrics
on the model version, the saved report and the audit entry."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bank_node.monitoring.client import MonitoringClient
from bank_node.monitoring.runner import (
    MONITORING_RUN,
    Thresholds,
    load_reports,
    report_dir,
    run_monitoring,
)
from bank_node.monitoring.scores import frame_records, week_step
from bank_node.tracking import Tracking
from bank_node.tracking.registry import TAG_MODEL_ID
from models.audit import Actor
from models.errors import FailedPrecondition, NotFound
from proto.transport.node_audit import open_node_audit_log
from tests.monitoring_support import ShiftingProvider, direct_psi
from tests.whitelist_support import licences, start, tls

BASE_NAME = "sme-credit"
NAME = BASE_NAME
_SERIAL = itertools.count(1)
# ISO weeks 2026-W02 .. W05 (Mondays)
MONDAYS = [dt.date(2026, 1, 5) + dt.timedelta(weeks=k) for k in range(4)]
WEEKS = ["2026-W02", "2026-W03", "2026-W04", "2026-W05"]


def scores_frame(codes: list[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """400 scores a week: W03 the reference's values reordered (stable), W04 x1.25 (a
    warning), W05 x1.5 (an action)."""
    rng = np.random.default_rng(3)
    ref = rng.beta(2, 8, 400)
    by_week = {
        WEEKS[0]: ref,
        WEEKS[1]: rng.permutation(ref),
        WEEKS[2]: ref * 1.25,
        WEEKS[3]: ref * 1.5,
    }
    rows = []
    for monday, week in zip(MONDAYS, WEEKS, strict=True):
        for i, value in enumerate(by_week[week]):
            day = monday + dt.timedelta(days=i % 7)
            rows.append(
                {
                    "scored_at": day.isoformat(),
                    "uscc": codes[i % len(codes)],
                    "probability_of_default": value,
                }
            )
    rows.append({"scored_at": "2026-01-27", "uscc": codes[0], "probability_of_default": np.nan})
    return pd.DataFrame(rows), by_week


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for the module (creating its database takes seconds)."""
    bank_dir = tmp_path_factory.mktemp("bank") / "bank"
    Tracking.for_data_dir(bank_dir).experiment_id()
    return bank_dir


@pytest.fixture
def tracking(store: Path, tmp_path: Path) -> Iterator[Tracking]:
    """A fresh audit log and a registered version 1 (champion) of the model ``NAME`` (each
    test's model is its own: the module's store is shared)."""
    name = f"{BASE_NAME}-{next(_SERIAL)}"
    audit = open_node_audit_log(tmp_path / "bank-audit", "bank-a", "bank")
    t = Tracking.for_data_dir(store, audit=audit, actor=Actor("bank-a", "bank", "b1" * 32))
    client = t.client
    run = client.create_run(t.experiment_id(), tags={"mlflow.runName": "job-1"})
    client.log_param(run.info.run_id, "platform.categories", "tax,judicial,social_security")
    client.set_terminated(run.info.run_id)
    client.create_registered_model(name)
    mv = client.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/model",
        run_id=run.info.run_id,
        tags={TAG_MODEL_ID: "mdl-1"},
    )
    client.set_registered_model_alias(name, "champion", mv.version)
    global NAME
    NAME = name
    yield t


def _levels(report: Any) -> dict[str, str]:
    return {a.metric: a.level for a in report.alerts}


def test_score_stability_alerts_metrics_and_report(tracking: Tracking, tmp_path: Path) -> None:
    codes = [str(c) for c in licences(60)["uscc"]]
    frame, by_week = scores_frame(codes)
    records = frame_records(frame)
    assert records.week_list() == WEEKS
    data_dir = tmp_path / "bank"
    reports = {
        week: run_monitoring(
            tracking=tracking, model=NAME, records=records, week=week, data_dir=data_dir
        )
        for week in WEEKS[1:]
    }
    expected = {w: direct_psi(by_week[WEEKS[0]], by_week[w]) for w in WEEKS[1:]}
    for week, report in reports.items():
        assert report.reference_week == WEEKS[0]
        assert report.score_psi == pytest.approx(expected[week], rel=1e-9)
        assert report.model_version == "1" and report.model_id == "mdl-1"
    assert expected[WEEKS[1]] == pytest.approx(0.0, abs=1e-12)
    assert 0.1 <= expected[WEEKS[2]] < 0.25 and expected[WEEKS[3]] >= 0.25
    assert [reports[w].level for w in WEEKS[1:]] == ["ok", "warning", "action"]
    assert _levels(reports[WEEKS[1]]) == {}
    assert _levels(reports[WEEKS[2]]) == {"score_psi": "warning"}
    assert _levels(reports[WEEKS[3]]) == {"score_psi": "action"}
    # lower thresholds change the level, not the value
    strict = run_monitoring(
        tracking=tracking,
        model=f"{NAME}@champion",
        records=records,
        week=WEEKS[2],
        thresholds=Thresholds(0.05, 0.12),
    )
    assert strict.level == "action" and strict.score_psi == reports[WEEKS[2]].score_psi

    # MLflow: metrics of the version's run, one step per week
    client = tracking.client
    mv = client.get_model_version(NAME, "1")
    assert mv.run_id is not None
    history = client.get_metric_history(mv.run_id, "monitor.score_psi")
    by_step = {m.step: m.value for m in history}
    assert by_step[week_step(WEEKS[1])] == pytest.approx(expected[WEEKS[1]], abs=1e-12)
    assert by_step[week_step(WEEKS[3])] == pytest.approx(expected[WEEKS[3]])
    levels = {m.step: m.value for m in client.get_metric_history(mv.run_id, "monitor.alert_level")}
    assert levels[week_step(WEEKS[1])] == 0.0 and levels[week_step(WEEKS[3])] == 2.0
    assert mv.tags["fedcredit.monitoring.last_level"] in ("warning", "action")

    # the reports, saved privately, and the audit entries
    saved = load_reports(data_dir, NAME, "1")
    assert [r.week for r in saved] == WEEKS[1:]
    assert saved[2].alerts[0].level == "action"
    path = report_dir(data_dir, NAME, "1") / f"{WEEKS[3]}.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tracking.audit is not None
    runs = [e for e in tracking.audit.entries() if e.event == MONITORING_RUN]
    assert [e.details["level"] for e in runs] == ["ok", "warning", "action", "action"]
    assert runs[2].details["week"] == WEEKS[3] and runs[2].details["alerts"][0]["level"] == "action"


def test_weeks_must_hold_enough_scores(tracking: Tracking) -> None:
    frame = pd.DataFrame(
        {
            "scored_at": ["2026-01-05"] * 30 + ["2026-01-12"] * 5,
            "probability_of_default": np.linspace(0.01, 0.5, 35),
        }
    )
    with pytest.raises(FailedPrecondition):
        run_monitoring(tracking=tracking, model=NAME, records=frame_records(frame))
    with pytest.raises(NotFound):
        run_monitoring(tracking=tracking, model=NAME, records=frame_records(frame), week="2026-W09")


def test_platform_features_in_the_run(tracking: Tracking, tmp_path: Path) -> None:
    codes = [str(c) for c in licences(60)["uscc"]]
    provider = ShiftingProvider(codes)
    platform = start(tmp_path, n_companies=60, data=provider)
    try:
        for code in codes:
            platform.grant(code, "bank-a", "post_loan_monitoring")
        frame, _ = scores_frame(codes)
        with MonitoringClient(platform.target, tls("bank-a")) as client:
            report = run_monitoring(
                tracking=tracking,
                model=NAME,
                records=frame_records(frame),
                week=WEEKS[1],
                platform=client,
            )
        # the population: the companies scored in the week; the dates: the weeks' Sundays
        assert report.platform["n_population"] == 60
        assert (report.platform["reference_as_of"], report.platform["current_as_of"]) == (
            "2026-01-11",
            "2026-01-18",
        )
        assert provider.loads == ["2026-01-11", "2026-01-18"]
        ref, cur = provider.table_at("2026-01-11").X, provider.table_at("2026-01-18").X
        expected = [direct_psi(ref[:, j], cur[:, j]) for j in range(3)]
        assert [f["index"] for f in report.features] == pytest.approx(expected, rel=1e-9)
        levels = _levels(report)
        assert "score_psi" not in levels  # the scores did not move that week
        assert levels["feature_csi.judicial/f1"] == "action"
        assert "feature_csi.tax/f0" not in levels
        assert report.level == "action"
        run_id = tracking.client.get_model_version(NAME, "1").run_id
        assert run_id is not None
        history = tracking.client.get_metric_history(run_id, "monitor.feature_csi.judicial/f1")
        assert history[-1].value == pytest.approx(expected[1])
        # the platform audited the query under the id the bank recorded
        (entry,) = platform.entries("feature_stability_queried")
        assert entry["query_id"] == report.platform["query_id"]
    finally:
        platform.stop()


def test_monitor_cli_run_and_show(
    tracking: Tracking, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bank_node.cli.main import EXIT_OK, EXIT_USAGE, main
    from experiments.support.grpc_harness import shared_pki

    codes = [str(c) for c in licences(60)["uscc"]]
    frame, by_week = scores_frame(codes)
    scores = tmp_path / "scores.csv"
    frame.to_csv(scores, index=False)
    bank_toml = tmp_path / "bank.toml"
    bank_toml.write_text(
        f'[bank]\nparty = "bank-a"\ndata_dir = "{store}"\npki_dir = "{shared_pki()}"\n'
        'platform_target = "127.0.0.1:1"\nplatform_name = "platform"\n'
    )
    run = ("monitor", "run", "--config", bank_toml, "--model", f"{NAME}@champion")
    code = main([str(a) for a in (*run, "--scores", scores, "--no-platform", "--week", WEEKS[2])])
    text = capsys.readouterr().out
    assert code == EXIT_OK, text
    assert f"week {WEEKS[2]} (reference {WEEKS[0]}): level warning" in text
    assert "ALERT warning: score_psi" in text
    code = main(["monitor", "show", "--config", str(bank_toml), "--model", NAME, "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and [r["week"] for r in shown] == [WEEKS[2]]
    assert shown[0]["score_psi"] == pytest.approx(direct_psi(by_week[WEEKS[0]], by_week[WEEKS[2]]))
    bad = main([str(a) for a in (*run, "--scores", scores, "--no-platform", "--week", "2026-53")])
    assert bad == EXIT_USAGE


def test_served_risk_bands_from_the_audit_log(tracking: Tracking, tmp_path: Path) -> None:
    """Without a scores file the run reads the bands served with the version from the bank's
    audit log (ok outcomes of this model only), one bin per band."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from models.audit.log import AuditLog

    now = [dt.datetime(2026, 1, 6, 10, tzinfo=dt.UTC)]
    audit = AuditLog(tmp_path / "served.log", Ed25519PrivateKey.generate(), clock=lambda: now[0])
    officer = Actor("bank-a/alice", "officer", "a3" * 32)
    mix = {
        WEEKS[0]: {"A": 30, "B": 40, "C": 20, "D": 10},
        WEEKS[1]: {"A": 30, "B": 40, "C": 20, "D": 10},
        WEEKS[2]: {"A": 10, "B": 30, "C": 30, "D": 25, "E": 5},
    }
    for k, week in enumerate(WEEKS[:3]):
        now[0] = dt.datetime(2026, 1, 6 + 7 * k, 10, tzinfo=dt.UTC)
        for band, count in mix[week].items():
            for _ in range(count):
                audit.append("score_request", officer, {"model_id": "mdl-1", "risk_band": band,
                                                         "outcome": "ok", "uscc": ""})  # fmt: skip
        audit.append("score_request", officer, {"model_id": "mdl-1", "outcome": "denied"})
        audit.append("score_request", officer, {"model_id": "mdl-9", "risk_band": "E",
                                                 "outcome": "ok"})  # fmt: skip
    tracking.audit = audit
    stable = run_monitoring(tracking=tracking, model=NAME, week=WEEKS[1])
    moved = run_monitoring(tracking=tracking, model=NAME, week=WEEKS[2])
    assert stable.score_basis == moved.score_basis == "risk_band"
    assert (stable.n_reference, stable.n_current, moved.n_current) == (100, 100, 100)
    labels = ["A", "B", "C", "D", "E"]
    p = np.array([mix[WEEKS[0]].get(b, 0) for b in labels]) / 100
    q = np.array([mix[WEEKS[2]].get(b, 0) for b in labels]) / 100
    p, q = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    assert moved.score_psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert sum(moved.score_bin_terms) == pytest.approx(moved.score_psi)
    assert stable.level == "ok" and stable.score_psi == pytest.approx(0.0, abs=1e-12)
    assert moved.level == "action"
