"""Webhook retries: a real local HTTP server that fails, durable retries with backoff that
survive a bank restart, the same signed body and idempotency key on every attempt, and a dead
letter after the last attempt, shown by ``fedcredit alerts list``."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bank_node.alerts.processor import AlertProcessor, AlertSettings
from bank_node.alerts.store import BankAlertStore, ReceivedAlert
from bank_node.alerts.webhook import (
    ATTEMPT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    Webhook,
    verify,
)
from bank_node.cli.main import main
from experiments.support.grpc_harness import shared_pki
from models.audit.entry import Actor
from proto.transport.node_audit import open_node_audit_log
from tests.alerts_support import codes

SECRET = b"0123456789abcdef-webhook-secret"
ACTOR = Actor("bank-a", "bank", "")


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` requests, then 204; records every request."""

    failures: ClassVar[int] = 0
    received: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        cls.received.append((body, dict(self.headers.items())))
        self.send_response(503 if len(cls.received) <= cls.failures else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Flaky.received = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/alerts"
    srv.shutdown()


def _processor(store: BankAlertStore, tmp: Path, hook: Webhook) -> AlertProcessor:
    audit = open_node_audit_log(tmp / "bank", "bank-a", "bank")
    return AlertProcessor(store, audit, ACTOR, webhook=hook, poll_s=0.05)


def _alert(store: BankAlertStore) -> ReceivedAlert:
    a = ReceivedAlert("ev-00aa", "L000001", codes(1)[0], "enforcement_new", 3, "2026-12-01Z")
    store.receive([a], b"")
    return a


def _retry_until(processor: AlertProcessor, store: BankAlertStore, state: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        processor.retry_webhooks()
        if store.list()[0].webhook == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"webhook never reached {state}: {store.list()[0]}")


def test_failures_are_retried_after_a_restart_with_the_same_signed_body(
    server: str, tmp_path: Path
) -> None:
    _Flaky.failures = 3
    hook = Webhook(server, SECRET, max_attempts=6, backoff_s=0.3, max_backoff_s=0.6)
    store = BankAlertStore.in_data_dir(tmp_path / "bank")
    a = _alert(store)
    _processor(store, tmp_path, hook).drain()  # processed; the first attempt fails
    first = store.list()[0]
    assert (first.webhook, first.webhook_attempts, first.webhook_error) == (
        "pending",
        1,
        "http_503",
    )
    assert first.webhook_next_at > first.received_at  # backoff: not due at once
    store.close()

    # the bank restarts: a new store and processor on the same directory carry on
    store = BankAlertStore.in_data_dir(tmp_path / "bank")
    processor = _processor(store, tmp_path, hook)
    assert processor.drain() == 0  # nothing is processed twice
    assert processor.retry_webhooks() == 0  # backoff: the retry is not due yet
    _retry_until(processor, store, "ok")
    done = store.list()[0]
    assert done.webhook_attempts == 4 and done.webhook_error == ""
    assert len(_Flaky.received) == 4
    bodies = {body for body, _ in _Flaky.received}
    assert len(bodies) == 1  # every attempt sends the same bytes
    key = f"{a.event_id}/{a.loan_id}"
    for n, (body, headers) in enumerate(_Flaky.received, start=1):
        assert verify(body, SECRET, headers[SIGNATURE_HEADER])
        assert not verify(body, b"another-secret-0123456", headers[SIGNATURE_HEADER])
        assert headers[IDEMPOTENCY_HEADER] == key and headers[ATTEMPT_HEADER] == str(n)
        assert json.loads(body)["idempotency_key"] == key
    processor.retry_webhooks()
    assert len(_Flaky.received) == 4  # delivered: never sent again
    store.close()


def test_a_webhook_that_always_fails_ends_as_a_dead_letter_listed_by_the_cli(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _Flaky.failures = 10**6
    hook = Webhook(server, SECRET, max_attempts=3, backoff_s=0.01, max_backoff_s=0.05)
    store = BankAlertStore.in_data_dir(tmp_path / "bank")
    _alert(store)
    processor = _processor(store, tmp_path, hook)
    processor.drain()
    _retry_until(processor, store, "dead")
    dead = store.list()[0]
    assert dead.webhook_attempts == 3 and dead.webhook_error == "http_503"
    time.sleep(0.1)
    assert processor.retry_webhooks() == 0 and len(_Flaky.received) == 3  # no more attempts
    for body, headers in _Flaky.received:
        assert verify(body, SECRET, headers[SIGNATURE_HEADER])
    store.close()

    config = tmp_path / "bank.toml"
    config.write_text(f'[bank]\ndata_dir = "{tmp_path / "bank"}"\npki_dir = "{shared_pki()}"\n')
    capsys.readouterr()
    assert main(["alerts", "list", "--config", str(config), "--webhook", "dead"]) == 0
    out = capsys.readouterr().out
    assert "webhook DEAD after 3 attempts (http_503)" in out and "1 alerts" in out
    assert main(["alerts", "list", "--config", str(config), "--webhook", "ok"]) == 0
    assert "0 alerts" in capsys.readouterr().out


def test_retry_settings_are_read_and_checked(tmp_path: Path) -> None:
    folder = tmp_path / "alerts"
    folder.mkdir()
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "webhook_url": "http://127.0.0.1:9/x",
                "webhook_secret": "s" * 16,
                "webhook_max_attempts": 4,
                "webhook_backoff_s": 2,
            }
        )
    )
    hook = AlertSettings.load(tmp_path).webhook()
    assert hook is not None and hook.max_attempts == 4
    assert [hook.delay_s(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert Webhook("http://x", SECRET, backoff_s=30, max_backoff_s=60).delay_s(5) == 60.0


def test_a_store_of_the_earlier_version_gains_the_retry_columns(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "alerts" / "alerts.db"
    db.parent.mkdir(mode=0o700)
    with sqlite3.connect(db) as conn:  # the earlier schema: a webhook outcome, no retries
        conn.execute(
            "CREATE TABLE alerts (event_id TEXT NOT NULL, loan_id TEXT NOT NULL, seq INTEGER"
            " NOT NULL, uscc TEXT NOT NULL, event_type TEXT NOT NULL, severity INTEGER NOT NULL,"
            " ingested_at TEXT NOT NULL, received_at TEXT NOT NULL, priority TEXT NOT NULL"
            " DEFAULT 'normal', processed INTEGER NOT NULL DEFAULT 0, rescore TEXT NOT NULL"
            " DEFAULT '', pd REAL, band_before TEXT NOT NULL DEFAULT '', band_after TEXT NOT"
            " NULL DEFAULT '', webhook TEXT NOT NULL DEFAULT '', acked_at TEXT NOT NULL DEFAULT"
            " '', acked_by TEXT NOT NULL DEFAULT '', PRIMARY KEY (event_id, loan_id))"
        )
        conn.execute(
            "INSERT INTO alerts (event_id, loan_id, seq, uscc, event_type, severity,"
            " ingested_at, received_at, processed, webhook) VALUES ('ev-1', 'L1', 7, 'X',"
            " 'penalty', 2, '', '', 1, 'failed:unreachable')"
        )
    store = BankAlertStore.in_data_dir(tmp_path)
    (old,) = store.list()
    assert (old.seq, old.webhook, old.webhook_attempts) == (7, "failed:unreachable", 0)
    assert store.webhooks_due("9999") == []  # an earlier failure is not retried
    store.close()
