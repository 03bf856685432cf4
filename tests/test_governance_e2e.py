"""Issue 7's acceptance over real mutual-TLS nodes: lineage from both nodes, approvals,
tamper-evident logs, and what the regulator and the banks may and may not read or do.

One small SecureBoost job (1024-bit keys) produces a registered version; the commands under
test are called through ``bank_node.cli.main.main`` exactly as an operator or regulator would.
Score requests are stood in for by the audit entries the scoring services write (the same
event and detail keys), since the breast data set has no company codes to score.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from bank_node.audit_service import bank_audit_log
from bank_node.cli.main import main
from bank_node.config import BankConfig
from bank_node.jobs.runner import JobRunner
from bank_node.jobs.spec import JobSpec
from bank_node.lineage_fetch import AuditClient
from bank_node.server import create_bank_server
from experiments.support.grpc_harness import KNOWN, bank_peer, shared_pki, start_platform
from models.audit import Actor, read_entries
from models.audit import events as ev
from models.errors import PermissionDenied
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from models.uscc import generate_usccs
from platform_node.consent import ConsentRegistry
from platform_node.data_provider import PlatformDataProvider, ServedTable
from proto.fedcredit.v1 import lineage_pb2, lineage_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.channel import open_channel
from proto.transport.local_identity import os_account
from proto.transport.tls import TlsFiles, cert_fingerprint

MODEL = "breast-sb"
JOB = "breast-gov-1"
APPROVER = "bank-a/head-of-risk"  # the approver certificate of the shared PKI
N_SERVED, N_DENIED = 3, 1


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("governance")
    pki = shared_pki()
    # -- the platform, with its scoring service (banks only) and consent registry
    plog = open_node_audit_log(tmp / "platform", "platform", "platform")
    registry = ConsentRegistry.in_data_dir(tmp / "platform", plog)
    data = PlatformDataProvider(
        tmp / "platform",
        {"breast": ServedTable(path=shared_data / "breast_hetero_host.csv", id_column="id")},
    )

    def scoring(server: grpc.Server) -> Any:
        from platform_node.scoring.service import install

        return install(
            server,
            data_dir=tmp / "platform",
            data_provider=data,
            consent_registry=registry,
            audit_log=plog,
        )

    platform = start_platform(tmp, data, audit_log=plog, extra_services=[scoring])
    known = "\n".join(f'{k} = "{v}"' for k, v in KNOWN.items())
    platform_toml = tmp / "platform.toml"
    platform_toml.write_text(
        f'[platform]\ndata_dir = "{tmp / "platform"}"\npki_dir = "{pki}"\n'
        f"[platform.known_parties]\n{known}\n"
    )
    # -- the bank: config, a training job, then its own server
    bank_toml = tmp / "bank.toml"
    bank_toml.write_text(
        f'[bank]\nparty = "bank-a"\nlisten = "127.0.0.1:0"\ndata_dir = "{tmp / "bank"}"\n'
        f'pki_dir = "{pki}"\nplatform_target = "127.0.0.1:{platform.port}"\n'
    )
    config = BankConfig.load(bank_toml)
    (config.data_dir / "scoring").mkdir(parents=True, exist_ok=True)
    (config.data_dir / "scoring" / "settings.json").write_text('{"key_bits": 1024}')
    spec = JobSpec.from_dict(
        {
            "job": {"name": MODEL, "algorithm": "secureboost", "id": JOB},
            "bank_data": {"source": "table", "path": str(shared_data / "breast_hetero_guest.csv")},
            "platform_data": {"dataset": "breast"},
            "split": {"valid_fraction": 0.25, "seed": 3},
            "crypto": {"key_bits": 1024},
            "params": {"n_estimators": 2, "max_depth": 2, "learning_rate": 0.3},
        },
        base=tmp,
    )
    peer = config.platform_peer()
    audit = bank_audit_log(config)
    result = JobRunner(spec, config, peer, audit=audit).run()
    peer.close()
    assert result.state.registry["model_version"] == "1"
    bank = create_bank_server(config)
    # -- a company consents; stand-ins for the scores served with version 1
    uscc = generate_usccs(1, np.random.default_rng(5))[0]
    model_id = result.state.model["model_id"]
    officer = Actor("bank-a/alice", "officer", cert_fingerprint(pki / "alice" / "cert.pem"))
    bank_party = Actor("bank-a", "bank", cert_fingerprint(pki / "bank-a" / "cert.pem"))
    world = {
        "tmp": tmp,
        "pki": pki,
        "platform": platform,
        "platform_toml": platform_toml,
        "bank": bank,
        "bank_toml": bank_toml,
        "config": config,
        "result": result,
        "uscc": uscc,
        "model_id": model_id,
        "officer": officer,
        "bank_actor": bank_party,
        "bank_audit": audit,
    }
    yield world
    bank.stop(0.2)
    platform.stop(0.2)
    registry.close()


@pytest.fixture(scope="module")
def consented(world: dict[str, Any]) -> str:
    """Consent granted through the CLI, and the score requests it authorised."""
    code = main(
        [
            "consent", "grant", "--config", str(world["platform_toml"]), "--uscc", world["uscc"],
            "--bank", "bank-a", "--scope", "scoring", "--days", "30",
        ]
    )  # fmt: skip
    assert code == 0
    plog = world["platform"].audit_log
    grant = [e for e in plog.entries() if e.event == ev.CONSENT_GRANTED][-1]
    consent_id = grant.details["consent_id"]
    # the operator is the OS account that ran the command, never a flag (issue 14 row 12)
    assert grant.actor.party == f"platform/{os_account()}" and grant.actor.role == "operator"
    assert grant.actor.cert_fingerprint == cert_fingerprint(world["pki"] / "platform" / "cert.pem")
    assert grant.details["bank_party"] == "bank-a"
    for i in range(N_SERVED + N_DENIED):
        outcome = ev.OUTCOME_OK if i < N_SERVED else ev.OUTCOME_DENIED
        world["bank_audit"].append(
            ev.SCORE_REQUEST,
            world["officer"],
            {
                "request_id": f"r{i}",
                "uscc": world["uscc"],
                "bank_party": "bank-a",
                "model_id": world["model_id"],
                "model_name": MODEL,
                "model_version": "1",
                "consent_id": consent_id if outcome == ev.OUTCOME_OK else "",
                "outcome": outcome,
            },
        )
        plog.append(
            ev.SCORE_REQUEST,
            world["bank_actor"],
            {
                "request_id": f"r{i}",
                "uscc": world["uscc"],
                "bank_party": "bank-a",
                "model_id": world["model_id"],
                "consent_id": consent_id if outcome == ev.OUTCOME_OK else "",
                "outcome": outcome,
            },
        )
    return str(consent_id)


@pytest.fixture(scope="module")
def promoted(world: dict[str, Any], consented: str) -> None:
    code = main(
        [
            "model", "promote", MODEL, "1", "--alias", "champion",
            "--cert-dir", str(world["pki"] / "head-of-risk"), "--config", str(world["bank_toml"]),
        ]
    )  # fmt: skip
    assert code == 0


def _regulator_tls(world: dict[str, Any]) -> TlsFiles:
    return TlsFiles.in_pki_dir(world["pki"], "regulator")


def _check_lineage(doc: dict[str, Any], world: dict[str, Any]) -> None:
    """Every field issue 7 names, with the values both nodes recorded."""
    pki, state = world["pki"], world["result"].state
    bank_fp = cert_fingerprint(pki / "bank-a" / "cert.pem")
    platform_fp = cert_fingerprint(pki / "platform" / "cert.pem")
    assert doc["model"]["name"] == MODEL and doc["model"]["version"] == "1"
    assert doc["model"]["aliases"] == ["champion"]
    assert doc["model"]["model_id"] == world["model_id"]
    part = doc["model"]["platform_part_digest"]
    assert part and doc["model"]["platform_part_digest_attested_by_platform"] == part
    # who launched the job and when, code version
    job = doc["job"]
    assert job["job_id"] == JOB and job["algorithm"] == "secureboost"
    assert job["launched_by"] == state.launched_by and job["launched_by"].startswith("bank-a/")
    assert job["launched_by_cert_fingerprint"] == bank_fp
    assert job["launched_at"] == state.launched_at and job["finished_at"]
    assert job["code_version"].startswith("fedcredit")
    # both parties and their certificate fingerprints, as recorded and as each node saw them
    parties = doc["parties"]
    assert parties["bank"]["party"] == "bank-a"
    assert parties["bank"]["cert_fingerprint"] == bank_fp
    assert parties["bank"]["cert_fingerprint_seen_by_platform"] == bank_fp
    assert parties["platform"]["party"] == "platform"
    assert parties["platform"]["cert_fingerprint"] == platform_fp
    assert parties["platform"]["cert_fingerprint_attested_by_platform"] == platform_fp
    # data digests and categories on each side; the platform's attested by the platform
    bank_side, plat_side = doc["data"]["bank"], doc["data"]["platform"]
    assert bank_side["digest"] and bank_side["categories"] == ["bank"]
    assert bank_side["n_rows"] == 569
    assert plat_side["digest"] == state.platform["digest"]
    assert plat_side["categories"] == ["served"] and plat_side["n_rows"] == 569
    attested = plat_side["attested_by_platform"]
    assert attested["dataset_digest"] == state.platform["digest"]
    assert attested["categories"] == ["served"] and attested["n_rows"] == 569
    # PSI sizes, crypto, parameters, metrics
    assert doc["psi"]["bank_size"] == 569 and doc["psi"]["platform_size"] == 569
    assert doc["psi"]["intersection_size"] == 569 and doc["psi"]["protocol"]
    assert doc["crypto"]["key_bits"] == 1024 and doc["crypto"]["scheme"]
    assert doc["params"]["n_estimators"] == "2" and doc["params"]["max_depth"] == "2"
    assert doc["params"]["algorithm"] == "secureboost"
    assert doc["metrics"]["final"]["val_auc"] == pytest.approx(
        world["result"].metrics["val_auc"]
    )
    assert doc["metrics"]["per_step"]  # per-tree history
    # approvals and scores served
    assert [(a["alias"], a["approver"]) for a in doc["approvals"]] == [("champion", APPROVER)]
    assert doc["scores"] == {
        "served": N_SERVED,
        "denied": N_DENIED,
        "platform_parts_served": N_SERVED,
    }
    # drawn from both nodes
    trail_nodes = {t["node"] for t in doc["audit_trail"]}
    assert trail_nodes == {"bank", "platform"}
    plat_events = {t["event"] for t in doc["audit_trail"] if t["node"] == "platform"}
    assert {"session_opened", "session_closed", "dataset_described", "model_part_saved"} <= (
        plat_events
    )
    bank_events = {t["event"] for t in doc["audit_trail"] if t["node"] == "bank"}
    assert {"psi_run", "training_started", "model_registered", "model_promoted"} <= bank_events
    assert doc["warnings"] == []


def test_promote_records_the_approver(world: dict[str, Any], promoted: None, capsys) -> None:
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.tracking import get_version

    mv = get_version(bank_tracking(world["config"]), MODEL, "champion")
    assert str(mv.version) == "1" and mv.tags["fedcredit.approved_by"] == APPROVER
    entries = [e for e in world["bank_audit"].entries() if e.event == ev.MODEL_PROMOTED]
    assert len(entries) == 1
    assert entries[0].details["approver"] == APPROVER and entries[0].details["alias"] == "champion"
    assert entries[0].actor.party == APPROVER and entries[0].actor.role == "approver"
    assert entries[0].actor.cert_fingerprint == cert_fingerprint(
        world["pki"] / "head-of-risk" / "cert.pem"
    )
    assert entries[0].details["os_account"] == os_account()
    code, out, _ = _run(capsys, "model", "list", MODEL, "--config", world["bank_toml"], "--json")
    assert code == 0
    versions = json.loads(out)["versions"]
    assert versions[0]["aliases"] == ["champion"] and versions[0]["approved_by"] == APPROVER


def test_bank_lineage_has_every_field_from_both_nodes(
    world: dict[str, Any], promoted: None, capsys
) -> None:
    code, out, _ = _run(capsys, "audit", "lineage", MODEL, "--json", "--config", world["bank_toml"])
    assert code == 0
    _check_lineage(json.loads(out), world)
    code, text, _ = _run(capsys, "audit", "lineage", f"{MODEL}@1", "--config", world["bank_toml"])
    assert code == 0
    for heading in ("Job", "Parties", "Data (bank)", "Data (platform)", "PSI", "Approvals"):
        assert f"\n{heading}\n" in text
    assert APPROVER in text and world["result"].state.platform["digest"] in text


def test_regulator_reads_lineage_remotely_and_cross_checks_the_platform(
    world: dict[str, Any], promoted: None, capsys
) -> None:
    pki = world["pki"]
    code, out, err = _run(
        capsys,
        "audit", "lineage", f"{MODEL}@champion", "--json",
        "--remote", f"127.0.0.1:{world['bank'].port}", "--cert-dir", pki / "regulator",
        "--server-name", "bank-a",
        "--platform", f"127.0.0.1:{world['platform'].port}", "--platform-name", "platform",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    _check_lineage(doc, world)
    check = doc["cross_check"]
    assert check["ok"] and check["platform_entries_confirmed"] >= 5
    assert check["platform_parts_served_per_platform"] == N_SERVED
    # the bank recorded that the regulator read the lineage
    reads = [e for e in world["bank_audit"].entries() if e.event == ev.AUDIT_READ]
    assert any(e.actor.role == "regulator" and e.details.get("what") == "lineage" for e in reads)


def test_verify_passes_then_names_the_entry_with_one_changed_byte(
    world: dict[str, Any], promoted: None, capsys
) -> None:
    for toml in (world["bank_toml"], world["platform_toml"]):
        code, out, _ = _run(capsys, "audit", "verify", "--config", toml)
        assert code == 0 and "OK:" in out
    # a copy of the bank's log with one byte changed in the promotion entry
    src = world["config"].data_dir / "audit"
    copy = world["tmp"] / "tampered"
    shutil.copytree(src, copy)
    log = copy / "audit.jsonl"
    target = next(e for e in read_entries(log) if e.event == ev.MODEL_PROMOTED)
    lines = log.read_bytes().split(b"\n")
    line = lines[target.seq - 1]
    at = line.index(APPROVER.encode()) + len("bank-a/")
    lines[target.seq - 1] = line[:at] + b"C" + line[at + 1 :]  # chief -> Chief
    log.write_bytes(b"\n".join(lines))
    code, out, _ = _run(capsys, "audit", "verify", "--log", log)
    assert code == 1
    assert f"FAILED: entry {target.seq} modified" in out
    assert f"entry {target.seq} as written: model_promoted" in out
    # deleting an entry is named too
    lines = log.read_bytes().split(b"\n")
    lines[target.seq - 1] = line  # restore, then delete the entry before it
    del lines[target.seq - 2]
    log.write_bytes(b"\n".join(lines))
    code, out, _ = _run(capsys, "audit", "verify", "--log", log, "--json")
    report = json.loads(out)
    assert code == 1 and (report["problem"], report["first_bad_seq"]) == (
        "deleted",
        target.seq - 1,
    )


def test_regulator_verifies_both_nodes_remotely(world: dict[str, Any], capsys) -> None:
    pki = world["pki"]
    for port, name in ((world["platform"].port, "platform"), (world["bank"].port, "bank-a")):
        code, out, err = _run(
            capsys,
            "audit", "verify", "--remote", f"127.0.0.1:{port}",
            "--cert-dir", pki / "regulator", "--server-name", name,
        )  # fmt: skip
        assert code == 0, err
        assert "OK:" in out and name in out
    # pinning the wrong key fails the check
    code, out, _ = _run(
        capsys,
        "audit", "verify", "--remote", f"127.0.0.1:{world['platform'].port}",
        "--cert-dir", pki / "regulator", "--server-name", "platform", "--pin", "00" * 32,
    )  # fmt: skip
    assert code == 1 and "FAILED: the node's audit key is not the pinned one" in out


def test_regulator_is_refused_on_training_and_scoring(world: dict[str, Any]) -> None:
    pki, reg = world["pki"], _regulator_tls(world)
    # training: FederationService on the platform
    peer = bank_peer(world["platform"].port, "regulator")
    with pytest.raises(PermissionDenied):
        peer.open_session(SessionSpec("reg-try", "describe", "breast"))
    peer.close()
    # scoring: the bank's ScoringService and the platform's PlatformScoringService
    for port, name, call in (
        (
            world["bank"].port,
            "bank-a",
            lambda ch: scoring_pb2_grpc.ScoringServiceStub(ch).Score(
                scoring_pb2.ScoreRequest(uscc=world["uscc"]), timeout=10
            ),
        ),
        (
            world["platform"].port,
            "platform",
            lambda ch: scoring_pb2_grpc.PlatformScoringServiceStub(ch).Score(
                scoring_pb2.ScoreEnvelope(body_type="fedcredit.v1.LinearScoreRequest"), timeout=10
            ),
        ),
    ):
        with (
            open_channel(f"127.0.0.1:{port}", reg, server_name=name) as channel,
            pytest.raises(grpc.RpcError) as info,
        ):
            call(channel)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # an officer may score but may not read lineage
    alice = TlsFiles.in_pki_dir(pki, "alice")
    with (
        open_channel(f"127.0.0.1:{world['bank'].port}", alice, server_name="bank-a") as ch,
        pytest.raises(grpc.RpcError) as info,
    ):
        lineage_pb2_grpc.LineageServiceStub(ch).GetLineage(
            lineage_pb2.LineageRequest(model=MODEL), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_bank_cannot_read_the_platforms_entries_about_other_banks(
    world: dict[str, Any], consented: str, capsys
) -> None:
    port = world["platform"].port
    other = bank_peer(port, "bank-b")
    other.open_session(SessionSpec("bank-b-look", "describe", "breast"))
    other.call("describe/0", DescribeRequest(), DescribeResponse)
    other.close_session("done")
    other.close()
    target = f"127.0.0.1:{port}"
    bank_a = TlsFiles.in_pki_dir(world["pki"], "bank-a")
    with AuditClient(target, bank_a, server_name="platform") as client:
        seen_by_a = client.list_entries().entries
        assert client.list_entries(job_id="bank-b-look").entries == []
    with AuditClient(target, _regulator_tls(world), server_name="platform") as client:
        seen_by_regulator = client.list_entries().entries
    about_b = [e for e in seen_by_regulator if "bank-b" in e.to_json_line()]
    assert {e.event for e in about_b} >= {"session_opened", "dataset_described"}
    assert seen_by_a and all("bank-b" not in e.to_json_line() for e in seen_by_a)
    assert {e.event for e in seen_by_a} >= {"session_opened", "consent_granted", "score_request"}
    assert len(seen_by_a) < len(seen_by_regulator)
    # the same through the command line, with bank-a's certificate
    code, out, _ = _run(
        capsys,
        "audit", "entries", "--remote", target, "--cert-dir", world["pki"] / "bank-a",
        "--server-name", "platform", "--json",
    )  # fmt: skip
    lines = out.splitlines()
    assert code == 0 and lines and all("bank-b" not in line for line in lines)


def test_consent_commands(world: dict[str, Any], consented: str, capsys) -> None:
    toml, uscc = world["platform_toml"], world["uscc"]
    code, out, _ = _run(capsys, "consent", "list", "--config", toml, "--uscc", uscc, "--json")
    assert code == 0
    doc = json.loads(out)
    assert [c["consent_id"] for c in doc["consents"]] == [consented]
    assert len(doc["uses"]) == N_SERVED + N_DENIED
    assert sum(u["outcome"] == "ok" and u["consent_id"] == consented for u in doc["uses"]) == 3
    # an invalid code or an unknown bank is refused without echoing the code
    bad = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    code, _, err = _run(
        capsys, "consent", "grant", "--config", toml, "--uscc", bad, "--bank", "bank-a"
    )
    assert code == 2 and "invalid_argument" in err.lower() and bad not in err
    code, _, err = _run(
        capsys, "consent", "grant", "--config", toml, "--uscc", uscc, "--bank", "bank-z"
    )
    assert code == 2 and "not a known bank" in err
    # revoke, then it is no longer in force and the change is audited
    code, out, _ = _run(
        capsys, "consent", "revoke", "--config", toml, "--uscc", uscc, "--bank", "bank-a"
    )
    assert code == 0 and consented in out
    code, out, _ = _run(capsys, "consent", "list", "--config", toml, "--bank", "bank-a", "--active")
    assert code == 0 and out.startswith("0 consents")
    revoked = [e for e in world["platform"].audit_log.entries() if e.event == ev.CONSENT_REVOKED]
    assert revoked and revoked[-1].details["consent_id"] == consented


def test_remote_verify_names_a_changed_byte_on_the_platform(world: dict[str, Any], capsys) -> None:
    """Last: tampers with the live platform log (restored afterwards)."""
    log = world["platform"].audit_log.path
    original = log.read_bytes()
    lines = original.split(b"\n")
    k = 3
    at = lines[k - 1].index(b'"ts":"') + len('"ts":"2')
    changed = b"1" if lines[k - 1][at : at + 1] != b"1" else b"2"
    lines[k - 1] = lines[k - 1][:at] + changed + lines[k - 1][at + 1 :]
    log.write_bytes(b"\n".join(lines))
    try:
        code, out, _ = _run(
            capsys,
            "audit", "verify", "--remote", f"127.0.0.1:{world['platform'].port}",
            "--cert-dir", world["pki"] / "regulator", "--server-name", "platform",
        )  # fmt: skip
    finally:
        log.write_bytes(original)
    assert code == 1 and f"FAILED: entry {k} modified" in out


def test_bank_lineage_reads_its_own_entries_through_the_index(
    world: dict[str, Any], promoted: None
) -> None:
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.lineage import _concerns
    from bank_node.lineage_fetch import bank_related, lineage_keys

    config = world["config"]
    tracking = bank_tracking(config)
    job_id, _ = lineage_keys(tracking, f"{MODEL}@1")
    want = [
        e.seq
        for e in read_entries(config.data_dir / "audit" / "audit.jsonl")
        if _concerns(e, job_id, (f"{MODEL}@1",))
    ]
    got = [e.seq for e in bank_related(config, tracking, f"{MODEL}@1", job_id)]
    assert got == want and len(got) >= 3


def test_bank_pins_the_platform_audit_key(
    world: dict[str, Any], promoted: None, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bank_node.audit_pin import pin_file

    platform_fp = world["platform"].audit_log.key_fingerprint
    code, out, _ = _run(capsys, "audit", "lineage", MODEL, "--json", "--config", world["bank_toml"])
    assert code == 0
    # trust on first use: the key the bank saw is now pinned
    assert pin_file(world["config"]).read_text().strip() == platform_fp
    assert json.loads(out)["parties"]["platform"]["audit_key_fingerprint"] == platform_fp
    # a configured pin that the platform's key does not match: its entries are left out
    monkeypatch.setenv("FEDCREDIT_BANK_PLATFORM_AUDIT_KEY", "ab" * 32)
    code, out, _ = _run(capsys, "audit", "lineage", MODEL, "--json", "--config", world["bank_toml"])
    assert code == 0
    doc = json.loads(out)
    assert any("not the pinned one" in w for w in doc["warnings"])
    assert not [t for t in doc["audit_trail"] if t.get("node") == "platform"]
    monkeypatch.setenv("FEDCREDIT_BANK_PLATFORM_AUDIT_KEY", "not-hex")
    code, _, err = _run(capsys, "audit", "lineage", MODEL, "--config", world["bank_toml"])
    assert code != 0 and "fingerprint" in err


def test_regulator_pins_the_platform_key_in_the_cross_check(
    world: dict[str, Any], promoted: None, capsys
) -> None:
    pki = world["pki"]
    args = [
        "audit", "lineage", f"{MODEL}@champion", "--json",
        "--remote", f"127.0.0.1:{world['bank'].port}", "--cert-dir", pki / "regulator",
        "--server-name", "bank-a",
        "--platform", f"127.0.0.1:{world['platform'].port}", "--platform-name", "platform",
    ]  # fmt: skip
    platform_fp = world["platform"].audit_log.key_fingerprint
    code, _, err = _run(capsys, *args, "--pin-platform", platform_fp)
    assert code == 0, err
    code, _, err = _run(capsys, *args, "--pin-platform", "cd" * 32)
    assert code != 0 and "not the pinned one" in err


def test_platform_key_rotation_keeps_pins_and_lineage(
    world: dict[str, Any], promoted: None, capsys
) -> None:
    """Runs last: rotates the platform's audit key while its server runs."""
    pki, platform_log = world["pki"], world["platform"].audit_log
    root_fp = platform_log.key_fingerprint
    code, out, err = _run(
        capsys, "audit", "rotate-key", "--config", world["platform_toml"], "--reason", "test"
    )
    assert code == 0, err
    assert root_fp in out
    remote = [
        "audit", "verify", "--remote", f"127.0.0.1:{world['platform'].port}",
        "--cert-dir", pki / "regulator", "--server-name", "platform", "--pin", root_fp, "--json",
    ]  # fmt: skip
    code, out, err = _run(capsys, *remote)  # the server appends with the new key meanwhile
    assert code == 0, err
    code, out, err = _run(capsys, *remote)
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["rotations"] == 1, err
    assert doc["current_key_fingerprint"] != root_fp == doc["key_fingerprint"]
    code, out, _ = _run(capsys, "audit", "lineage", MODEL, "--json", "--config", world["bank_toml"])
    lineage = json.loads(out)
    assert code == 0 and not [w for w in lineage["warnings"] if "signature" in w or "pinned" in w]
    assert lineage["parties"]["platform"]["audit_key_fingerprint"] == root_fp
