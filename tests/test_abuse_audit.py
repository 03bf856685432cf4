"""Issue 14 row 1: ``VerifyLog`` is the regulator's alone, and incremental (cheap to repeat)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bank_node.lineage_fetch import AuditClient
from experiments.support.grpc_harness import shared_pki, start_platform
from experiments.support.scoring import StaticProvider, synthetic_tables
from models.audit import Actor, AuditLog
from models.audit import events as ev
from models.audit.incremental import IncrementalVerifier
from models.audit.keys import load_or_create_signing_key
from models.audit.verify import verify
from models.errors import PermissionDenied
from proto.transport import audit_servicer
from proto.transport.limits import LimitsConfig, RateRule
from proto.transport.tls import TlsFiles

BANK = Actor("bank-a", "bank", "aa" * 32)


def _log(tmp_path: Path, n: int) -> AuditLog:
    key_path = tmp_path / "audit_signing_key.pem"
    load_or_create_signing_key(key_path)
    log = AuditLog(tmp_path / "audit.jsonl", key_path, actor=BANK)
    for i in range(n):
        log.append(ev.SCORE_REQUEST, BANK, {"model_id": f"m{i}", "outcome": "ok"})
    return log


def test_second_verification_of_an_unchanged_log_hashes_nothing(tmp_path: Path) -> None:
    log = _log(tmp_path, 40)
    v = IncrementalVerifier(log.path)
    first = v.verify()
    assert first == verify(log.path) and first.ok and first.n_entries == 40
    assert v.entries_checked == 40
    assert v.verify() == first
    assert v.entries_checked == 40  # answered from the cached report
    log.append(ev.SCORE_REQUEST, BANK, {"model_id": "m-new", "outcome": "ok"})
    log.append(ev.SCORE_REQUEST, BANK, {"model_id": "m-new2", "outcome": "ok"})
    grown = v.verify()
    assert grown == verify(log.path) and grown.n_entries == 42
    assert v.entries_checked == 42  # only the two new entries
    assert v.full_runs == 0


def test_incremental_follows_rotations_and_falls_back_on_damage(tmp_path: Path) -> None:
    log = _log(tmp_path, 10)
    v = IncrementalVerifier(log.path)
    assert v.verify().ok
    log.rotate(BANK, reason="test")
    log.append(ev.SCORE_REQUEST, BANK, {"model_id": "after", "outcome": "ok"})
    report = v.verify()
    assert report == verify(log.path) and report.rotations == 1 and v.full_runs == 0
    # change one byte of an entry verified earlier: the report is the full verifier's
    lines = log.path.read_bytes().split(b"\n")
    at = lines[2].index(b'"m2"') + 2
    lines[2] = lines[2][:at] + b"9" + lines[2][at + 1 :]
    log.path.write_bytes(b"\n".join(lines))
    damaged = v.verify()
    assert not damaged.ok and damaged == verify(log.path)
    assert damaged.problem == "modified" and damaged.first_bad_seq == 3
    assert v.full_runs == 1


def test_a_torn_last_line_is_reported_like_the_full_verifier(tmp_path: Path) -> None:
    log = _log(tmp_path, 5)
    v = IncrementalVerifier(log.path)
    assert v.verify().ok
    with open(log.path, "ab") as fh:
        fh.write(b'{"seq": 6, "ts"')
    torn = v.verify()
    assert torn == verify(log.path) and torn.problem == "truncated"


def test_verify_log_is_the_regulators_alone_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[IncrementalVerifier] = []

    class Recording(IncrementalVerifier):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(audit_servicer, "IncrementalVerifier", Recording)
    _, plat = synthetic_tables(50)
    limits = LimitsConfig(rates={"VerifyLog": RateRule(100.0, 100.0)})
    running = start_platform(tmp_path, StaticProvider(plat), limits=limits)
    try:
        for i in range(30):
            running.audit_log.append(ev.SCORE_REQUEST, BANK, {"model_id": f"m{i}"})
        target = f"127.0.0.1:{running.port}"
        pki = shared_pki()
        bank_tls = TlsFiles.in_pki_dir(pki, "bank-a")
        with (
            AuditClient(target, bank_tls, server_name="platform") as c,
            pytest.raises(PermissionDenied),
        ):
            c.verify()
        with AuditClient(
            target, TlsFiles.in_pki_dir(pki, "regulator"), server_name="platform"
        ) as reg:
            first = reg.verify()
            assert first.ok and first.n_entries >= 30
            checked = made[0].entries_checked
            assert checked == first.n_entries
            for _ in range(5):
                assert reg.verify() == first
            assert made[0].entries_checked == checked  # repeated calls hash nothing
    finally:
        running.stop(0.5)


def test_verification_during_appends_stays_incremental(tmp_path: Path) -> None:
    """The log grows while it is verified: no false alarm, no fallback to a full run."""
    import threading

    log = _log(tmp_path, 5)
    v = IncrementalVerifier(log.path)
    stop = threading.Event()

    def append() -> None:
        while not stop.is_set():
            log.append(ev.SCORE_REQUEST, BANK, {"model_id": "m", "outcome": "ok"})

    t = threading.Thread(target=append)
    t.start()
    try:
        reports = [v.verify() for _ in range(30)]
    finally:
        stop.set()
        t.join()
    assert all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    assert v.full_runs == 0
    final = v.verify()
    assert final == verify(log.path) and v.entries_checked == final.n_entries


def test_concurrent_callers_share_one_verification(tmp_path: Path) -> None:
    import threading

    log = _log(tmp_path, 60)
    v = IncrementalVerifier(log.path)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(v.verify())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == 4 and all(r == reports[0] and r.ok for r in reports)
    assert v.entries_checked == 60  # once, not four times
