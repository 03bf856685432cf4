"""Crash tests with real processes (issue 14 row 13): a platform node (`fedcredit platform
serve`) and a bank job (`fedcredit train`) run as separate processes under mutual TLS, and
one of them is SIGKILLed at a phase of the job, observed from the platform's step digests
(``<data>/sessions/<job>.steps``): during PSI, during a tree (the platform), during a later
tree (the bank). Each time the job is rerun with the same job id. At the end the model is
registered once, equals the model of an uninterrupted run, both audit logs verify, and the
platform's part is signed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bank_node.demo_nodes import NodeProcess, free_port, start_node, wait_healthy
from models.audit import verify
from models.model_io import read_json
from models.secureboost.tree import Tree
from proto.transport.pki import init_pki
from proto.transport.tls import TlsFiles

ROOT = Path(__file__).resolve().parent.parent
JOB = "crash-sb"


def _write(work: Path, shared: Path, port: int) -> Path:
    (work / "platform.toml").write_text(
        f"""[platform]
party = "platform"
listen = "127.0.0.1:{port}"
data_dir = "platform"
pki_dir = "pki"

[platform.known_parties]
bank-a = "bank"
regulator = "regulator"

[platform.tables.breast]
path = "{shared / "breast_hetero_host.csv"}"
id_column = "id"
"""
    )
    (work / "bank.toml").write_text(
        f"""[bank]
party = "bank-a"
data_dir = "bank"
pki_dir = "pki"
platform_target = "127.0.0.1:{port}"
platform_name = "platform"
"""
    )
    job = work / "job.toml"
    job.write_text(
        f"""[job]
name = "crash"
algorithm = "secureboost"
bank_config = "bank.toml"
id = "{JOB}"

[bank_data]
source = "table"
path = "{shared / "breast_hetero_guest.csv"}"

[platform_data]
dataset = "breast"

[split]
valid_fraction = 0.25
seed = 7

[crypto]
key_bits = 1024

[params]
n_estimators = 4
max_depth = 2
learning_rate = 0.3
privacy = "standard"
"""
    )
    return job


def _platform(work: Path, port: int) -> NodeProcess:
    node = start_node(
        "platform",
        ["platform", "serve", "--config", str(work / "platform.toml")],
        work / "logs" / f"platform-{time.monotonic_ns()}.log",
        work,
    )
    wait_healthy(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(work / "pki", "bank-a"), "platform", node)
    return node


def _train(work: Path, job: Path) -> subprocess.Popen[bytes]:
    log = open(work / "logs" / f"train-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "bank_node.cli.main", "train", str(job), "--no-progress"],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"),
    )


def _wait_for_step(work: Path, session: str, pattern: str, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until the platform answered a step of ``session`` matching ``pattern``; False if
    the bank process ended first."""
    path = work / "platform" / "sessions" / f"{session}.steps"
    rx = re.compile(pattern)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if path.exists() and any(rx.search(line) for line in path.read_text().splitlines()):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise AssertionError(f"no step {pattern} in {session} within 240 s")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _reference_trees(work: Path, shared: Path) -> list[Tree]:
    """The plaintext reference model on the crashed job's own alignment and split (another
    PSI run orders the rows differently, hence another split)."""
    import numpy as np
    import pandas as pd

    from bank_node.jobs.runner import split_rows
    from models.secureboost.reference import SecureBoostReference

    aligned = np.load(work / "bank" / "jobs" / JOB / "aligned_ids.npy")
    guest = pd.read_csv(shared / "breast_hetero_guest.csv")
    guest["id"] = guest["id"].astype(str)
    host = pd.read_csv(shared / "breast_hetero_host.csv")
    host["id"] = host["id"].astype(str)
    g = guest.set_index("id").loc[aligned]
    h = host.set_index("id").loc[aligned]
    y = g.pop("y").to_numpy(np.float64)
    X = np.hstack([g.to_numpy(np.float64), h.to_numpy(np.float64)])
    tr, va = split_rows(len(aligned), 0.25, 7)
    ref = SecureBoostReference(n_estimators=4, max_depth=2, learning_rate=0.3).fit(
        X, y, n_bank_features=g.shape[1], train_rows=tr, valid_rows=va
    )
    return list(ref.trees_)


def _trees(work: Path) -> list[Tree]:
    state = json.loads((work / "bank" / "jobs" / JOB / "state.json").read_text())
    body = read_json(Path(state["model"]["bank_part"]))
    return [Tree.from_dict(t) for t in body["trees"]]


@pytest.mark.slow
def test_sigkill_at_each_phase_loses_and_duplicates_nothing(
    tmp_path: Path, shared_data: Path
) -> None:
    work = tmp_path
    (work / "logs").mkdir()
    init_pki(work / "pki", ["bank-a"])
    port = free_port()
    job = _write(work, shared_data, port)
    platform = _platform(work, port)
    try:
        # 1. the bank dies during PSI
        bank = _train(work, job)
        assert _wait_for_step(work, f"{JOB}-psi", r"^psi/", bank)
        _kill(bank)
        # 2. the platform dies during tree 1: the bank's job fails; the platform restarts
        bank = _train(work, job)
        assert _wait_for_step(work, JOB, r"/t1/", bank)
        os.kill(platform.proc.pid, signal.SIGKILL)
        platform.proc.wait(30)
        assert bank.wait(300) != 0
        platform = _platform(work, port)
        # 3. the bank dies during tree 2
        bank = _train(work, job)
        assert _wait_for_step(work, JOB, r"/t2/", bank)
        _kill(bank)
        # 4. the rerun completes
        bank = _train(work, job)
        assert bank.wait(600) == 0, sorted((work / "logs").iterdir())
    finally:
        platform.stop()
    state = json.loads((work / "bank" / "jobs" / JOB / "state.json").read_text())
    assert state["phase"] == "registered"
    assert state["model"]["platform_part_signature"]
    bank_log = work / "bank" / "audit" / "audit.jsonl"
    plat_log = work / "platform" / "audit" / "audit.jsonl"
    assert verify(bank_log).ok and verify(plat_log).ok
    events = [json.loads(line) for line in bank_log.read_text().splitlines()]
    for name in ("model_registered", "training_completed"):
        assert sum(e["event"] == name for e in events) == 1, name
    assert state["psi_attempts"] >= 2  # the interrupted PSI was redone in a new session
    assert sum(e["event"] == "training_started" for e in events) >= 2
    # nothing lost or duplicated: the model equals the plaintext reference on this alignment
    got, ref = _trees(work), _reference_trees(work, shared_data)
    assert len(got) == len(ref) == 4
    for a, b in zip(got, ref, strict=True):
        assert a.structure() == b.structure()
        assert [n.value for n in a.leaves()] == pytest.approx([n.value for n in b.leaves()])


def _wait_for_phase(work: Path, phase: str, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until the bank's job state reaches ``phase``; False if the bank ended first."""
    path = work / "bank" / "jobs" / JOB / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if json.loads(path.read_text()).get("phase") == phase:
                return proc.poll() is None
        except (FileNotFoundError, ValueError):
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError(f"the job did not reach {phase} within 300 s")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # real processes; minutes on a loaded 2-core machine
def test_sigkill_at_finalize_and_registration_registers_once(
    tmp_path: Path, shared_data: Path
) -> None:
    """Issue 14's remaining training phases: the bank dies right after the platform answered
    ``finalize`` (the platform's part is saved, the bank's is not), the platform dies right
    after answering it, and the bank dies while registering in MLflow (state ``trained``).
    Each rerun resumes; at the end one model is registered (version 1, one
    ``model_registered`` entry), both logs verify, the platform's part is signed and loads,
    and the model equals the plaintext reference."""
    work = tmp_path
    (work / "logs").mkdir()
    init_pki(work / "pki", ["bank-a"])
    port = free_port()
    job = _write(work, shared_data, port)
    platform = _platform(work, port)
    killed: list[str] = []
    try:
        # 1. the bank dies just after the platform answered finalize
        bank = _train(work, job)
        if _wait_for_step(work, JOB, r"finalize", bank):
            _kill(bank)
            killed.append("bank at finalize")
        # 2. the platform dies just after answering finalize (in the resumed job)
        bank = _train(work, job)
        if _wait_for_step(work, JOB, r"finalize", bank) and bank.poll() is None:
            os.kill(platform.proc.pid, signal.SIGKILL)
            platform.proc.wait(30)
            killed.append("platform at finalize")
        bank.wait(300)
        if platform.proc.poll() is not None:
            platform = _platform(work, port)
        # 3. the bank dies while registering (phase "trained", not yet "registered")
        state = json.loads((work / "bank" / "jobs" / JOB / "state.json").read_text())
        if state.get("phase") != "registered":
            bank = _train(work, job)
            if _wait_for_phase(work, "trained", bank):
                _kill(bank)
                killed.append("bank at registration")
        # 4. the rerun completes
        bank = _train(work, job)
        assert bank.wait(600) == 0, sorted((work / "logs").iterdir())
    finally:
        platform.stop()
    assert "bank at finalize" in killed, killed
    state = json.loads((work / "bank" / "jobs" / JOB / "state.json").read_text())
    assert state["phase"] == "registered"
    assert state["model"]["platform_part_signature"]
    assert str(state["registry"].get("model_version")) == "1", state["registry"]
    bank_log = work / "bank" / "audit" / "audit.jsonl"
    plat_log = work / "platform" / "audit" / "audit.jsonl"
    assert verify(bank_log).ok and verify(plat_log).ok
    events = [json.loads(line) for line in bank_log.read_text().splitlines()]
    for name in ("model_registered", "training_completed"):
        assert sum(e["event"] == name for e in events) == 1, (name, killed)
    # the platform's part on disk is the one the bank pinned, signed by the platform's key
    from models.part_signing import sig_path

    parts = [p for p in (work / "platform" / "models").rglob("*.json") if sig_path(p).exists()]
    assert parts, "the platform's part is not signed"
    got, ref = _trees(work), _reference_trees(work, shared_data)
    assert len(got) == len(ref) == 4
    for a, b in zip(got, ref, strict=True):
        assert a.structure() == b.structure()
        assert [n.value for n in a.leaves()] == pytest.approx([n.value for n in b.leaves()])
    print("killed:", killed)
