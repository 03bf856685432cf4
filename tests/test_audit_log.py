"""Audit log: append, verify, and detection of every kind of tampering."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.audit import (
    Actor,
    AuditLog,
    LogEntry,
    generate_signing_key,
    key_fingerprint,
    load_public_key,
    load_signing_key,
    public_key_path,
    read_entries,
    verify,
)
from models.audit.entry import GENESIS_HASH, seal
from models.audit.keys import head_path
from models.errors import AlreadyExists, DataLoss, FailedPrecondition, InvalidArgument

NODE = Actor("bank-a", "bank", "ab" * 32)
OFFICER = Actor("bank-a/alice", "officer", "cd" * 32)
N = 6


def _make_log(tmp_path: Path, n: int = N) -> tuple[AuditLog, Path]:
    key = generate_signing_key(tmp_path / "keys" / "audit_ed25519.pem")
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path, key, actor=NODE)
    for i in range(n):
        log.append(
            "score_request" if i % 2 else "training_started",
            OFFICER if i % 2 else None,
            {"job_id": f"job-{i}", "model_name": "credit", "model_version": "1", "n": i},
        )
    return log, path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def test_append_builds_a_signed_chain_that_verifies(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path)
    entries = read_entries(path)
    assert [e.seq for e in entries] == list(range(1, N + 1))
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    assert entries[1].actor == OFFICER and entries[0].actor == NODE
    assert public_key_path(path).exists() and head_path(path).exists()
    report = verify(path)
    assert report.ok and report.problem is None and report.first_bad_seq is None
    assert report.n_entries == N and report.head_seq == N and report.head_hash == entries[-1].hash
    assert report.key_fingerprint == log.key_fingerprint
    # every line is canonical JSON with exactly the documented fields
    first = json.loads(_lines(path)[0])
    assert set(first) == {
        "seq",
        "ts",
        "actor",
        "event",
        "details",
        "prev_hash",
        "hash",
        "signature",
    }
    assert first["ts"].endswith("Z")


def test_reopened_log_continues_the_chain(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path, 3)
    again = AuditLog(path, tmp_path / "keys" / "audit_ed25519.pem", actor=NODE)
    entry = again.append("model_registered", details={"model_name": "credit"})
    assert entry.seq == 4 and entry.prev_hash == read_entries(path)[2].hash
    log.append("model_promoted")  # the first instance notices the other writer
    assert verify(path).ok and verify(path).n_entries == 5


def test_concurrent_appends_from_threads_keep_the_chain(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path, 0)
    other = AuditLog(path, log._key, actor=NODE)  # a second writer on the same file

    def work(target: AuditLog) -> None:
        for i in range(25):
            target.append("score_request", details={"i": i})

    threads = [threading.Thread(target=work, args=(t,)) for t in (log, other, log, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(path)
    assert report.ok, report.summary()
    assert report.n_entries == 100


@pytest.mark.parametrize("victim", [1, 3, N])
def test_changing_one_byte_names_the_modified_entry(tmp_path: Path, victim: int) -> None:
    _, path = _make_log(tmp_path)
    lines = _lines(path)
    line = lines[victim - 1]
    pos = line.index(b'"n":') + 4  # the digit of the "n" detail
    digit = line[pos : pos + 1]
    lines[victim - 1] = line[:pos] + (b"7" if digit != b"7" else b"8") + line[pos + 1 :]
    _write(path, lines)
    report = verify(path)
    assert not report.ok
    assert report.problem == "modified"
    assert report.first_bad_seq == victim


def test_any_single_byte_change_names_that_entry(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path, 4)
    original = _lines(path)
    victim = 2
    line = original[victim - 1]
    for pos in range(len(line) - 1):  # every byte but the newline
        lines = list(original)
        flipped = bytes([line[pos] ^ 0x01])
        lines[victim - 1] = line[:pos] + flipped + line[pos + 1 :]
        _write(path, lines)
        report = verify(path)
        assert not report.ok, pos
        assert report.first_bad_seq == victim, (pos, report)
        assert report.problem in ("modified", "bad_signature"), (pos, report)


@pytest.mark.parametrize("victim", [1, 3])
def test_deleting_an_entry_is_named(tmp_path: Path, victim: int) -> None:
    _, path = _make_log(tmp_path)
    lines = _lines(path)
    del lines[victim - 1]
    _write(path, lines)
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "deleted", victim)


def test_swapping_two_entries_is_named_reordered(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path)
    lines = _lines(path)
    lines[2], lines[3] = lines[3], lines[2]  # entries 3 and 4
    _write(path, lines)
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "reordered", 3)


def test_duplicated_entry_is_named_reordered(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path)
    lines = _lines(path)
    lines.insert(4, lines[1])  # replay entry 2 after entry 4
    _write(path, lines)
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "reordered", 2)


def test_dropping_the_last_entries_is_truncation(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path)
    _write(path, _lines(path)[:-2])
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", N - 1)


def test_an_incomplete_last_line_is_truncation(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "truncated", N)
    with pytest.raises(DataLoss):
        AuditLog(path, log._key, actor=NODE).append("score_request")


def test_a_missing_head_is_truncation(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path)
    head_path(path).unlink()
    report = verify(path)
    assert (report.ok, report.problem) == (False, "truncated")


def test_entry_signed_by_another_key_is_a_bad_signature(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path)
    entries = read_entries(path)
    victim = entries[2]
    forged = seal(
        victim.seq,
        victim.ts,
        victim.actor,
        victim.event,
        victim.details,
        victim.prev_hash,
        Ed25519PrivateKey.generate(),
    )
    assert forged.hash == victim.hash  # same content, different signer
    lines = _lines(path)
    lines[2] = forged.to_json_line().encode()
    _write(path, lines)
    report = verify(path)
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "bad_signature", 3)


def test_rewritten_log_fails_against_the_pinned_key(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path)
    pinned = load_public_key(public_key_path(path))
    # an attacker rebuilds the whole log with its own key and replaces the public key file
    entries = read_entries(path)
    path.unlink()
    public_key_path(path).unlink()
    attacker = AuditLog(path, Ed25519PrivateKey.generate(), actor=NODE)
    for e in entries[:-1]:
        attacker.append(e.event, e.actor, e.details)
    self_check = verify(path)
    assert self_check.ok  # self-consistent with the replaced key...
    report = verify(path, pinned)  # ...but not with the key the regulator pinned
    assert (report.ok, report.problem, report.first_bad_seq) == (False, "bad_signature", 1)
    assert report.key_fingerprint == key_fingerprint(pinned) == log.key_fingerprint
    assert self_check.key_fingerprint != log.key_fingerprint


def test_details_must_be_small_json_values(tmp_path: Path) -> None:
    log, path = _make_log(tmp_path, 0)
    with pytest.raises(InvalidArgument):
        log.append("score_request", details={"x": float("nan")})
    with pytest.raises(InvalidArgument):
        log.append("score_request", details={"x": b"raw"})
    with pytest.raises(InvalidArgument):
        log.append("score_request", details={"rows": list(range(10000))})
    with pytest.raises(InvalidArgument):
        log.append("Not An Event")
    assert read_entries(path) == []


def test_log_refuses_a_different_signing_key(tmp_path: Path) -> None:
    _, path = _make_log(tmp_path, 2)
    with pytest.raises(FailedPrecondition):
        AuditLog(path, Ed25519PrivateKey.generate(), actor=NODE)


def test_signing_key_files(tmp_path: Path) -> None:
    key_path = tmp_path / "k.pem"
    key = generate_signing_key(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert key_fingerprint(load_signing_key(key_path)) == key_fingerprint(key)
    with pytest.raises(AlreadyExists):
        generate_signing_key(key_path)


def test_timestamps_come_from_the_clock(tmp_path: Path) -> None:
    when = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
    log = AuditLog(
        tmp_path / "a.jsonl", Ed25519PrivateKey.generate(), actor=NODE, clock=lambda: when
    )
    entry = log.append("psi_run", details={"intersection_size": 10})
    assert entry.ts == "2025-03-01T09:30:00.000000Z"
    assert LogEntry.from_json_line(entry.to_json_line()) == entry


def test_head_has_two_slots_written_in_place(tmp_path: Path) -> None:
    from models.audit.log import HEAD_SLOT, read_head

    log, path = _make_log(tmp_path)
    head = head_path(path)
    inode = head.stat().st_ino
    data = head.read_bytes()
    assert len(data) == 2 * HEAD_SLOT
    slots = [json.loads(data[:HEAD_SLOT]), json.loads(data[HEAD_SLOT:])]
    assert sorted(s["seq"] for s in slots) == [N - 1, N]
    log.append("score_request")
    assert head.stat().st_ino == inode  # no rewrite of the file
    assert read_head(path)["seq"] == N + 1 and verify(path).ok
    # a crash that tore the newest slot leaves the other one: the log still verifies
    raw = bytearray(head.read_bytes())
    newest = ((N + 1) % 2) * HEAD_SLOT
    raw[newest : newest + 40] = b"\x00" * 40
    head.write_bytes(bytes(raw))
    assert read_head(path)["seq"] == N
    report = verify(path)
    assert report.ok and report.n_entries == N + 1
    # ... and the next append restores both
    log.append("score_request")
    assert read_head(path)["seq"] == N + 2 and verify(path).ok
    # both slots unreadable: verification fails
    head.write_bytes(b"x" * (2 * HEAD_SLOT))
    report = verify(path)
    assert not report.ok and report.problem == "bad_signature"


def test_head_of_the_first_format_is_read_and_converted(tmp_path: Path) -> None:
    from models.audit.log import HEAD_SLOT, read_head

    log, path = _make_log(tmp_path)
    head = head_path(path)
    newest = read_head(path)
    assert newest is not None
    log.close()
    head.write_text(json.dumps(newest))  # a single JSON object, as written before
    assert read_head(path) == newest and verify(path).ok
    log.append("score_request")
    assert len(head.read_bytes()) == 2 * HEAD_SLOT
    assert read_head(path)["seq"] == N + 1 and verify(path).ok
    # another process replacing the head file is noticed (fresh descriptor)
    head.unlink()
    log.append("score_request")
    assert read_head(path)["seq"] == N + 2 and verify(path).ok


def test_append_many_chains_signs_and_heads_like_single_appends(tmp_path: Path) -> None:
    """Entries appended together are sealed one by one (each its own hash and signature,
    chained in order, interleaving with another writer's single appends), and the head names
    the last; an invalid entry in the lot writes none of it."""
    log, path = _make_log(tmp_path, 2)
    other = AuditLog(path, log._key, actor=NODE)
    other.append("model_registered", details={"model_name": "credit"})
    batch = [
        ("score_request", OFFICER, {"request_id": f"r{i}", "uscc": "x", "outcome": "ok"})
        for i in range(5)
    ]
    written = log.append_many([*batch, ("model_promoted", None, None)])
    assert [e.seq for e in written] == list(range(4, 10))
    assert written[-1].actor == NODE and written[0].actor == OFFICER
    entries = read_entries(path)
    assert entries[3:] == written and written[0].prev_hash == entries[2].hash
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    assert len({e.signature for e in entries}) == len(entries)
    report = verify(path)
    assert report.ok, report.summary()
    assert report.n_entries == 9 and report.head_seq == 9 and report.head_hash == written[-1].hash
    # another writer continues the chain after the lot
    assert other.append("model_promoted").seq == 10 and verify(path).ok
    before = path.read_bytes()
    with pytest.raises(InvalidArgument):
        log.append_many([batch[0], ("score_request", OFFICER, {"x": float("nan")})])
    assert path.read_bytes() == before and log.append_many([]) == []
    assert log.append("score_request").seq == 11 and verify(path).ok


def test_sealed_line_is_the_canonical_json_of_the_entry(tmp_path: Path) -> None:
    """The line composed from its parts is byte for byte ``canonical_json`` of the entry
    (non-ASCII, escapes, nesting, large numbers), its hash is the body's, and it verifies."""
    from models.audit.entry import entry_authentic, entry_hash, prepare, seal_draft

    key = Ed25519PrivateKey.generate()
    cases: list[dict[str, object]] = [
        {},
        {"a": 1, "b": 'é\u2028"x\\y', "c": None, "d": 1.5, "e": True, "f": "\x1f\x7f"},
        {"n": {"z": [1, 2, {"y": "q"}], "a": 2}, "t": (1, "x")},
        {"big": 10**30, "small": 1e-300},
    ]
    for i, details in enumerate(cases):
        actor = Actor("bank-é/\"o\"", "officer", "ab" * 32)
        draft = prepare("score_request", actor, details)
        entry, line = seal_draft(draft, i + 1, "2025-01-31T08:00:00.000000Z", "cd" * 32, key)
        assert line == entry.to_json_line()
        assert entry.hash == entry_hash(entry.body())
        assert entry_authentic(entry, key.public_key())
        assert LogEntry.from_json_line(line) == entry
        assert entry == seal(i + 1, entry.ts, actor, "score_request", details, "cd" * 32, key)


def test_concurrent_appends_share_writes_and_each_returns_its_own_entry(tmp_path: Path) -> None:
    """Group commit: threads appending at once are written in batches (fewer signed heads
    than entries is allowed, never fewer entries); each append returns its own sealed entry,
    already in the file; the chain verifies; a bad entry fails only its own caller."""
    log, path = _make_log(tmp_path, 0)
    heads: list[int] = []
    write_head = log._write_head

    def counting(seq: int, hash_hex: str) -> None:
        heads.append(seq)
        write_head(seq, hash_hex)

    log._write_head = counting  # type: ignore[method-assign]
    got: dict[tuple[int, int], LogEntry] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        barrier.wait()
        for i in range(30):
            entry = log.append("score_request", OFFICER, {"t": t, "i": i})
            on_disk = {e.seq: e for e in read_entries(path)}
            assert on_disk[entry.seq] == entry  # written before append returned
            got[(t, i)] = entry
        try:
            log.append("score_request", OFFICER, {"bad": float("nan")})
        except InvalidArgument as err:
            failures.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 240 and len(failures) == 8
    assert all(e.details == {"t": t, "i": i} for (t, i), e in got.items())
    assert sorted(e.seq for e in got.values()) == list(range(1, 241))
    assert heads == sorted(heads) and heads[-1] == 240 and len(heads) <= 240
    report = verify(path)
    assert report.ok, report.summary()
    assert report.n_entries == 240 and report.head_seq == 240


def test_a_failed_group_write_fails_every_caller_of_the_batch(tmp_path: Path) -> None:
    """When the batch cannot be written, every caller whose entries were in it gets the error
    (none is acknowledged), the file is unchanged, and later appends continue the chain."""
    log, path = _make_log(tmp_path, 2)
    before = path.read_bytes()
    write_all = log._write_all
    release = threading.Event()
    calls: list[int] = []

    def failing(fd: int, data: bytes) -> None:
        calls.append(len(data))
        release.wait(5)  # hold the first writer so the others queue behind it
        raise OSError(28, "No space left on device")

    log._write_all = failing  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            log.append("score_request", OFFICER, {"i": i})
        except OSError as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join()
    assert len(errors) == 6 and all(e.errno == 28 for e in errors)  # type: ignore[attr-defined]
    assert path.read_bytes() == before and len(calls) <= 6
    log._write_all = write_all  # type: ignore[method-assign]
    assert log.append("score_request", OFFICER, {"i": 99}).seq == 3
    report = verify(path)
    assert report.ok and report.n_entries == 3, report.summary()
