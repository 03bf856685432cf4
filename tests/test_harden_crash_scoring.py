"""Crash test of online scoring with real processes (issue 14 row 13, the scoring phase):
a platform node and a bank node (`fedcredit platform serve`, `fedcredit bank serve`) under
mutual TLS, a SecureBoost model trained, registered and promoted through the CLI as in
`make demo` (a small city, 1024-bit keys), and an officer's `fedcredit score` in flight when
the platform, then the bank, is SIGKILLed. After each restart the next score works; both
audit logs verify, no entry is duplicated, and the model store is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bank_node.demo import write_job
from bank_node.demo_nodes import NodeProcess, free_port, start_node, wait_healthy
from models.audit import verify
from proto.transport.pki import init_pki
from proto.transport.tls import TlsFiles

ROOT = Path(__file__).resolve().parent.parent


def _cli(work: Path, *args: str, check: bool = True) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "bank_node.cli.main", *args],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"fedcredit {' '.join(args)}: {done.stdout.decode()[-3000:]}")
    return done.returncode


def _score_cmd(uscc: str) -> list[str]:
    return ["score", "--config", "bank.toml", "--cert-dir", "pki/alice", "--uscc", uscc]


def _start(work: Path, name: str, port: int) -> NodeProcess:
    cfg = "platform.toml" if name == "platform" else "bank.toml"
    kind = "platform" if name == "platform" else "bank"
    node = start_node(
        name,
        [kind, "serve", "--config", str(work / cfg)],
        work / "logs" / f"{name}-{time.monotonic_ns()}.log",
        work,
    )
    if name == "platform":
        wait_healthy(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(work / "pki", "bank-a"), name, node)
    else:
        tls = TlsFiles.in_pki_dir(work / "pki", "regulator")
        wait_healthy(f"127.0.0.1:{port}", tls, "bank-a", node)
    return node


def _write_configs(work: Path, platform_port: int, bank_port: int) -> None:
    """The demo's two node configs (``bank_node/demo.py``), without the web consoles."""
    (work / "platform.toml").write_text(
        f"""[platform]
party = "platform"
listen = "127.0.0.1:{platform_port}"
data_dir = "city/platform"
pki_dir = "pki"
idle_timeout_s = 900

[platform.known_parties]
bank-a = "bank"
regulator = "regulator"
"""
    )
    (work / "bank.toml").write_text(
        f"""[bank]
party = "bank-a"
listen = "127.0.0.1:{bank_port}"
data_dir = "bank-data"
pki_dir = "pki"
platform_target = "127.0.0.1:{platform_port}"
platform_name = "platform"

[bank.known_parties]
bank-a = "bank"
regulator = "regulator"
"""
    )


def _lines(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _kill_during_score(work: Path, node: NodeProcess, uscc: str, watch: Path) -> int:
    """Start an officer's score, SIGKILL ``node`` once the platform has appended the
    request's audit entry (the platform's part is computed; the answer is on its way back or
    being assembled by the bank); returns the officer command's exit code."""
    before = _lines(watch)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bank_node.cli.main", *_score_cmd(uscc)],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while _lines(watch) <= before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(node.proc.pid, signal.SIGKILL)
    node.proc.wait(30)
    return proc.wait(180)


def _model_files(work: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for root in (work / "bank-data", work / "city" / "platform" / "models"):
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix in (".json", ".sig") and "audit" not in p.parts:
                if "jobs" in p.parts or "sessions" in p.parts:
                    continue
                out[str(p.relative_to(work))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # real processes; minutes on a loaded 2-core machine
def test_sigkill_while_an_officer_scores_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    work = tmp_path
    (work / "logs").mkdir()
    init_pki(
        work / "pki",
        ["bank-a"],
        officers=[("alice", "bank-a")],
        approvers=[("head-of-risk", "bank-a")],
    )
    _cli(work, "data", "generate", "--enterprises", "600", "--seed", "7", "--out", "city")
    card = json.loads((work / "city" / "data_card.json").read_text())
    platform_port, bank_port = free_port(), free_port()
    _write_configs(work, platform_port, bank_port)
    job = write_job(work, card["as_of"])
    text = job.read_text()
    for old, new in (
        ("key_bits = 2048", "key_bits = 1024"),
        ("n_estimators = 12", "n_estimators = 2"),
        ("max_depth = 4", "max_depth = 2"),
    ):
        assert old in text
        text = text.replace(old, new)
    job.write_text(text)
    platform = _start(work, "platform", platform_port)
    bank = _start(work, "bank", bank_port)
    try:
        _cli(work, "train", job.name, "--no-progress")
        import numpy as np

        aligned = np.load(work / "bank-data" / "jobs" / "sme-default-001" / "aligned_ids.npy")
        usccs = [str(u) for u in aligned[:2]]
        for uscc in usccs:
            _cli(work, "consent", "grant", "--config", "platform.toml", "--uscc", uscc,
                 "--bank", "bank-a", "--scope", "scoring", "--days", "30",
                 "--evidence", "signed-form")  # fmt: skip
        _cli(work, "model", "promote", "sme-default", "1", "--alias", "champion",
             "--cert-dir", "pki/head-of-risk", "--config", "bank.toml")  # fmt: skip
        _cli(work, *_score_cmd(usccs[0]))
        models_before = _model_files(work)
        assert models_before
        plat_log = work / "city" / "platform" / "audit" / "audit.jsonl"
        bank_log = work / "bank-data" / "audit" / "audit.jsonl"
        # 1. the platform dies while the officer's request is in flight; restart; score again
        rc_platform = _kill_during_score(work, platform, usccs[0], plat_log)
        platform = _start(work, "platform", platform_port)
        _cli(work, *_score_cmd(usccs[0]))
        # 2. the bank dies while the officer's request is in flight; restart; score again
        rc_bank = _kill_during_score(work, bank, usccs[1], plat_log)
        bank = _start(work, "bank", bank_port)
        _cli(work, *_score_cmd(usccs[1]))
        _cli(work, *_score_cmd(usccs[0]))
    finally:
        bank.stop()
        platform.stop()
    print("officer exit codes at the kills: platform", rc_platform, "bank", rc_bank)
    assert _model_files(work) == models_before  # the model store is unchanged
    for log in (plat_log, bank_log):
        assert verify(log).ok, log
        entries = _entries(log)
        seqs = [e["seq"] for e in entries]
        assert seqs == sorted(set(seqs)), log  # nothing duplicated, nothing out of order
        ids = [
            e["details"]["request_id"]  # type: ignore[index]
            for e in entries
            if e["event"] == "score_request" and e["details"].get("outcome") == "ok"  # type: ignore[union-attr]
        ]
        assert len(ids) == len(set(ids)), (log, entries[-12:])  # no request served twice

    # every score the officer saw succeed is in both logs: 4 after restarts + 1 before
    def served(log: Path, uscc: str) -> int:
        return sum(
            e["event"] == "score_request"
            and isinstance(e.get("details"), dict)
            and e["details"].get("uscc") == uscc  # type: ignore[union-attr]
            and e["details"].get("outcome") in (None, "ok")  # type: ignore[union-attr]
            for e in _entries(log)
        )

    for log in (plat_log, bank_log):
        n0, n1 = served(log, usccs[0]), served(log, usccs[1])
        assert 3 <= n0 <= 4 and 1 <= n1 <= 2, (log, n0, n1)
