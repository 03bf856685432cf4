"""Console parts without a browser: accounts, sessions/CSRF, the message catalogue, the
objection state machine, and the platform console's refusals through starlette's client."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from experiments.support.console import cheap_hashes
from models.audit import events as ev
from models.audit.entry import Actor
from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.federation.party import Caller
from models.uscc import generate_usccs
from platform_node.consent.registry import ConsentRegistry
from platform_node.objections import ObjectionStore
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.web.accounts import (
    AccountLocked,
    AccountStore,
    BadCredentials,
    check_password_rules,
)
from proto.transport.web.i18n import LANGS, catalogue

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Zhengzhou-2025-ok"
A, B = generate_usccs(2, np.random.default_rng(18))


@pytest.fixture(autouse=True)
def _cheap_hashes() -> Iterator[None]:
    with cheap_hashes():
        yield


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_password_rules_and_argon2_hashes(tmp_path: Path) -> None:
    for bad in ("short1A", "onlyletterslong", "123456789012345", "alice-2025-secret"):
        with pytest.raises(InvalidArgument):
            check_password_rules(bad, "alice")
    store = AccountStore(tmp_path / "a.db")
    store.create("alice", PASSWORD, "officer", "bank-a/alice")
    raw = (tmp_path / "a.db").read_bytes()
    assert PASSWORD.encode() not in raw and b"$argon2id$" in raw
    assert (tmp_path / "a.db").stat().st_mode & 0o077 == 0
    assert store.authenticate("alice", PASSWORD).party == "bank-a/alice"
    with pytest.raises(BadCredentials) as wrong:
        store.authenticate("alice", "Wrong-password-1")
    with pytest.raises(BadCredentials) as unknown:
        store.authenticate("nobody", "Wrong-password-1")
    assert str(wrong.value) == str(unknown.value)  # the same answer either way
    with pytest.raises(InvalidArgument):
        store.create("bob", PASSWORD, "superuser", "bank-a/bob")


def test_lockout_after_repeated_failures_refuses_even_the_right_password(tmp_path: Path) -> None:
    clock = Clock()
    store = AccountStore(tmp_path / "a.db", max_failures=3, lockout_s=600, clock=clock)
    store.create("alice", PASSWORD, "officer", "bank-a/alice")
    for _ in range(2):
        with pytest.raises(BadCredentials):
            store.authenticate("alice", "Wrong-password-1")
    with pytest.raises(AccountLocked):
        store.authenticate("alice", "Wrong-password-1")
    with pytest.raises(AccountLocked):
        store.authenticate("alice", PASSWORD)
    clock.now += dt.timedelta(seconds=601)
    assert store.authenticate("alice", PASSWORD).username == "alice"


def test_every_message_key_exists_in_both_languages() -> None:
    cat = catalogue()
    assert cat.missing() == []
    used: set[str] = set()
    pattern = re.compile(r"""\bt\(\s*["']([a-z0-9_.\-]+)["']""")
    dirs = ["proto/transport/web", "bank_node/console", "platform_node/console"]
    for d in dirs:
        for path in (ROOT / d).rglob("*"):
            if path.suffix in (".html", ".py"):
                used |= {k for k in pattern.findall(path.read_text()) if not k.endswith(".")}
    used |= {"login.bad", "login.locked"}
    missing = sorted(k for k in used if k not in cat.messages)
    assert missing == []
    for lang in LANGS:
        assert cat.text("login.heading", lang)


# -- the objection state machine --------------------------------------------------------------
@pytest.fixture()
def objections(tmp_path: Path) -> Iterator[tuple[ObjectionStore, Any]]:
    audit = open_node_audit_log(tmp_path, "platform", "platform")
    store = ObjectionStore(tmp_path, audit)
    yield store, audit
    store.close()


def _company(code: str) -> Actor:
    return Actor(f"company/{code}", "company", "")


OPERATOR = Actor("platform/op", "operator", "")


def test_objection_steps_are_stored_and_audited(objections: tuple[ObjectionStore, Any]) -> None:
    store, audit = objections
    obj = store.submit(A, "objection", "judgments", "r1", "2024-01-02", "wrong", _company(A))
    assert obj.state == "submitted" and store.excluded_records(A) == set()
    with pytest.raises(FailedPrecondition):  # one open objection per record
        store.submit(A, "objection", "judgments", "r1", "2024-01-02", "again", _company(A))
    store.request_exclusion(obj.objection_id, _company(A))
    assert store.excluded_records(A) == {("judgments", "r1")}
    with pytest.raises(PermissionDenied):  # a company cannot decide its own objection
        store.act(obj.objection_id, "correct", _company(A))
    with pytest.raises(NotFound):  # another company's objection does not exist for B
        store.act(obj.objection_id, "withdraw", _company(B))
    with pytest.raises(InvalidArgument):  # a rejection needs a reason
        store.act(obj.objection_id, "reject", OPERATOR)
    store.act(obj.objection_id, "review", OPERATOR)
    done = store.act(obj.objection_id, "correct", OPERATOR, "court record updated")
    assert done.state == "corrected" and store.excluded_records(A) == {("judgments", "r1")}
    with pytest.raises(FailedPrecondition):
        store.act(obj.objection_id, "reject", OPERATOR, "too late")
    steps = [(s.action, s.to_state) for s in store.steps(obj.objection_id)]
    assert steps == [("submit", "submitted"), ("exclude", "submitted"),
                     ("review", "in_review"), ("correct", "corrected")]  # fmt: skip
    logged = [e for e in audit.entries() if e.event.startswith("objection_")]
    assert [e.actor.party for e in logged] == [f"company/{A}"] * 2 + ["platform/op"] * 2
    assert all("wrong" not in str(e.details) for e in logged)  # the reason text stays out
    with pytest.raises(InvalidArgument):  # repair only for penalty / dishonesty records
        store.submit(A, "repair", "judgments", "r2", "2024-01-02", "x", _company(A))
    with pytest.raises(InvalidArgument):
        store.submit(A, "objection", "judgments", "r3", "2024-01-02", "x", _company(A),
                     attachment=b"<html>not a pdf")  # fmt: skip


# -- the platform console through starlette's client -------------------------------------------
@pytest.fixture()
def platform_console(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from platform_node.console.app import build_platform_console

    audit = open_node_audit_log(tmp_path, "platform", "platform")
    registry = ConsentRegistry.in_data_dir(tmp_path, audit)
    accounts = AccountStore.in_data_dir(tmp_path, max_failures=3)
    accounts.create("company-a", PASSWORD, "company", f"company/{A}", subject=A)
    accounts.create("op", PASSWORD, "operator", "platform/op")
    app, ctx = build_platform_console(
        party="platform", data_dir=tmp_path, audit=audit, consent=registry,
        known_parties={"bank-a": "bank", "regulator": "regulator"}, accounts=accounts,
    )  # fmt: skip
    client = TestClient(app, base_url="https://testserver")
    yield {"client": client, "audit": audit, "registry": registry, "ctx": ctx}
    registry.close()


def _csrf(client: TestClient, path: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert m, path
    return m.group(1)


def _login(client: TestClient, user: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/login", data={"username": user, "password": password, "csrf": _csrf(client, "/login")},
        follow_redirects=False,
    )  # fmt: skip


def test_sign_in_sets_a_secure_cookie_and_csrf_guards_every_post(platform_console) -> None:
    client = platform_console["client"]
    r = client.get("/login")
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-fc_session=")
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict"))
    # a POST without the token is refused before any route code runs
    assert client.post("/login", data={"username": "op", "password": PASSWORD}).status_code == 403
    r = _login(client, "op")
    assert r.status_code == 303 and r.headers["location"] == "/operator/objections"
    assert r.headers["set-cookie"].split(";")[0] != cookie.split(";")[0]  # new session id
    r = client.post("/company/consents/grant", data={"bank": "bank-a", "days": "30"})
    assert r.status_code == 403
    assert platform_console["registry"].list() == []


def test_wrong_password_and_lockout_are_audited(platform_console) -> None:
    client = platform_console["client"]
    assert _login(client, "op", "Wrong-password-1").status_code == 401
    for _ in range(2):
        r = _login(client, "op", "Wrong-password-1")
    assert r.status_code == 401 and ("锁定" in r.text)
    assert _login(client, "op").status_code == 401  # locked: the right password too
    failed = [e for e in platform_console["audit"].entries() if e.event == "console_login_failed"]
    assert [e.details["locked"] for e in failed] == [False, False, True, True]


def test_company_grants_and_revokes_and_cannot_open_operator_pages(platform_console) -> None:
    client = platform_console["client"]
    _login(client, "company-a")
    token = _csrf(client, "/company/consents")
    r = client.post("/company/consents/grant", data={"bank": "bank-a", "scope": "scoring",
                    "days": "30", "csrf": token}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    (_granted,) = platform_console["registry"].list(A)
    entry = [e for e in platform_console["audit"].entries() if e.event == ev.CONSENT_GRANTED][-1]
    assert entry.actor.party == f"company/{A}" and entry.actor.role == "company"
    assert client.get("/operator/objections").status_code == 403
    refused = [e for e in platform_console["audit"].entries() if e.event == "console_refused"]
    assert refused and refused[-1].actor.party == f"company/{A}"
    r = client.post("/company/consents/revoke", data={"bank": "bank-a", "scope": "scoring",
                    "csrf": token}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and platform_console["registry"].list(A)[0].revoked_at
    assert client.get("/lang/en?next=/company/consents").status_code == 200
    assert "Consents" in client.get("/company/consents").text


def test_cli_adds_unlocks_and_lists_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from bank_node.cli.main import main

    toml = tmp_path / "platform.toml"
    toml.write_text(
        f'[platform]\ndata_dir = "{tmp_path / "p"}"\n[platform.known_parties]\nbank-a = "bank"\n'
        "[platform.console]\nenabled = true\nmax_failures = 2\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["console", "account", "add", "--config", str(toml), "--username", "acme",
            "--role", "company", "--uscc", A.lower(), "--password-stdin"]  # fmt: skip
    assert main(argv) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("weak\n"))
    assert main([*argv[:6], "bob", "--role", "operator", "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*argv[:6], "acme2", "--role", "officer", "--password-stdin"]) == 2  # bank role
    store = AccountStore.in_data_dir(tmp_path / "p", max_failures=2)
    assert store.get("acme").party == f"company/{A}" and store.get("acme").subject == A
    for _ in range(2):
        with pytest.raises((BadCredentials, AccountLocked)):
            store.authenticate("acme", "Wrong-password-1")
    assert main(["console", "account", "list", "--config", str(toml)]) == 0
    assert "(locked)" in capsys.readouterr().out
    assert main(["console", "account", "unlock", "--config", str(toml), "--username", "acme"]) == 0
    assert store.authenticate("acme", PASSWORD).username == "acme"
    audit = open_node_audit_log(tmp_path / "p", "platform", "platform")
    changes = [e.details["action"] for e in audit.entries() if e.event == "console_account_changed"]
    assert changes == ["add", "unlock"]


def test_excluded_and_corrected_records_leave_the_features(
    objections: tuple[ObjectionStore, Any],
) -> None:
    from experiments.support.console import _catalogue
    from platform_node.catalogue.store import CatalogueStore
    from platform_node.console.records import company_records
    from platform_node.data_provider import PlatformDataProvider
    from platform_node.features.pipeline import compute_features
    from platform_node.objections.exclusions import excluded_rows

    store, _audit = objections
    root = store.root.parent
    _catalogue(root, A, B)
    cat = CatalogueStore(root)

    def cases() -> float:
        f = compute_features(cat, [A], "2025-01-01", categories=["judicial"],
                             exclude=excluded_rows(root))  # fmt: skip
        return float(f.X[0, f.feature_names.index("jud_defendant_cases_3y")])

    assert cases() == 2.0
    provider = PlatformDataProvider(root)
    caller, params = Caller("bank-a", "bank"), {"as_of": "2025-01-01", "categories": "judicial"}

    def served() -> float:  # through the provider's cache, as scoring and training see it
        table = provider.load("catalogue", caller, params)
        return float(table.X[list(table.ids).index(A), table.feature_names.index(
            "jud_defendant_cases_3y")])  # fmt: skip

    assert served() == 2.0
    judicial = next(c for c in company_records(root, A) if c.key == "judicial")
    old = next(r for r in judicial.records if r.date == "2023-05-10")
    obj = store.submit(A, "objection", old.table, old.record_id, old.date, "撤销", _company(A))
    assert cases() == 2.0  # disputed, no exclusion asked: still counts
    store.request_exclusion(obj.objection_id, _company(A))
    assert cases() == 1.0
    store.act(obj.objection_id, "reject", OPERATOR, "记录属实")
    assert cases() == 2.0  # rejected: counts again
    new = next(r for r in judicial.records if r.date == "2024-02-01")
    obj = store.submit(A, "objection", new.table, new.record_id, new.date, "已更正", _company(A))
    store.act(obj.objection_id, "correct", OPERATOR, "法院已更正")
    assert cases() == 1.0  # corrected: no longer counts
    assert served() == 1.0  # the cached table was rebuilt after the change


def test_nodes_serve_their_consoles_when_configured(tmp_path: Path) -> None:
    import ssl

    import httpx

    from bank_node.config import BankConfig
    from bank_node.console.app import start_bank_console
    from experiments.support.grpc_harness import shared_pki
    from platform_node.config import PlatformConfig
    from platform_node.node import start_platform_node

    pki = shared_pki()
    (tmp_path / "platform.toml").write_text(
        f'[platform]\nlisten = "127.0.0.1:0"\ndata_dir = "{tmp_path / "p"}"\npki_dir = "{pki}"\n'
        '[platform.known_parties]\nbank-a = "bank"\n'
        '[platform.console]\nenabled = true\nlisten = "127.0.0.1:0"\n'
    )
    running = start_platform_node(PlatformConfig.load(tmp_path / "platform.toml"))
    (tmp_path / "bank.toml").write_text(
        f'[bank]\nlisten = "127.0.0.1:0"\ndata_dir = "{tmp_path / "b"}"\npki_dir = "{pki}"\n'
        f'platform_target = "127.0.0.1:{running.port}"\n'
        '[bank.console]\nenabled = true\nlisten = "127.0.0.1:0"\n'
    )
    bank = start_bank_console(BankConfig.load(tmp_path / "bank.toml"))
    try:
        for url in (running.extras["console"].url, bank.url):
            assert url.startswith("https://")
            r = httpx.get(url + "/login", verify=ssl.create_default_context(cafile=pki / "ca.pem"))
            assert r.status_code == 200 and "__Host-fc_session" in r.headers["set-cookie"]
    finally:
        bank.stop()
        running.stop(0.2)
    assert PlatformConfig.load(tmp_path / "platform.toml").console.enabled
    (tmp_path / "off.toml").write_text(f'[bank]\ndata_dir = "{tmp_path / "b"}"\n')
    assert not BankConfig.load(tmp_path / "off.toml").console.enabled  # off by default


def test_demo_accounts_and_config_lines(tmp_path: Path) -> None:
    import tomllib

    from bank_node.console.demo import console_toml, create_demo_accounts, describe

    accounts = create_demo_accounts(tmp_path / "b", tmp_path / "p", companies=[A])
    again = create_demo_accounts(tmp_path / "b", tmp_path / "p", companies=[A])  # idempotent
    assert [a.username for a in accounts] == [a.username for a in again]
    store = AccountStore.in_data_dir(tmp_path / "p")
    assert store.authenticate(A, accounts[-1].password).subject == A
    doc = tomllib.loads("[bank]\n" + console_toml("bank", "127.0.0.1:8443"))
    assert doc["bank"]["console"] == {"enabled": True, "listen": "127.0.0.1:8443"}
    text = describe(accounts, {"bank": "https://localhost:8443"})
    assert "alice" in text and "platform console" not in text


def test_officer_sees_and_acknowledges_alerts(tmp_path: Path) -> None:
    """Issue 18: the officer's alerts on watched companies (issue 17's early warning): type and
    severity as the platform sent them, the champion's re-score, an acknowledgement by the
    signed-in person (audited), and nothing for a role that is not an officer."""
    from bank_node.alerts.store import BankAlertStore, ReceivedAlert
    from bank_node.config import BankConfig
    from bank_node.console.app import build_bank_console
    from experiments.support.grpc_harness import shared_pki

    (tmp_path / "bank.toml").write_text(
        f'[bank]\ndata_dir = "{tmp_path / "b"}"\npki_dir = "{shared_pki()}"\n'
    )
    config = BankConfig.load(tmp_path / "bank.toml")
    store = BankAlertStore.in_data_dir(config.data_dir)
    store.receive(
        [ReceivedAlert("ev-1", "loan-9", A, "dishonest_debtor", 3, "2026-12-01T00:00:00Z")], b"c"
    )
    store.finish("ev-1", "loan-9", priority="high", rescore="ok", pd=0.31, band_before="C",
                 band_after="F", webhook="")  # fmt: skip
    store.close()
    accounts = AccountStore.in_data_dir(config.data_dir, max_failures=3)
    accounts.create("alice", PASSWORD, "officer", "bank-a/alice")
    accounts.create("exam", PASSWORD, "regulator", "regulator/exam")
    app, ctx = build_bank_console(config, accounts=accounts)
    client = TestClient(app, base_url="https://testserver")
    assert _login(client, "exam").status_code == 303
    assert client.get("/officer/alerts").status_code == 403
    client.post("/logout", data={"csrf": _csrf(client, "/regulator")})
    client = TestClient(app, base_url="https://testserver")
    assert _login(client, "alice").status_code == 303
    page = client.get("/officer/alerts").text
    assert "列入失信被执行人" in page and "loan-9" in page and "C &rarr; F" in page
    csrf = _csrf(client, "/officer/alerts")
    assert client.post("/officer/alerts/ack", data={"event_id": "ev-1"}).status_code == 403
    r = client.post("/officer/alerts/ack", data={"event_id": "ev-1", "csrf": csrf},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert 'id="no-alerts"' in client.get("/officer/alerts").text
    assert "bank-a/alice" in client.get("/officer/alerts?all=1").text
    acks = [e for e in ctx.audit.entries() if e.event == "alert_acknowledged"]
    assert acks[-1].details["username"] == "alice" and acks[-1].details["event_id"] == "ev-1"
