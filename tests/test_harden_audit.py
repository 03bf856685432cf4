"""Audit (issue 14 row 9): ``fedcredit audit repair`` cuts a torn last line (power loss) after
verifying everything before it and records the repair in the chain; a bank reading the
platform's log learns the head of its own entries only, not the node's total volume."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bank_node.cli.main import main
from models.audit import Actor, AuditLog, verify
from models.audit import events as ev
from models.audit.messages import ListAuditRequest
from models.audit.repair import repair
from models.audit.service import list_entries
from models.errors import DataLoss
from proto.transport.audit_servicer import open_node_audit_log

BANK_A = Actor("bank-a", "bank", "aa" * 32)
BANK_B = Actor("bank-b", "bank", "bb" * 32)


def _platform(tmp_path: Path) -> tuple[Path, AuditLog]:
    data = tmp_path / "platform"
    cfg = tmp_path / "platform.toml"
    cfg.write_text(f'[platform]\ndata_dir = "{data}"\n[platform.known_parties]\nbank-a = "bank"\n')
    log = open_node_audit_log(data, "platform", "platform")
    for i in range(5):
        log.append(ev.SESSION_OPENED, BANK_A, {"job_id": f"j{i}"})
    return cfg, log


def _tear(log: AuditLog) -> bytes:
    """What power loss in the middle of an append leaves: part of a line, no newline."""
    torn = b'{"seq":6,"ts":"2026-12-03T10:00:00Z","actor":{"party":"bank-a"'
    with log.path.open("ab") as fh:
        fh.write(torn)
    return torn


def test_torn_last_line_is_repaired_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, log = _platform(tmp_path)
    torn = _tear(log)
    log.close()
    again = open_node_audit_log(tmp_path / "platform", "platform", "platform")
    with pytest.raises(DataLoss):  # the symptom of the issue: every later append refuses
        again.append(ev.SCORE_REQUEST, BANK_A, {"outcome": "ok"})
    again.close()
    assert main(["audit", "repair", "--config", str(cfg)]) == 0
    assert "repaired" in capsys.readouterr().out
    report = verify(log.path)
    assert report.ok and report.n_entries == 6
    reopened = open_node_audit_log(tmp_path / "platform", "platform", "platform")
    entries = reopened.entries()
    rec = entries[-1]
    assert rec.event == ev.AUDIT_REPAIRED and rec.seq == 6
    assert rec.details["last_good_seq"] == 5 and rec.details["truncated_bytes"] == len(torn)
    saved = log.path.with_name(f"{log.path.name}.torn-6")
    assert saved.read_bytes() == torn
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    reopened.append(ev.SCORE_REQUEST, BANK_A, {"outcome": "ok"})  # appends work again
    assert verify(log.path).ok
    # a second repair finds nothing to do
    assert main(["audit", "repair", "--config", str(cfg)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    reopened.close()


def test_repair_refuses_a_log_that_does_not_verify_before_the_torn_line(tmp_path: Path) -> None:
    _, log = _platform(tmp_path)
    lines = log.path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"j2", b"j9")  # an edited entry: tampering, not a crash
    log.path.write_bytes(b"\n".join(lines))
    _tear(log)
    before = log.path.read_bytes()
    with pytest.raises(DataLoss):
        repair(log.path)
    assert log.path.read_bytes() == before  # nothing changed
    log.close()


def test_a_bank_sees_the_head_of_its_own_entries_only(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", Ed25519PrivateKey.generate(), actor=BANK_A)
    log.append(ev.SESSION_OPENED, BANK_A, {"job_id": "a"})
    log.append(ev.SESSION_OPENED, BANK_B, {"job_id": "b"})
    for i in range(40):  # bank-a's busy day
        log.append(ev.SCORE_REQUEST, BANK_A, {"outcome": "ok", "job_id": f"s{i}"})
    for entries in (None, log.entries()):
        b = list_entries(log, ListAuditRequest(), "bank-b", "bank", "platform", entries)
        assert b.head_seq == 2 and [m.seq for m in b.entries] == [2]
        a = list_entries(log, ListAuditRequest(), "bank-a", "bank", "platform", entries)
        assert a.head_seq == 42
        r = list_entries(log, ListAuditRequest(), "regulator", "regulator", "platform", entries)
        assert r.head_seq == 42
        nobody = list_entries(log, ListAuditRequest(), "bank-z", "bank", "platform", entries)
        assert nobody.head_seq == 0 and not nobody.entries
    log.close()
