"""Lineage of a model version: every field a regulator asks for, drawn from both nodes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bank_node.lineage import assemble_lineage, render_lineage
from bank_node.tracking import promote
from models.audit import Actor, AuditLog
from models.audit import events as ev
from tests.test_tracking import BANK_FP, OFFICER_FP, PLATFORM_DIGEST, make_store

OFFICER = Actor("bank-a/alice", "officer", OFFICER_FP)
BANK_SEEN_BY_PLATFORM = Actor("bank-a", "bank", BANK_FP)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("lineage")
    store = make_store(tmp)
    tracking, audit = store["tracking"], store["audit"]
    promote(tracking, "sme-credit", "1", "champion", Actor("bank-a/cro", "approver", "cd" * 32))
    # the bank's log: the job, three scores served, one refused, one for another model
    audit.append(ev.TRAINING_STARTED, OFFICER, {"job_id": "job-0001", "algorithm": "secureboost"})
    for outcome in ("ok", "ok", "denied", "ok"):
        audit.append(
            ev.SCORE_REQUEST,
            OFFICER,
            {
                "model_name": "sme-credit",
                "model_version": "1",
                "model_id": "mdl-0001",
                "uscc": "91410100MA00000000",
                "outcome": outcome,
                "consent_id": "cns-1",
            },
        )
    audit.append(
        ev.SCORE_REQUEST, OFFICER, {"model_name": "other", "model_version": "1", "outcome": "ok"}
    )
    # the platform's log (fetched over AuditService in production)
    key = Ed25519PrivateKey.generate()
    plog = AuditLog(
        tmp / "platform" / "audit.jsonl", key, actor=Actor("platform", "platform", "c2" * 32)
    )
    plog.append(
        ev.SESSION_OPENED,
        BANK_SEEN_BY_PLATFORM,
        {
            "job_id": "job-0001",
            "dataset": "catalogue-2024q4",
            "dataset_digest": PLATFORM_DIGEST,
            "categories": ["tax", "social_security", "judicial"],
            "n_rows": 1000,
        },
    )
    plog.append(ev.PSI_RUN, BANK_SEEN_BY_PLATFORM, {"job_id": "job-0001", "intersection_size": 360})
    for _ in range(3):
        plog.append(
            ev.SCORE_REQUEST,
            BANK_SEEN_BY_PLATFORM,
            {"model_id": "plat-mdl-0001", "outcome": "ok", "consent_id": "cns-1"},
        )
    plog.append(ev.SESSION_OPENED, Actor("bank-b", "bank", "dd" * 32), {"job_id": "job-b"})
    return {**store, "platform_log": plog, "platform_key": key.public_key()}


def _lineage(world: dict[str, Any], spec: str = "sme-credit@1", **kw: Any):
    return assemble_lineage(
        world["tracking"],
        spec,
        world["audit"].entries(),
        world["platform_log"].entries(),
        platform_public_key=world["platform_key"],
        **kw,
    )


def test_lineage_has_every_required_field(world) -> None:
    lin = _lineage(world)
    job, result = world["job"], world["result"]
    assert lin.model["name"] == "sme-credit" and lin.model["version"] == "1"
    assert lin.model["aliases"] == ["champion"] and lin.model["model_id"] == "mdl-0001"
    assert lin.model["platform_part_digest"] == result.platform_part.digest
    # who launched the job and when, code version
    assert lin.job["launched_by"] == "bank-a/alice"
    assert lin.job["launched_by_cert_fingerprint"] == OFFICER_FP
    assert lin.job["launched_at"] == job.launched_at and lin.job["job_id"] == "job-0001"
    assert lin.job["code_version"].startswith("fedcredit")
    # both parties and their certificate fingerprints (the bank's also as the platform saw it)
    assert lin.parties["bank"] == {
        "party": "bank-a",
        "cert_fingerprint": BANK_FP,
        "cert_fingerprint_seen_by_platform": BANK_FP,
    }
    assert lin.parties["platform"]["cert_fingerprint"] == job.platform.cert_fingerprint
    # data digests and categories on each side, the platform's own attestation
    assert lin.data["bank"]["digest"] == job.bank.digest
    assert lin.data["bank"]["categories"] == job.bank.categories
    assert lin.data["platform"]["digest"] == PLATFORM_DIGEST
    assert lin.data["platform"]["categories"] == job.platform.categories
    assert lin.data["platform"]["attested_by_platform"]["dataset_digest"] == PLATFORM_DIGEST
    assert lin.data["bank"]["date_range"] == list(job.bank.date_range)
    # PSI sizes, parameters, metrics
    assert lin.psi == dataclasses.asdict(job.psi)
    assert lin.crypto["scheme"] == "paillier" and lin.crypto["key_bits"] == 1024
    assert lin.params["max_depth"] == "3" and lin.params["algorithm"] == "secureboost"
    assert lin.metrics["final"]["val_auc"] == pytest.approx(0.66)
    assert lin.metrics["per_step"]["val_auc"]["n_steps"] == len(result.history)
    assert lin.metrics["per_step"]["val_auc"]["last"] == pytest.approx(
        result.history[-1]["val_auc"]
    )
    # approvals and scores served
    assert [(a["alias"], a["approver"]) for a in lin.approvals] == [("champion", "bank-a/cro")]
    assert lin.scores == {"served": 3, "denied": 1, "platform_parts_served": 3}
    # trail from both nodes, nothing about the other bank, no warnings
    nodes_events = {(t["node"], t["event"]) for t in lin.audit_trail}
    assert {
        ("bank", ev.TRAINING_STARTED),
        ("bank", ev.MODEL_REGISTERED),
        ("bank", ev.MODEL_PROMOTED),
        ("platform", ev.SESSION_OPENED),
        ("platform", ev.PSI_RUN),
    } <= nodes_events
    assert all(t["actor"] != "bank-b" for t in lin.audit_trail)
    assert lin.warnings == []


def test_render_text_and_json(world) -> None:
    lin = _lineage(world)
    as_json = json.loads(render_lineage(lin, as_json=True))
    assert as_json == json.loads(json.dumps(lin.to_dict(), default=str))
    text = render_lineage(lin)
    for needle in (
        "sme-credit version 1 (champion)",
        "bank-a/alice",
        BANK_FP,
        OFFICER_FP,
        PLATFORM_DIGEST,
        "judicial",
        "intersection_size",
        "360",
        "bank-a/cro",
        "served",
        "val_auc",
        lin.job["code_version"],
        "2025-06-01T09:00:00Z",
        "ecdh-psi",
        "paillier",
    ):
        assert needle in text, needle
    assert "Warnings" not in text


def test_spec_defaults_to_the_champion_and_accepts_aliases(world) -> None:
    assert _lineage(world, "sme-credit").model["version"] == "1"
    assert _lineage(world, "sme-credit@champion").model["version"] == "1"


def test_forged_platform_entries_are_ignored_and_reported(world) -> None:
    entries = world["platform_log"].entries()
    forged = dataclasses.replace(
        entries[2], details={**entries[2].details, "outcome": "ok", "extra": 1}
    )
    lin = assemble_lineage(
        world["tracking"],
        "sme-credit@1",
        world["audit"].entries(),
        [*entries, forged],
        platform_public_key=world["platform_key"],
    )
    assert lin.scores["platform_parts_served"] == 3
    assert any("signature" in w for w in lin.warnings)


def test_a_digest_the_platform_did_not_attest_is_flagged(world, tmp_path: Path) -> None:
    plog = AuditLog(
        tmp_path / "p.jsonl", Ed25519PrivateKey.generate(), actor=Actor("platform", "platform")
    )
    plog.append(
        ev.SESSION_OPENED, BANK_SEEN_BY_PLATFORM, {"job_id": "job-0001", "dataset_digest": "f" * 64}
    )
    lin = assemble_lineage(
        world["tracking"], "sme-credit@1", world["audit"].entries(), plog.entries()
    )
    assert any("digest differs" in w for w in lin.warnings)
    without = assemble_lineage(world["tracking"], "sme-credit@1", world["audit"].entries(), [])
    assert any("no platform audit entries" in w for w in without.warnings)
