"""Sealed alert cursors: the stream reveals no global log position and no city-wide volume.

The platform seals its log position for the bank (AES-GCM, random nonce, bound to the bank);
progress marks come after the bank's own alerts or on the heartbeat clock only; a legacy
integer cursor on the bank is dropped (restart from each watch's registration, duplicates
removed); a refused cursor makes the watcher start again, losing nothing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bank_node.alerts.store import BankAlertStore
from models.errors import FailedPrecondition
from models.federation.party import Caller
from platform_node.alerts.cursor import TOKEN_BYTES, CursorSealer
from platform_node.alerts.ingest import AlertIngestor
from platform_node.alerts.service import AlertDelivery
from platform_node.consent.registry import ConsentRegistry
from proto.fedcredit.v1 import alerts_pb2
from proto.transport.node_audit import open_node_audit_log
from tests.alerts_support import (
    OPERATOR,
    SCOPE,
    Platform,
    bank_client,
    caught_up,
    codes,
    enforcement_feed,
    free_port,
    loan,
    watcher,
)

BANK = Caller("bank-a", "bank", "00" * 32)


def test_sealed_cursors_are_fresh_fixed_length_and_bound_to_the_bank() -> None:
    sealer = CursorSealer(b"k" * 32)
    tokens = [sealer.seal("bank-a", p) for p in (0, 1, 1, 10**9)]
    assert {len(t) for t in tokens} == {TOKEN_BYTES}
    assert len(set(tokens)) == 4  # the same position twice gives two different tokens
    assert [sealer.open("bank-a", t) for t in tokens] == [0, 1, 1, 10**9]
    assert sealer.open("bank-a", b"") == 0
    with pytest.raises(FailedPrecondition):
        sealer.open("bank-b", tokens[1])  # another bank's cursor
    with pytest.raises(FailedPrecondition):
        sealer.open("bank-a", tokens[1][:-1] + bytes([tokens[1][-1] ^ 1]))  # tampered
    with pytest.raises(FailedPrecondition):
        CursorSealer(b"j" * 32).open("bank-a", tokens[1])  # another platform's key
    with pytest.raises(FailedPrecondition):
        sealer.open("bank-a", tokens[3], top=5)  # ahead of the log


@pytest.fixture
def delivery(tmp_path: Path) -> Iterator[tuple[AlertDelivery, AlertIngestor, list[str]]]:
    audit = open_node_audit_log(tmp_path, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(tmp_path, audit, actor=OPERATOR)
    watched, other = codes(2, seed=31)
    consent.grant(watched, "bank-a", SCOPE, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    ingestor = AlertIngestor(tmp_path)
    d = AlertDelivery(ingestor.store, consent, audit, poll_s=0.02)
    d.register(BANK, alerts_pb2.WatchEntry(**loan(1, watched).__dict__))
    yield d, ingestor, [watched, other]
    consent.close()


def _collect(
    d: AlertDelivery, cursor: bytes, seconds: float, heartbeat_s: float, during: object = None
) -> list[tuple[float, alerts_pb2.WatchAlertsResponse]]:
    out: list[tuple[float, alerts_pb2.WatchAlertsResponse]] = []
    t0 = time.monotonic()
    deadline = t0 + seconds

    def active() -> bool:
        return time.monotonic() < deadline

    if callable(during):
        threading.Timer(0.15, during).start()
    for msg in d.stream("bank-a", cursor, active, heartbeat_s):
        out.append((time.monotonic() - t0, msg))
    return out


def test_other_companies_events_cause_no_message_and_no_position(
    delivery: tuple[AlertDelivery, AlertIngestor, list[str]],
) -> None:
    d, ingestor, (watched, other) = delivery

    def burst() -> None:  # 200 events of a company the bank does not watch
        for day in range(1, 5):
            ingestor.ingest("enforcements", enforcement_feed([other] * 50, day=f"2026-10-0{day}"))

    msgs = _collect(d, b"", 0.8, heartbeat_s=10.0, during=burst)
    assert msgs == []  # no heartbeat due, no alert: silence, whatever the city does
    assert ingestor.store.max_seq() > 0
    # the heartbeat's cursor covers the burst, but does not show it
    beat = _collect(d, b"", 0.5, heartbeat_s=0.2)
    assert beat and all(not m.HasField("alert") for _, m in beat)
    tokens = [m.cursor for _, m in beat]
    assert {len(t) for t in tokens} == {TOKEN_BYTES} and len(set(tokens)) == len(tokens)
    assert d.sealer.open("bank-a", tokens[-1]) == ingestor.store.max_seq()
    # the bank's own alert comes with a progress mark; the alert carries no position
    ingestor.ingest("enforcements", enforcement_feed([watched], day="2026-10-09"))
    msgs = _collect(d, tokens[-1], 0.5, heartbeat_s=10.0)
    assert [m.HasField("alert") for _, m in msgs] == [True, False]
    assert msgs[0][1].alert.uscc == watched
    assert not hasattr(msgs[0][1].alert, "seq")


def test_a_foreign_cursor_is_refused(
    delivery: tuple[AlertDelivery, AlertIngestor, list[str]],
) -> None:
    d, _, _ = delivery
    foreign = d.sealer.seal("bank-b", 0)
    with pytest.raises(FailedPrecondition):
        next(iter(d.stream("bank-a", foreign, lambda: True, 0.1)))


def test_legacy_integer_cursor_is_dropped_and_history_resent_once(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "platform", free_port()).start()
    try:
        companies = codes(5, seed=41)
        for c in companies:
            platform.grant(c)
        client = bank_client(platform.port)
        assert all(
            o.accepted for o in client.register([loan(i, c) for i, c in enumerate(companies)])
        )
        client.close()
        ing = platform.ingestor()
        ing.ingest("enforcements", enforcement_feed(companies, day="2026-10-01"))
        # a bank store of the earlier version: one alert stored, an integer cursor
        db = tmp_path / "bank" / "alerts" / "alerts.db"
        BankAlertStore.in_data_dir(tmp_path / "bank").close()
        first = ing.store.events()[0]
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TABLE stream_cursor")
            conn.execute("CREATE TABLE cursor (id INTEGER PRIMARY KEY, after_seq INTEGER)")
            conn.execute("INSERT INTO cursor VALUES (1, ?)", (ing.store.max_seq(),))
            conn.execute(
                "INSERT INTO alerts (event_id, loan_id, seq, uscc, event_type, severity,"
                " ingested_at, received_at) VALUES (?, 'L000000', ?, ?, 'enforcement_new', 3,"
                " '', '')",
                (first.event_id, first.seq, first.uscc),
            )
        w, store = watcher(platform.port, tmp_path / "bank")
        assert store.legacy_cursor_dropped and store.cursor() == b""
        w.start()
        try:
            assert w.wait_for(lambda: caught_up(platform.data_dir, store), 10)
        finally:
            w.stop()
        rows = store.list()
        assert len(rows) == len({(r.event_id, r.loan_id) for r in rows}) == 5
        seqs = [r.seq for r in rows]
        assert seqs == sorted(seqs) and seqs[0] == first.seq  # new ones numbered after it
    finally:
        platform.stop()


def test_watcher_restarts_from_scratch_when_the_platform_refuses_its_cursor(
    tmp_path: Path,
) -> None:
    platform = Platform(tmp_path / "platform", free_port()).start()
    try:
        a = codes(1, seed=43)[0]
        platform.grant(a)
        client = bank_client(platform.port)
        assert client.register([loan(1, a)])[0].accepted
        client.close()
        platform.ingestor().ingest("enforcements", enforcement_feed([a], day="2026-10-01"))
        w, store = watcher(platform.port, tmp_path / "bank")
        store.receive([], CursorSealer(b"x" * 32).seal("bank-a", 10**6))  # e.g. an old key
        w.start()
        try:
            assert w.wait_for(lambda: caught_up(platform.data_dir, store), 10)
        finally:
            w.stop()
        assert w.cursor_resets == 1 and store.count() == 1
    finally:
        platform.stop()
