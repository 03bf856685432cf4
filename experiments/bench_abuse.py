"""Benchmark: honest officers' scoring while one bank abuses the platform (issue 14 rows 1-3).

Both nodes run as separate processes on loopback with mutual TLS, as in ``bench_scoring.py``.
Honest load: ``--clients`` officer clients of bank-a score consenting companies one request
at a time (officer -> bank -> platform -> bank -> officer, logistic regression). Measured twice
in the same run: **quiet** (nothing else) and **abused**, while an abuser process holding
bank-b's certificate (and, for row 1, the regulator's) runs:

1. ``VerifyLog`` floods: bank-b calls it in a loop (PERMISSION_DENIED: regulator only), and the
   regulator too (incremental and cached, rate-limited per party);
2. big ``Exchange`` streams: ``--streams`` concurrent streams of ``--stream-mib`` MiB each into
   an open session of bank-b, repeated (bytes in flight per party, byte rate, spill to disk);
3. a new ``as_of`` date on every scoring request of bank-b's own model (per-bank budget of new
   feature tables; cached dates keep being served).

Every abuser loop sleeps ``--abuse-pause-ms`` between its calls and ignores refusals (no
backoff). The headline abused phase runs the abuser at the lowest CPU priority (``nice 19``): in
production the attacker's own CPU is another machine's, while here two shared cores run
everything; the platform's CPU spent on the abuse is measured in full (the table gives each
process's CPU seconds per phase). The same abuse is then repeated with the abuser competing for
the cores (``nice 0``, ``ratio_competing``), which measures the machine sharing as well.

The platform's RSS is sampled every 50 ms over both phases; ``platform_rss_ceiling_mb`` is the
ceiling configured for the run: the platform's quiet RSS plus 3x its bytes-in-flight budget
(a received body, its parsed message and the decoded arrays) plus the feature-table cache.

Usage: ``python experiments/bench_abuse.py [--quick]`` writes
``experiments/results/bench_abuse.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.bench_scoring import (  # noqa: E402
    DATASET,
    bench_tables,
    run_load,
    serve_bank,
    summary,
)
from experiments.bench_scoring import serve_platform as scoring_platform  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
MiB = 1 << 20
TARGET_RATIO = 0.8
#: The platform's limits in this run (written to its config section ``[platform.limits]``).
LIMITS = {
    "max_body_bytes": 64 * MiB,
    "party_bytes_in_flight": 128 * MiB,
    "bytes_in_flight": 192 * MiB,
    "party_streams": 4,
    "party_bytes_per_s": 8 * MiB,
    "spill_threshold_bytes": 4 * MiB,
}
FEATURE_TABLES = {"max_tables": 16, "max_bytes": 64 * MiB, "builds_per_s": 0.2, "build_burst": 4}


# ----------------------------------------------------------------------------- models
def train(work: Path, bank: Any, plat: Any, quick: bool) -> dict[str, Any]:
    """LR models for bank-a (the honest officers) and bank-b (the abuser's own model)."""
    import models.logreg.passive  # noqa: F401
    from bank_node.scoring.model_store import ModelStore
    from experiments.support.scoring import StaticProvider, serve_approved
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from models.logreg.active import FederatedLogisticRegression

    manager = SessionManager(work / "platform", StaticProvider(plat), idle_timeout_s=600)
    out: dict[str, Any] = {}
    for party, model_id in (("bank-a", "bench-lr"), ("bank-b", "abuse-lr")):
        peer = InProcessPeer(manager, Caller(party, "bank"))
        t0 = time.perf_counter()
        lr = FederatedLogisticRegression(
            mode="paillier", max_epochs=2 if quick else 4, batch_size=1024, key_bits=1024,
            random_state=0,
        ).fit(bank, peer, model_id=model_id, platform_dataset=DATASET)  # fmt: skip
        parts = work / party / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        lr.save(parts / f"{model_id}.json")
        out[party] = {"model_id": model_id, "train_s": round(time.perf_counter() - t0, 1)}
    import pandas as pd

    frame = pd.DataFrame(bank.X, columns=bank.feature_names)
    frame.insert(0, "id", bank.ids)
    frame.to_parquet(work / "bank" / "bank_features.parquet", index=False)
    pframe = pd.DataFrame(plat.X, columns=plat.feature_names)
    pframe.insert(0, "id", plat.ids)
    pframe.to_parquet(work / "platform_table.parquet", index=False)
    features = {"kind": "table", "path": str(work / "bank" / "bank_features.parquet")}
    (work / "bank" / "parts").mkdir(parents=True, exist_ok=True)
    os.replace(
        work / "bank-a" / "parts" / "bench-lr.json", work / "bank" / "parts" / "bench-lr.json"
    )
    serve_approved(  # approved as an approver's `model promote` would
        ModelStore(work / "bank"),
        "bench-lr",
        work / "bank" / "parts" / "bench-lr.json",
        version="1",
        features=features,
    )
    return out


# ----------------------------------------------------------------------------- platform process
def serve_platform(work: Path) -> None:
    """Child process: the platform with scoring over the served table, limits from LIMITS."""
    from platform_node.scoring.table_cache import TableCacheConfig
    from proto.transport.limits import LimitsConfig

    def record_refusals(running: Any) -> None:
        (work / "platform.refused.json").write_text(json.dumps(running.node.guard.refused))

    scoring_platform(
        work,
        known_parties={"bank-a": "bank", "bank-b": "bank", "regulator": "regulator"},
        feature_tables=TableCacheConfig.from_mapping(FEATURE_TABLES),
        limits=LimitsConfig.from_mapping(LIMITS),
        on_stop=record_refusals,
    )


# ----------------------------------------------------------------------------- abuser process
def abuse(work: Path, platform_port: int, args: Any) -> None:
    """Child process: bank-b (and the regulator) abusing the platform until SIGTERM."""
    import grpc

    from bank_node.federation_client import GrpcPassivePeer
    from bank_node.lineage_fetch import AuditClient
    from bank_node.scoring.families import ScoreJob, load_bank_model
    from bank_node.scoring.keys import ScoringKeys
    from models.federation.session import SessionSpec
    from proto.fedcredit.v1 import common_pb2
    from proto.transport.channel import RetryPolicy, open_channel
    from proto.transport.tls import TlsFiles

    os.nice(args.abuser_nice)  # the abuser's CPU stands for another machine's (module doc)
    pki = work / "pki"
    target = f"127.0.0.1:{platform_port}"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    counts: dict[str, dict[str, int]] = {}
    lock = threading.Lock()
    pause = args.abuse_pause_ms / 1000.0

    def count(kind: str, outcome: str) -> None:
        with lock:
            counts.setdefault(kind, {}).setdefault(outcome, 0)
            counts[kind][outcome] += 1

    def outcome(err: BaseException | None) -> str:
        if err is None:
            return "ok"
        code = getattr(err, "code", None)
        if callable(code):
            return str(code().name)
        return getattr(getattr(err, "kind", None), "value", type(err).__name__)

    def verify_flood(party: str) -> None:
        with AuditClient(target, TlsFiles.in_pki_dir(pki, party), server_name="platform") as c:
            c._retry = RetryPolicy(attempts=1)
            while not stop.is_set():
                try:
                    c.verify()
                    count(f"verify_log_{party}", "ok")
                except Exception as err:
                    count(f"verify_log_{party}", outcome(err))
                stop.wait(pause)

    size = args.stream_mib * MiB
    body = bytes(size)  # zeros: a valid digest, not a valid message
    digest = hashlib.sha256(body).digest()

    def stream_flood(k: int) -> None:
        tls = TlsFiles.in_pki_dir(pki, "bank-b")
        peer = GrpcPassivePeer(target, tls, retry=RetryPolicy(attempts=1))
        job = f"abuse-{os.getpid()}-{k}"
        peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset=DATASET))
        channel = open_channel(target, tls, server_name="platform")
        call = channel.stream_stream(
            "/fedcredit.v1.FederationService/Exchange",
            request_serializer=common_pb2.Frame.SerializeToString,
            response_deserializer=common_pb2.Frame.FromString,
        )
        step = 0
        while not stop.is_set():
            step += 1

            def frames(step: int = step) -> Any:
                header = common_pb2.FrameHeader(
                    job_id=job, step_id=f"s/{step}", body_type="fedcredit.v1.DescribeRequest",
                    total_bytes=size, sha256=digest,
                )  # fmt: skip
                view = memoryview(body)
                yield common_pb2.Frame(header=header)  # the header alone first
                for start in range(0, size, MiB):
                    if stop.is_set():
                        return
                    yield common_pb2.Frame(chunk=bytes(view[start : start + MiB]))

            try:
                list(call(frames(), timeout=120))
                count("exchange_stream", "ok")
            except grpc.RpcError as err:
                count("exchange_stream", outcome(err))
            stop.wait(pause)
        channel.close()
        peer.close()

    keys = ScoringKeys(2048)  # before the abuse starts: key generation is not abuse
    keys.public_bytes()

    def new_dates() -> None:
        adapter = load_bank_model(work / "bank-b" / "parts" / "abuse-lr.json")
        peer = GrpcPassivePeer(
            target, TlsFiles.in_pki_dir(pki, "bank-b"), score_retry=RetryPolicy(attempts=1)
        )
        rows = np.load(work / "abuse_rows.npy")
        usccs = json.loads((work / "abuse_usccs.json").read_text())
        rng = np.random.default_rng(7)
        base = dt.date(2024, 1, 1)
        i = 0
        while not stop.is_set():
            i += 1
            day = base - dt.timedelta(days=int(rng.integers(1, 3650)))
            k = int(rng.integers(len(usccs)))
            try:
                scored = adapter.score(
                    ScoreJob(f"abuse-{i}", usccs[k], day.isoformat(), rows[k]), peer, keys
                )
                count("new_as_of", "ok" if getattr(scored, "ok", True) else "refused")
            except Exception as err:
                count("new_as_of", outcome(err))
            stop.wait(pause)
        peer.close()

    threads = [threading.Thread(target=verify_flood, args=(p,)) for p in ("bank-b", "regulator")]
    threads += [threading.Thread(target=stream_flood, args=(k,)) for k in range(args.streams)]
    threads += [threading.Thread(target=new_dates) for _ in range(2)]
    for t in threads:
        t.daemon = True
        t.start()
    (work / "abuser.ready").write_text("1")
    stop.wait()
    (work / "abuser.counts.json").write_text(json.dumps(counts))


# ----------------------------------------------------------------------------- measurement
def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            v = rss_mb(self.pid)
            if v == v:
                self.peak = max(self.peak, v)

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def honest_phase(clients: list[Any], picks: list[np.ndarray], usccs: list[str], n: int) -> Any:
    from proto.fedcredit.v1 import scoring_pb2

    def officer(k: int) -> Any:
        return lambda i: clients[k].score_raw(
            scoring_pb2.ScoreRequest(uscc=usccs[picks[k][i % len(picks[k])]], model="bench-lr")
        )

    return summary(*run_load([officer(k) for k in range(len(clients))], n))


def measured(pids: dict[str, int], run: Any) -> dict[str, Any]:
    """``run()``'s summary plus the CPU seconds each process spent meanwhile."""
    from experiments.bench_scoring import cpu_seconds

    before = {k: cpu_seconds(p) for k, p in pids.items()}
    before["clients"] = cpu_seconds()
    out: dict[str, Any] = run()
    after = {k: cpu_seconds(p) for k, p in pids.items()}
    after["clients"] = cpu_seconds()
    out["cpu_s"] = {k: round(after[k] - before[k], 2) for k in after}
    return out


def abused_phase(
    work: Path, port: int, args: Any, pids: dict[str, int], nice: int, run: Any
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """The honest load while an abuser process (at ``nice``) runs: (summary, abuse seconds,
    the abuser's outcome counts)."""
    (work / "abuser.ready").unlink(missing_ok=True)
    abuser = _spawn(
        [
            "--serve",
            "abuse",
            "--work",
            str(work),
            "--platform-port",
            str(port),
            "--streams",
            str(args.streams),
            "--stream-mib",
            str(args.stream_mib),
            "--abuse-pause-ms",
            str(args.abuse_pause_ms),
            "--abuser-nice",
            str(nice),
        ],
        work / "abuser.ready",
        work / f"abuser-nice{nice}.log",
    )
    t0 = time.perf_counter()
    try:
        time.sleep(3.0)  # let the abuse ramp up
        result = measured({**pids, "abuser": abuser.pid}, run)
    finally:
        _stop(abuser)
    counts: dict[str, Any] = json.loads((work / "abuser.counts.json").read_text())
    return result, time.perf_counter() - t0, counts


def _spawn(args: list[str], ready: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=fh, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"process did not start; see {log}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def write_md(doc: dict[str, Any], path: Path) -> None:
    q, a, q2, cfg = doc["quiet"], doc["abused"], doc["quiet_after"], doc["config"]
    comp = doc.get("abused_competing")
    lines = [
        "# Abuse benchmark (issue 14 rows 1-3)",
        "",
        f"{cfg['clients']} honest officer clients of bank-a, {cfg['requests_per_client']} "
        "requests each per phase (logistic regression; officer -> bank -> platform over mutual "
        "TLS on loopback, nodes in separate processes). Abused phase: bank-b floods VerifyLog, "
        f"streams {cfg['streams']} x {cfg['stream_mib']} MiB Exchange bodies, and asks for a "
        "new as_of date on every scoring request; the regulator floods VerifyLog too "
        f"(each abuser loop pauses {cfg['abuse_pause_ms']} ms between calls and ignores "
        f"refusals; the abuser process runs at nice {cfg['abuser_nice']}, standing for another "
        "machine).",
        "",
        "| phase | scores/s | p50 ms | p99 ms | errors "
        "| CPU s (platform / bank / clients / abuser) |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {r['scores_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']} | {r['cpu_s']['platform']} / {r['cpu_s']['bank']} / "
            f"{r['cpu_s']['clients']} / {r['cpu_s'].get('abuser', '-')} |"
            for name, r in (
                ("quiet", q),
                (f"abused (abuser at nice {cfg['abuser_nice']})", a),
                *([("abused (abuser at nice 0, competing)", comp)] if comp else []),
                ("quiet again", q2),
            )
        ],
        "",
        f"- ratio abused / quiet (mean of both quiet phases): **{doc['ratio']:.2f}** "
        f"(target >= {TARGET_RATIO}): "
        f"{'met' if doc['ratio'] >= TARGET_RATIO else 'NOT met'}",
        *(
            [
                f"- with the abuser competing for the same cores (nice 0): ratio "
                f"{doc['ratio_competing']:.2f}; abuser outcomes "
                f"`{json.dumps(comp['abuser'], sort_keys=True)}`"
            ]
            if comp
            else []
        ),
        f"- platform RSS: quiet {doc['platform_rss_mb_quiet']:.0f} MB, peak "
        f"{doc['platform_rss_mb_peak']:.0f} MB, ceiling {doc['platform_rss_ceiling_mb']:.0f} MB: "
        f"{'under' if doc['rss_under_ceiling'] else 'OVER'}",
        f"- abuser: {doc['abuser_calls_per_s']:.0f} calls/s over {doc['abuser_seconds']:.1f} s; "
        f"outcomes `{json.dumps(doc['abuser'], sort_keys=True)}`",
        f"- platform refusals (RESOURCE_EXHAUSTED by reason): "
        f"`{json.dumps(doc['platform_refused'], sort_keys=True)}`",
        f"- limits: `{json.dumps(cfg['limits'])}`; feature tables: "
        f"`{json.dumps(cfg['feature_tables'])}`",
        "",
        f"Machine: {cfg['cpus']} CPUs, load average {cfg['load_before']} before and "
        f"{cfg['load_after']} after (shared with other agents' work: timings are noisy).",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=0, help="per client and phase")
    parser.add_argument("--companies", type=int, default=0)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--stream-mib", type=int, default=0)
    parser.add_argument("--abuse-pause-ms", type=float, default=20.0)
    parser.add_argument("--abuser-nice", type=int, default=19, help="0: compete for the CPU")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--logs", type=Path, help="copy the processes' logs here")
    parser.add_argument("--serve", choices=["platform", "bank", "abuse"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--platform-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.stream_mib = args.stream_mib or (48 if args.quick else 60)
    if args.serve == "platform":
        serve_platform(args.work)
        return 0
    if args.serve == "bank":
        serve_bank(args.work, args.platform_port)
        return 0
    if args.serve == "abuse":
        abuse(args.work, args.platform_port, args)
        return 0
    args.requests = args.requests or (80 if args.quick else 250)
    args.companies = args.companies or (1500 if args.quick else 5000)

    from bank_node.scoring.client import ScoringClient, officer_tls
    from bank_node.scoring.settings import ScoringSettings
    from models.audit.entry import Actor
    from platform_node.consent.registry import ConsentRegistry
    from proto.transport.audit_servicer import open_node_audit_log
    from proto.transport.pki import init_pki

    t_start = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
        work = Path(tmp)
        (work / "bank").mkdir()
        init_pki(work / "pki", ["bank-a", "bank-b"], officers=[("alice", "bank-a")])
        bank, plat, source = bench_tables(args.companies)
        models = train(work, bank, plat, args.quick)
        ScoringSettings(key_bits=2048).save(work / "bank")
        audit = open_node_audit_log(work / "platform", "platform", "platform")
        consent = ConsentRegistry.in_data_dir(
            work / "platform", audit, actor=Actor("operator", "platform")
        )
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        usccs = [str(u) for u in bank.ids[: min(bank.n_rows, 500)]]
        for u in usccs:
            consent.grant(u, "bank-a", "scoring", expires)
            consent.grant(u, "bank-b", "scoring", expires)
        consent.close()
        np.save(work / "abuse_rows.npy", bank.X[: len(usccs)])
        (work / "abuse_usccs.json").write_text(json.dumps(usccs))
        procs: list[subprocess.Popen[bytes]] = []
        try:
            p_proc = _spawn(
                ["--serve", "platform", "--work", str(work)],
                work / "platform.port",
                work / "platform.log",
            )
            procs.append(p_proc)
            p_port = int((work / "platform.port").read_text())
            b_proc = _spawn(
                ["--serve", "bank", "--work", str(work), "--platform-port", str(p_port)],
                work / "bank.port",
                work / "bank.log",
            )
            procs.append(b_proc)
            b_port = int((work / "bank.port").read_text())
            clients = [
                ScoringClient(
                    f"127.0.0.1:{b_port}",
                    officer_tls(work / "pki" / "alice"),
                    server_name="bank-a",
                    timeout_s=30,
                )
                for _ in range(args.clients)
            ]
            rng = np.random.default_rng(1)
            picks = [rng.choice(len(usccs), size=args.requests) for _ in range(args.clients)]
            sampler = RssSampler(p_proc.pid)
            honest_phase(clients, picks, usccs, 10)  # warm up
            quiet_rss = rss_mb(p_proc.pid)
            sampler.reset()
            pids = {"platform": p_proc.pid, "bank": b_proc.pid}

            def run() -> dict[str, Any]:
                out: dict[str, Any] = honest_phase(clients, picks, usccs, args.requests)
                return out

            quiet = measured(pids, run)
            abused, abuse_s, counts = abused_phase(work, p_port, args, pids, args.abuser_nice, run)
            competing = None
            if args.abuser_nice != 0:  # the same abuse with the abuser competing for the CPU
                competing, _, competing_counts = abused_phase(work, p_port, args, pids, 0, run)
                competing["abuser"] = competing_counts
            # quiet again: the machine is shared, so the baseline is the mean of both sides
            quiet_after = measured(pids, run)
            sampler.stop()
            for c in clients:
                c.close()
        finally:
            for proc in reversed(procs):
                _stop(proc)
        if args.logs is not None:
            import shutil

            args.logs.mkdir(parents=True, exist_ok=True)
            for name in ("platform.log", "bank.log", "abuser-nice19.log", "abuser-nice0.log"):
                if (work / name).exists():
                    shutil.copy(work / name, args.logs / name)
        refused_path = work / "platform.refused.json"
        refused = json.loads(refused_path.read_text()) if refused_path.exists() else {}
    in_flight_mb = LIMITS["bytes_in_flight"] / MiB
    ceiling = quiet_rss + 3 * in_flight_mb + FEATURE_TABLES["max_bytes"] / MiB
    quiet_per_s = (quiet["scores_per_s"] + quiet_after["scores_per_s"]) / 2
    ratio = abused["scores_per_s"] / quiet_per_s
    doc = {
        "quiet_scores_per_s": quiet_per_s,
        "abused_scores_per_s": abused["scores_per_s"],
        "ratio": ratio,
        "platform_rss_mb_peak": sampler.peak,
        "platform_rss_ceiling_mb": ceiling,
        "platform_rss_mb_quiet": quiet_rss,
        "rss_under_ceiling": sampler.peak < ceiling,
        "meets_target": bool(ratio >= TARGET_RATIO and sampler.peak < ceiling),
        "quiet": quiet,
        "abused": abused,
        "quiet_after": quiet_after,
        "abused_competing": competing,
        "ratio_competing": None if competing is None else competing["scores_per_s"] / quiet_per_s,
        "abuser": counts,
        "abuser_calls_per_s": sum(sum(c.values()) for c in counts.values()) / abuse_s,
        "abuser_seconds": abuse_s,
        "platform_refused": refused,
        "models": models,
        "config": {
            "quick": args.quick,
            "clients": args.clients,
            "requests_per_client": args.requests,
            "companies": bank.n_rows,
            "consenting_companies": len(usccs),
            "data": source,
            "streams": args.streams,
            "stream_mib": args.stream_mib,
            "abuse_pause_ms": args.abuse_pause_ms,
            "abuser_nice": args.abuser_nice,
            "limits": LIMITS,
            "feature_tables": FEATURE_TABLES,
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "seconds": round(time.perf_counter() - t_start, 1),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_abuse.json").write_text(json.dumps(doc, indent=2) + "\n")
    write_md(doc, args.out / "bench_abuse.md")
    print((args.out / "bench_abuse.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
