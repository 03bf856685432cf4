"""Who may read which audit entries, the AuditService handlers and their wire messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.audit import Actor, AuditLog, entry_authentic, load_public_key, visible_entries
from models.audit import events as ev
from models.audit.messages import (
    AuditEntry,
    ListAuditRequest,
    ListAuditResponse,
    VerifyLogRequest,
    VerifyLogResponse,
)
from models.audit.service import (
    entries_from_response,
    entry_from_wire,
    entry_to_wire,
    list_entries,
    verify_log,
)
from models.errors import InvalidArgument, PermissionDenied
from proto.transport.codec import ProtobufCodec

PLATFORM = Actor("platform", "platform", "11" * 32)
ADMIN = Actor("platform/ops", "platform", "12" * 32)
BANK_A = Actor("bank-a", "bank", "aa" * 32)
BANK_B = Actor("bank-b", "bank", "bb" * 32)
ALICE = Actor("bank-a/alice", "officer", "ac" * 32)


@pytest.fixture()
def platform_log(tmp_path: Path) -> AuditLog:
    """A platform log holding entries about two banks and about itself."""
    log = AuditLog(tmp_path / "audit.jsonl", Ed25519PrivateKey.generate(), actor=PLATFORM)
    log.append(ev.SESSION_OPENED, BANK_A, {"job_id": "ja", "dataset_digest": "d1"})
    log.append(ev.SESSION_OPENED, BANK_B, {"job_id": "jb", "dataset_digest": "d1"})
    log.append(ev.CONSENT_GRANTED, ADMIN, {"bank_party": "bank-a", "consent_id": "c1"})
    log.append(ev.CONSENT_GRANTED, ADMIN, {"bank_party": "bank-b", "consent_id": "c2"})
    log.append(ev.SCORE_REQUEST, BANK_A, {"model_id": "m-a", "outcome": "ok"})
    log.append(ev.SCORE_REQUEST, BANK_B, {"model_id": "m-b", "outcome": "ok"})
    log.append(ev.PSI_RUN, PLATFORM, {"parties": ["platform", "bank-a"], "job_id": "ja"})
    log.append("catalogue_refreshed", PLATFORM, {})
    log.append(ev.SCORE_REQUEST, ALICE, {"model_name": "credit", "model_version": "2"})
    return log


def test_regulator_sees_everything(platform_log: AuditLog) -> None:
    entries = platform_log.entries()
    assert visible_entries(entries, "regulator", "regulator") == entries


def test_a_bank_sees_only_entries_about_itself(platform_log: AuditLog) -> None:
    entries = platform_log.entries()
    seen_a = visible_entries(entries, "bank-a", "bank")
    assert [e.seq for e in seen_a] == [1, 3, 5, 7, 9]
    seen_b = visible_entries(entries, "bank-b", "bank")
    assert [e.seq for e in seen_b] == [2, 4, 6]
    for e in seen_a:  # nothing about bank-b leaks to bank-a
        assert "bank-b" not in e.to_json_line()


def test_an_officer_sees_only_its_own_entries(platform_log: AuditLog) -> None:
    entries = platform_log.entries()
    assert [e.seq for e in visible_entries(entries, "bank-a/alice", "officer")] == [9]
    assert visible_entries(entries, "", "bank") == []


def test_list_entries_filters_pages_and_applies_visibility(platform_log: AuditLog) -> None:
    resp = list_entries(platform_log, ListAuditRequest(), "bank-a", "bank", "platform")
    assert [m.seq for m in resp.entries] == [1, 3, 5, 7, 9]
    assert resp.head_seq == 9 and resp.node_party == "platform" and not resp.has_more
    page = list_entries(
        platform_log, ListAuditRequest(limit=2), "regulator", "regulator", "platform"
    )
    assert [m.seq for m in page.entries] == [1, 2] and page.has_more
    nxt = list_entries(
        platform_log, ListAuditRequest(limit=2, after_seq=2), "regulator", "regulator", "platform"
    )
    assert [m.seq for m in nxt.entries] == [3, 4]
    by_event = list_entries(
        platform_log, ListAuditRequest(event=ev.SCORE_REQUEST), "regulator", "regulator", "platform"
    )
    assert [m.seq for m in by_event.entries] == [5, 6, 9]
    by_model = list_entries(
        platform_log, ListAuditRequest(model_id="credit@2"), "regulator", "regulator", "platform"
    )
    assert [m.seq for m in by_model.entries] == [9]
    by_job = list_entries(platform_log, ListAuditRequest(job_id="ja"), "bank-a", "bank", "platform")
    assert [m.seq for m in by_job.entries] == [1, 7]
    by_party = list_entries(
        platform_log, ListAuditRequest(party="bank-b"), "regulator", "regulator", "platform"
    )
    assert [m.seq for m in by_party.entries] == [2, 4, 6]
    with pytest.raises(InvalidArgument):
        list_entries(platform_log, ListAuditRequest(limit=-1), "regulator", "regulator", "p")


def test_entries_survive_the_wire_with_their_signatures(platform_log: AuditLog) -> None:
    codec = ProtobufCodec()
    resp = list_entries(platform_log, ListAuditRequest(), "regulator", "regulator", "platform")
    back = codec.decode(codec.encode(resp), ListAuditResponse)
    assert back == resp
    key = load_public_key(back.public_key_pem.encode())
    entries = entries_from_response(back, key)
    assert entries == platform_log.entries()
    assert all(entry_authentic(e, key) for e in entries)
    # a details change in transit is caught
    forged = dataclasses.replace(
        back.entries[4], details_json=back.entries[4].details_json.replace("ok", "no")
    )
    tampered = dataclasses.replace(back, entries=[*back.entries[:4], forged])
    with pytest.raises(InvalidArgument):
        entries_from_response(tampered, key)
    assert entry_from_wire(entry_to_wire(entries[0])) == entries[0]


def test_verify_log_handler(platform_log: AuditLog) -> None:
    codec = ProtobufCodec()
    resp = verify_log(platform_log.path, VerifyLogRequest(), "platform")
    assert codec.decode(codec.encode(resp), VerifyLogResponse) == resp
    assert resp.ok and resp.n_entries == 9 and resp.first_bad_seq == 0 and resp.problem == ""
    pinned = VerifyLogRequest(expected_key_fingerprint=platform_log.key_fingerprint)
    assert verify_log(platform_log.path, pinned, "platform").ok
    with pytest.raises(PermissionDenied):
        verify_log(platform_log.path, VerifyLogRequest(expected_key_fingerprint="00"), "p")
    lines = platform_log.path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b"c2", b"c3")
    platform_log.path.write_bytes(b"".join(lines))
    broken = verify_log(platform_log.path, VerifyLogRequest(), "platform")
    assert (broken.ok, broken.problem, broken.first_bad_seq) == (False, "modified", 4)


def test_audit_messages_round_trip() -> None:
    codec = ProtobufCodec()
    for msg in (
        ListAuditRequest(event="x", model_id="m@1", job_id="j", limit=5, after_seq=3, party="p"),
        AuditEntry(1, "t", None, "e", "{}", "0" * 64, "h", "s"),
        VerifyLogRequest("ab"),
        VerifyLogResponse(False, 3, 2, "deleted", "d", 3, "h", "k", "bank-a"),
    ):
        assert codec.decode(codec.encode(msg), type(msg)) == msg
