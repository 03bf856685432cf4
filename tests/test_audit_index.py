"""The SQLite audit index answers exactly as a full scan of the log does, and heals itself."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from models.audit import Actor, AuditLog, generate_signing_key, read_entries
from models.audit.index import AuditIndex, index_path
from models.audit.query import query, visible_entries

ACTORS = [
    Actor("bank-a", "bank", ""),
    Actor("bank-a/alice", "officer", ""),
    Actor("bank-b", "bank", ""),
    Actor("platform", "platform", ""),
    Actor("regulator", "regulator", ""),
]
EVENTS = ["training_started", "training_finished", "score_request", "model_promoted", "psi_run"]


def _fill(log: AuditLog, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        details: dict[str, object] = {"n": int(rng.integers(100))}
        if rng.random() < 0.6:
            details["job_id"] = f"job-{rng.integers(4)}"
        if rng.random() < 0.5:
            details["model_id"] = f"m-{rng.integers(3)}"
        if rng.random() < 0.4:
            details["model_name"], details["model_version"] = "credit", str(rng.integers(1, 3))
        if rng.random() < 0.3:
            details["uscc"] = f"91410100MA{rng.integers(3)}XXXXXX"
        if rng.random() < 0.3:
            details["bank_party"] = str(rng.choice(["bank-a", "bank-b"]))
        if rng.random() < 0.2:
            details["parties"] = ["bank-b", "platform"]
        if rng.random() < 0.05:
            details["job_id"] = 7  # not a string: never matches a job filter
        log.append(str(rng.choice(EVENTS)), ACTORS[int(rng.integers(len(ACTORS)))], details)


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    key = generate_signing_key(tmp_path / "key.pem")
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", key)
    _fill(log, 300, 1)
    return log


FILTERS = {
    "event": ["", "score_request", "training_*", "nothing"],
    "party": ["", "bank-b", "platform"],
    "model_id": ["", "m-1", "credit@2"],
    "job_id": ["", "job-2"],
    "uscc": ["", "91410100MA1XXXXXX"],
    "after_seq": [0, 120],
    "limit": [0, 7],
}


def _expected(path: Path, visible_to: str | None, **filters: object) -> list[int]:
    entries = read_entries(path)
    if visible_to is not None:
        entries = visible_entries(entries, visible_to, "bank")
    return [e.seq for e in query(entries, **filters)]  # type: ignore[arg-type]


def test_index_equals_a_full_scan_for_every_filter(log: AuditLog) -> None:
    index = AuditIndex(log.path)
    keys = list(FILTERS)
    checked = 0
    for values in itertools.product(*(FILTERS[k] for k in keys)):
        filters = dict(zip(keys, values, strict=True))
        for visible_to in (None, "bank-a", ""):
            got = [e.seq for e in index.query(**filters, visible_to=visible_to)]  # type: ignore[arg-type]
            assert got == _expected(log.path, visible_to, **filters), (filters, visible_to)
            checked += bool(got)
    assert checked > 100  # the filters select something often enough to mean something
    assert index.last_seq() == 300
    # the entries come back whole
    assert index.query(after_seq=299) == read_entries(log.path)[299:]


def test_index_follows_appends_and_waits_for_a_complete_line(log: AuditLog) -> None:
    index = AuditIndex(log.path)
    assert index.last_seq() == 300
    _fill(log, 20, 2)
    assert index.last_seq() == 320
    assert [e.seq for e in index.query(after_seq=310)] == list(range(311, 321))
    with open(log.path, "ab") as fh:
        fh.write(b'{"seq": 321, "half a line')
    assert index.last_seq() == 320


def test_index_rebuilds_when_the_log_is_replaced_or_cut(log: AuditLog, tmp_path: Path) -> None:
    index = AuditIndex(log.path)
    assert index.last_seq() == 300
    # cut short: the index must not point past the end
    data = log.path.read_bytes()
    cut = data[: data.rfind(b"\n", 0, len(data) // 2) + 1]
    log.path.write_bytes(cut)
    assert [e.seq for e in index.query()] == [e.seq for e in read_entries(log.path)]
    # replaced by another log (another first line) of the same length or longer
    other = AuditLog(tmp_path / "other" / "audit.jsonl", generate_signing_key(tmp_path / "k2"))
    _fill(other, 310, 3)
    log.path.write_bytes(other.path.read_bytes())
    assert index.query(event="score_request") == query(
        read_entries(log.path), event="score_request"
    )


def test_a_stale_index_heals_itself(log: AuditLog) -> None:
    index = AuditIndex(log.path)
    assert index.last_seq() == 300
    index.close()
    with sqlite3.connect(index_path(log.path)) as db:
        db.execute("UPDATE entries SET offset = offset + 3 WHERE seq > 100")
    assert [e.seq for e in AuditIndex(log.path).query(job_id="job-1")] == _expected(
        log.path, None, job_id="job-1"
    )


def test_audit_log_query_uses_the_index(log: AuditLog) -> None:
    got = log.query(event="score_request", uscc="91410100MA2XXXXXX")
    assert got == query(read_entries(log.path), event="score_request", uscc="91410100MA2XXXXXX")
    assert index_path(log.path).exists()
