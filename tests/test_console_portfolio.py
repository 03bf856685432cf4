"""Issue 17 in the console: officers query the financing white list (through the platform, as
``fedcredit whitelist list``), heads of risk and regulators read the monitoring reports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bank_node.cli.main import main
from bank_node.config import BankConfig
from bank_node.console.app import build_bank_console
from bank_node.monitoring.runner import MonitoringReport, save_report
from proto.transport.web.accounts import AccountStore
from tests.whitelist_support import Platform, pki_with_recommenders, start

PASSWORD = "Correct-Horse-42!"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = start(tmp_path, n_companies=8)
    yield p
    p.stop()


def _console(tmp_path: Path, platform_target: str) -> tuple[Any, Any, BankConfig]:
    pki = pki_with_recommenders()
    (tmp_path / "bank.toml").write_text(
        f'[bank]\nparty = "bank-a"\ndata_dir = "{tmp_path / "bank"}"\npki_dir = "{pki}"\n'
        f'platform_target = "{platform_target}"\nplatform_name = "platform"\n'
    )
    config = BankConfig.load(tmp_path / "bank.toml")
    accounts = AccountStore.in_data_dir(config.data_dir, max_failures=3)
    accounts.create("alice", PASSWORD, "officer", "bank-a/alice")
    accounts.create("risk", PASSWORD, "approver", "bank-a/risk")
    app, ctx = build_bank_console(config, accounts=accounts)
    return app, ctx, config


def _client(app: Any, user: str) -> TestClient:
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    r = client.post("/login", data={"username": user, "password": PASSWORD, "csrf": csrf.group(1)},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    return client


def test_officer_sees_the_listed_companies_that_consented(
    platform: Platform, tmp_path: Path
) -> None:
    pki = pki_with_recommenders()
    c = [str(u) for u in platform.companies["uscc"]]
    csv = tmp_path / "candidates.csv"
    csv.write_text(f"uscc,reason,criteria\n{c[0]},专精特新,high-tech\n{c[1]},exporter,\n")
    assert main(["whitelist", "upload", "--platform", platform.target, "--file", str(csv),
                 "--cert-dir", str(pki / "jinshui-district")]) == 0  # fmt: skip
    platform.grant(c[0], "bank-a", "whitelist_listing")  # c[1] never consented to be listed
    app, ctx, _ = _console(tmp_path, platform.target)
    officer = _client(app, "alice")
    page = officer.get("/officer/whitelist").text
    assert c[0] in page and "专精特新" in page and c[1] not in page
    assert 'id="whitelist-total">' in page
    assert c[0] not in officer.get("/officer/whitelist?industry=F").text
    viewed = [e for e in ctx.audit.entries() if e.event == "console_whitelist_viewed"]
    assert viewed[-1].details["username"] == "alice"
    assert _client(app, "risk").get("/officer/whitelist").status_code == 403


def test_head_of_risk_reads_monitoring_reports(tmp_path: Path) -> None:
    app, _, config = _console(tmp_path, "127.0.0.1:1")
    risk = _client(app, "risk")
    assert 'id="no-reports"' in risk.get("/risk/monitoring").text
    save_report(
        config.data_dir,
        MonitoringReport(
            model_name="sme-default", model_version="3", model_id="m3", week="2026-W48",
            reference_week="2026-W40", n_reference=500, n_current=480, score_psi=0.1234,
            score_level="warning", score_bin_terms=[0.01] * 10,
            features=[{"feature": "tax/f3", "group": "tax", "index": 0.31, "level": "action"},
                      {"feature": "judicial/f1", "group": "judicial", "index": 0.02,
                       "level": "ok"}],
            level="action",
        ),
    )  # fmt: skip
    page = risk.get("/risk/monitoring").text
    assert "sme-default v3" in page and "0.1234" in page and "tax/f3: 0.310" in page
    assert "需处置" in page  # the action level, in Chinese by default
    assert _client(app, "alice").get("/risk/monitoring").status_code == 403
