"""SIGKILL of each side during a burst of feeds (issue 17): the platform (`fedcredit platform
serve`) and the bank's receiver (`fedcredit alerts watch`) run as real processes under mutual
TLS; feeds keep arriving while one of them is killed and restarted. At the end the bank holds
every event of every watched loan exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bank_node.alerts.client import AlertClient
from bank_node.alerts.store import BankAlertStore
from bank_node.demo_nodes import NodeProcess, free_port, start_node, wait_healthy
from models.audit.entry import Actor
from platform_node.alerts.ingest import AlertIngestor
from platform_node.alerts.store import AlertStore
from platform_node.consent.registry import ConsentRegistry
from proto.transport.node_audit import open_node_audit_log
from proto.transport.pki import init_pki
from proto.transport.tls import TlsFiles
from tests.alerts_support import caught_up, codes, enforcement_feed, loan

pytestmark = pytest.mark.slow


def _configs(work: Path, port: int) -> None:
    (work / "platform.toml").write_text(
        f'[platform]\nparty = "platform"\nlisten = "127.0.0.1:{port}"\n'
        'data_dir = "platform"\npki_dir = "pki"\n\n[platform.known_parties]\n'
        'bank-a = "bank"\nregulator = "regulator"\n'
    )
    (work / "bank.toml").write_text(
        '[bank]\nparty = "bank-a"\ndata_dir = "bank"\npki_dir = "pki"\n'
        f'platform_target = "127.0.0.1:{port}"\nplatform_name = "platform"\n'
    )


def _platform(work: Path, port: int) -> NodeProcess:
    node = start_node(
        "platform",
        ["platform", "serve", "--config", str(work / "platform.toml")],
        work / "logs" / f"platform-{time.monotonic_ns()}.log",
        work,
    )
    wait_healthy(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(work / "pki", "bank-a"), "platform", node)
    return node


def _bank(work: Path) -> NodeProcess:
    return start_node(
        "bank-alerts",
        ["alerts", "watch", "--config", str(work / "bank.toml"), "--no-rescore"],
        work / "logs" / f"bank-{time.monotonic_ns()}.log",
        work,
    )


def _kill(node: NodeProcess) -> None:
    if node.proc.poll() is None:
        os.kill(node.proc.pid, signal.SIGKILL)
    node.proc.wait(30)


def _burst(
    work: Path, companies: list[str], start: dt.date, days: int, pause_s: float
) -> threading.Thread:
    def run() -> None:
        ing = AlertIngestor(work / "platform")
        for d in range(days):
            ing.ingest(
                "enforcements",
                enforcement_feed(companies, day=(start + dt.timedelta(days=d)).isoformat()),
            )
            time.sleep(pause_s)

    t = threading.Thread(target=run)
    t.start()
    return t


def _wait_caught_up(work: Path, timeout_s: float) -> tuple[set[tuple[str, str]], int]:
    bank = BankAlertStore.in_data_dir(work / "bank")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not caught_up(work / "platform", bank):
        time.sleep(0.1)
    rows = bank.list(limit=1_000_000)
    return {(r.event_id, r.loan_id) for r in rows}, len(rows)


def test_sigkill_either_side_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    work = tmp_path
    init_pki(work / "pki", ["bank-a"])
    port = free_port()
    _configs(work, port)
    companies = codes(40, seed=21)
    audit = open_node_audit_log(work / "platform", "platform", "platform")
    consent = ConsentRegistry.in_data_dir(work / "platform", audit, actor=Actor("op", "platform"))
    for c in companies:
        consent.grant(
            c, "bank-a", "post_loan_monitoring", dt.datetime.now(dt.UTC) + dt.timedelta(30)
        )
    consent.close()

    platform = _platform(work, port)
    client = AlertClient(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(work / "pki", "bank-a"))
    assert all(o.accepted for o in client.register([loan(i, c) for i, c in enumerate(companies)]))
    client.close()
    bank = _bank(work)
    try:
        # burst 1: the platform is killed in the middle and restarted
        burst = _burst(work, companies, dt.date(2026, 6, 1), days=12, pause_s=0.1)
        time.sleep(0.5)
        _kill(platform)
        time.sleep(0.3)
        platform = _platform(work, port)
        burst.join()
        # burst 2: the bank's receiver is killed in the middle and restarted
        burst = _burst(work, companies[:25], dt.date(2026, 7, 1), days=12, pause_s=0.1)
        time.sleep(0.6)
        _kill(bank)
        time.sleep(0.3)
        bank = _bank(work)
        burst.join()
        got, n_rows = _wait_caught_up(work, 60)
    finally:
        _kill(bank)
        platform.stop()
    expected = {(e.event_id, f"L{companies.index(e.uscc):06d}")
                for e in AlertStore.in_data_dir(work / "platform").events()}  # fmt: skip
    assert len(expected) == 12 * 40 + 12 * 25
    assert got == expected  # nothing lost
    assert n_rows == len(expected)  # nothing duplicated
