"""Audit key rotation: the chain verifies from the root key, retired keys cannot sign, crashes
and other processes are handled, remote readers follow the rotations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.audit import (
    Actor,
    AuditLog,
    entry_authentic,
    generate_signing_key,
    key_fingerprint,
    load_signing_key,
    read_entries,
    verify,
)
from models.audit import events as ev
from models.audit.entry import seal, utc_timestamp
from models.audit.keychain import KeyChain
from models.audit.messages import ListAuditRequest
from models.audit.service import entries_from_response, list_entries
from models.errors import FailedPrecondition, InvalidArgument

NODE = Actor("platform", "platform", "")
OPERATOR = Actor("platform/ops", "operator", "")


def _log(tmp_path: Path, n: int = 4) -> tuple[AuditLog, Path]:
    key_path = tmp_path / "audit" / "audit_signing_key.pem"
    generate_signing_key(key_path)
    log = AuditLog(tmp_path / "audit" / "audit.jsonl", key_path, actor=NODE)
    for i in range(n):
        log.append("score_request", details={"job_id": f"j{i}", "bank_party": "bank-a"})
    return log, key_path


def test_rotation_keeps_the_root_pin_and_retires_the_old_key(tmp_path: Path) -> None:
    log, key_path = _log(tmp_path)
    root_fp = log.key_fingerprint
    old = load_signing_key(key_path)
    entry = log.rotate(OPERATOR, reason="annual rotation")
    assert entry.event == ev.AUDIT_KEY_ROTATED and entry_authentic(entry, old.public_key())
    new = load_signing_key(key_path)
    assert key_fingerprint(new) == entry.details["new_key_fingerprint"] != key_fingerprint(old)
    assert not key_path.with_name(key_path.name + ".next").exists()
    after = log.append("score_request")
    assert entry_authentic(after, new.public_key()) and not entry_authentic(after, old.public_key())
    log.rotate(OPERATOR)
    log.append("score_request")
    report = verify(log.path, log.root_key)
    assert report.ok and report.rotations == 2 and report.key_fingerprint == root_fp
    assert report.current_key_fingerprint == log.chain.current_fingerprint
    assert log.key_fingerprint == root_fp  # what verifiers pin does not change
    # an entry forged with the retired key does not verify
    last_hash = read_entries(log.path)[-1].hash
    forged = seal(after.seq + 3, utc_timestamp(), NODE, "score_request", {}, last_hash, old)
    with open(log.path, "ab") as fh:
        fh.write(forged.to_json_line().encode())
    bad = verify(log.path, log.root_key)
    assert not bad.ok and bad.problem == "bad_signature" and bad.first_bad_seq == after.seq + 3


def test_reopening_with_a_retired_key_is_refused(tmp_path: Path) -> None:
    log, key_path = _log(tmp_path)
    old = load_signing_key(key_path)
    log.rotate(OPERATOR)
    log.close()
    with pytest.raises(FailedPrecondition):
        AuditLog(log.path, old, actor=NODE)
    reopened = AuditLog(log.path, key_path, actor=NODE)
    reopened.append("score_request")
    assert verify(log.path).ok


def test_a_rotation_cut_short_is_completed_on_open(tmp_path: Path) -> None:
    log, key_path = _log(tmp_path)
    old_pem = key_path.read_bytes()
    log.rotate(OPERATOR)
    log.close()
    # as if the process died after writing the entry, before renaming <key>.next
    shutil.move(key_path, key_path.with_name(key_path.name + ".next"))
    key_path.write_bytes(old_pem)
    reopened = AuditLog(log.path, key_path, actor=NODE)
    assert key_fingerprint(load_signing_key(key_path)) == reopened.chain.current_fingerprint
    reopened.append("score_request")
    assert verify(log.path).ok


def test_another_process_follows_the_rotation(tmp_path: Path) -> None:
    log, key_path = _log(tmp_path)
    server = AuditLog(log.path, key_path, actor=NODE)  # a second opener of the same files
    by_object = AuditLog(log.path, load_signing_key(key_path), actor=NODE)
    server.append("score_request")
    log.rotate(OPERATOR)  # e.g. the CLI
    server.append("score_request")  # picks up the new key from the file
    assert verify(log.path).ok
    with pytest.raises(FailedPrecondition):  # opened without the key's path: cannot follow
        by_object.append("score_request")
    assert verify(log.path).ok


def test_remote_readers_check_entries_through_the_rotations(tmp_path: Path) -> None:
    log, _ = _log(tmp_path)
    root = log.root_key
    log.rotate(OPERATOR)
    log.append("score_request", details={"job_id": "after", "bank_party": "bank-a"})
    reply = list_entries(log, ListAuditRequest(), "bank-a", "bank", "platform")
    assert len(reply.key_rotations) == 1
    entries = entries_from_response(reply, root)  # pinned root key
    assert entries[-1].details["job_id"] == "after"
    # without the rotations the entry after it does not check out
    with pytest.raises(InvalidArgument):
        entries_from_response(reply.replace(key_rotations=[]), root)
    # a rotation entry that is not signed by the key before it is refused
    other = generate_signing_key(tmp_path / "other.pem")
    chain = KeyChain(other.public_key())
    with pytest.raises(InvalidArgument):
        chain.extended(log.rotation_entries()[0])
