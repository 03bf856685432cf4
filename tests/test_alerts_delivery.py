"""WatchAlerts over real gRPC with mutual TLS: consent at registration and delivery,
revocation, restarts of either side, nothing lost or duplicated."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bank_node.alerts.store import BankAlertStore
from models.errors import PermissionDenied
from tests.alerts_support import (
    Platform,
    bank_client,
    caught_up,
    codes,
    enforcement_feed,
    free_port,
    loan,
    watcher,
)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = Platform(tmp_path / "platform", free_port()).start()
    yield p
    p.stop()


def _keys(store: BankAlertStore) -> list[tuple[str, str]]:
    return [(a.event_id, a.loan_id) for a in store.list(limit=100_000)]


def test_watch_refused_without_consent_and_event_never_delivered(
    platform: Platform, tmp_path: Path
) -> None:
    a, b = codes(2)
    platform.grant(a)
    client = bank_client(platform.port)
    outcomes = client.register([loan(1, a), loan(2, b)])
    assert [o.accepted for o in outcomes] == [True, False]
    assert outcomes[1].error_code == "PERMISSION_DENIED"
    assert b not in outcomes[1].error_message
    # another bank cannot piggy-back on bank-a's consent
    other = bank_client(platform.port, "bank-b").register([loan(3, a)])
    assert not other[0].accepted

    w, store = watcher(platform.port, tmp_path / "bank")
    w.start()
    try:
        report = platform.ingestor().ingest("enforcements", enforcement_feed([a, b]))
        assert report.events == 2
        assert w.wait_for(lambda: store.count() >= 1 and store.cursor() != b"", 10)
        assert w.wait_for(lambda: caught_up(platform.data_dir, store), 5)
    finally:
        w.stop()
    got = store.list()
    assert [(x.uscc, x.event_type, x.severity) for x in got] == [(a, "enforcement_new", 3)]
    assert all(x.uscc != b for x in got)
    client.close()


def test_revoked_consent_stops_delivery(platform: Platform, tmp_path: Path) -> None:
    a, b = codes(2, seed=11)
    platform.grant(a)
    platform.grant(b)
    client = bank_client(platform.port)
    assert all(o.accepted for o in client.register([loan(1, a), loan(2, b)]))
    w, store = watcher(platform.port, tmp_path / "bank")
    w.start()
    try:
        ing = platform.ingestor()
        ing.ingest("enforcements", enforcement_feed([a, b], day="2026-11-01"))
        assert w.wait_for(lambda: store.count() == 2, 10)
        platform.revoke(b)
        ing.ingest("enforcements", enforcement_feed([a, b], day="2026-11-03"))
        assert w.wait_for(lambda: caught_up(platform.data_dir, store), 10)
    finally:
        w.stop()
    by_company: dict[str, list[object]] = {}
    for x in store.list():
        by_company.setdefault(x.uscc, []).append(x)
    assert len(by_company[a]) == 2 and len(by_company[b]) == 1
    # the watch was stopped when delivery found the consent revoked
    assert [x.loan_id for x in client.list()] == ["L000001"]
    with pytest.raises(PermissionDenied):
        platform.consent.check(b, "bank-a", "post_loan_monitoring")  # type: ignore[union-attr]
    client.close()


def test_bank_restart_and_offline_gap_lose_and_duplicate_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    companies = codes(20, seed=3)
    for c in companies:
        platform.grant(c)
    client = bank_client(platform.port)
    assert all(o.accepted for o in client.register([loan(i, c) for i, c in enumerate(companies)]))
    ing = platform.ingestor()
    w, store = watcher(platform.port, tmp_path / "bank")
    w.start()
    ing.ingest("enforcements", enforcement_feed(companies[:10], day="2026-10-01"))
    assert w.wait_for(lambda: store.count() == 10, 10)
    w.stop()
    store.close()
    # offline: three feeds arrive
    for d in ("2026-10-02", "2026-10-03", "2026-10-04"):
        ing.ingest("enforcements", enforcement_feed(companies, day=d))
    w2, store2 = watcher(platform.port, tmp_path / "bank")
    w2.start()
    try:
        assert w2.wait_for(lambda: caught_up(platform.data_dir, store2), 10)
    finally:
        w2.stop()
    keys = _keys(store2)
    assert len(keys) == len(set(keys)) == 10 + 3 * 20
    expected = {e.event_id for e in ing.store.events()}
    assert {k[0] for k in keys} == expected
    # ordered per company
    for c in companies:
        seqs = [a.seq for a in store2.list(uscc=c)]
        assert seqs == sorted(seqs)
    path = tmp_path / "bank" / "alerts" / "alerts.db"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "platform" / "alerts" / "alerts.db").st_mode) == 0o600
    client.close()


def test_platform_restart_mid_stream(platform: Platform, tmp_path: Path) -> None:
    companies = codes(30, seed=5)
    for c in companies:
        platform.grant(c)
    client = bank_client(platform.port)
    assert all(o.accepted for o in client.register([loan(i, c) for i, c in enumerate(companies)]))
    client.close()
    w, store = watcher(platform.port, tmp_path / "bank")
    w.start()
    try:
        ing = platform.ingestor()
        ing.ingest("enforcements", enforcement_feed(companies, day="2026-09-01"))
        assert w.wait_for(lambda: store.count() >= 1, 10)
        platform.stop()  # mid-stream: the bank's stream breaks
        # while the platform is down, a feed is written straight into its catalogue
        ing.ingest("enforcements", enforcement_feed(companies, day="2026-09-02"))
        platform.start()
        assert w.wait_for(lambda: caught_up(platform.data_dir, store), 15)
        assert w.reconnects >= 1
    finally:
        w.stop()
    keys = _keys(store)
    assert len(keys) == len(set(keys)) == 60
