"""Benchmark: single-company scoring latency and throughput, 8 concurrent officer clients.

Both nodes run on this machine as separate processes (the platform server with
``PlatformScoringService`` over a served Parquet table through the real
``PlatformDataProvider``, and the bank server with its ``ScoringService``), all links over
mutual TLS on loopback. Each client thread has its own channel and officer certificate and
scores random consenting companies one request at a time; every request goes officer -> bank
-> platform (consent check, audit, its part) -> bank (assembly, audit) -> officer.

SecureBoost is scored by EINI prediction (``"secure_predict": true`` in the results: the bank
learns only the margin; concurrent requests share ciphertexts), logistic regression by its
encrypted partial score. Models: SecureBoost and vertical logistic regression trained
in-process beforehand on
default_credit (bank = guest features, platform = host features; ids replaced by generated
USCCs), or on a synthetic table when the shared data is absent. Training keys are 1024-bit
(training is not measured); the bank's scoring key is 2048-bit.

Measured in the same run, as baselines:
- ``health``: the gRPC health check of the bank over the same mTLS channels (transport floor);
- ``platform_part``: the bank's call of the platform's part alone (bank certificate, the
  bank's family adapter straight to the platform: both sides' crypto, consent, platform audit);
- ``single_client``: one client, sequential requests (latency without contention).

Usage: ``python experiments/bench_scoring.py [--quick]`` writes
``experiments/results/bench_scoring.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.dataset import PartyTable  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
DATASET = "bench"
TARGET_P99_MS = 50.0
TARGET_PER_S = 300.0


def shared_data() -> Path:
    return Path(os.environ.get("FEDCREDIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


# ----------------------------------------------------------------------------- data and models
def bench_tables(n: int, seed: int = 0) -> tuple[PartyTable, PartyTable, str]:
    """Aligned bank/platform tables keyed by generated USCCs (default_credit when present)."""
    from experiments.support.scoring import synthetic_tables
    from models.uscc import generate_usccs

    data = shared_data()
    if not (data / "default_credit_hetero_guest.csv").exists():
        bank, plat = synthetic_tables(n, seed)
        return bank, plat, "synthetic"
    from experiments.support.hetero import load_hetero

    bank, plat = load_hetero(data, "default_credit", n, seed=seed)
    ids = np.asarray(generate_usccs(bank.n_rows, np.random.default_rng(seed)))
    groups = ["credit_limit", "demographics", "demographics", "demographics", "demographics"]
    groups += ["repayment"] * (plat.n_features - len(groups))
    bank = PartyTable(ids, bank.X, bank.feature_names, bank.feature_groups, bank.y)
    plat = PartyTable(ids.copy(), plat.X, plat.feature_names, groups[: plat.n_features])
    return bank, plat, "default_credit"


def train(work: Path, bank: PartyTable, plat: PartyTable, quick: bool) -> dict[str, Any]:
    import models.logreg.passive
    import models.secureboost.passive  # noqa: F401
    from bank_node.scoring.model_store import ModelStore
    from experiments.support.scoring import StaticProvider, serve_approved
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from models.logreg.active import FederatedLogisticRegression
    from models.secureboost.active import SecureBoostClassifier

    manager = SessionManager(work / "platform", StaticProvider(plat), idle_timeout_s=600)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"))
    t0 = time.perf_counter()
    sb = SecureBoostClassifier(
        n_estimators=8 if quick else 25, max_depth=4, n_bins=32, key_bits=1024
    ).fit(bank, peer, job_id="bench-sb", platform_dataset=DATASET)
    t_sb = time.perf_counter() - t0
    t0 = time.perf_counter()
    lr = FederatedLogisticRegression(
        mode="paillier", max_epochs=3 if quick else 6, batch_size=1024, key_bits=1024,
        random_state=0,
    ).fit(bank, peer, model_id="bench-lr", platform_dataset=DATASET)  # fmt: skip
    t_lr = time.perf_counter() - t0
    parts = work / "bank" / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    sb.save_model(parts / "bench-sb.json")
    lr.save(parts / "bench-lr.json")
    import pandas as pd

    frame = pd.DataFrame(bank.X, columns=bank.feature_names)
    frame.insert(0, "id", bank.ids)
    frame.to_parquet(work / "bank" / "bank_features.parquet", index=False)
    pframe = pd.DataFrame(plat.X, columns=plat.feature_names)
    pframe.insert(0, "id", plat.ids)
    pframe.to_parquet(work / "platform_table.parquet", index=False)
    features = {"kind": "table", "path": str(work / "bank" / "bank_features.parquet")}
    store = ModelStore(work / "bank")
    # approved for scoring as an approver's `model promote` would (unapproved versions never
    # serve by default)
    serve_approved(store, "bench-lr", parts / "bench-lr.json", version="1", features=features)
    serve_approved(store, "bench-sb", parts / "bench-sb.json", version="1", features=features)
    n_splits = len(sb.platform_split_ids())
    return {
        "secureboost": {"trees": len(sb.trees_), "platform_splits": n_splits, "train_s": t_sb},
        "logreg": {
            "bank_features": len(lr.coef_),
            "platform_features": lr.n_platform_features_,
            "train_s": t_lr,
        },
    }


# ----------------------------------------------------------------------------- node processes
def serve_platform(
    work: Path,
    *,
    known_parties: dict[str, str] | None = None,
    feature_tables: Any = None,
    limits: Any = None,
    on_stop: Callable[[Any], None] | None = None,
) -> None:
    """Child process: the platform server with scoring over the served table (``bench_abuse``
    passes its limits, feature-table cache settings, extra parties and a stop hook that gets
    the running server)."""
    from models.audit.entry import Actor
    from platform_node.consent.registry import ConsentRegistry
    from platform_node.data_provider import PlatformDataProvider, ServedTable
    from platform_node.scoring import service as platform_scoring
    from platform_node.server import create_server
    from proto.transport.audit_servicer import open_node_audit_log
    from proto.transport.tls import TlsFiles

    data_dir = work / "platform"
    provider = PlatformDataProvider(
        data_dir, {DATASET: ServedTable(work / "platform_table.parquet", "id")}
    )
    audit = open_node_audit_log(data_dir, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(data_dir, audit, actor=Actor("operator", "platform"))

    def hook(server: Any) -> Any:
        return platform_scoring.install(
            server,
            data_dir=data_dir,
            data_provider=provider,
            consent_registry=consent,
            audit_log=audit,
            party="platform",
            feature_tables=feature_tables,
        )

    running = create_server(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        data=provider,
        tls=TlsFiles.in_pki_dir(work / "pki", "platform"),
        known_parties=known_parties or {"bank-a": "bank", "regulator": "regulator"},
        max_workers=16,
        extra_services=[hook],
        audit_log=audit,
        limits=limits,
    )

    def stop() -> None:
        if on_stop is not None:
            on_stop(running)
        running.stop(1.0)

    _serve_until_signal(work / "platform.port", running.port, stop)


def serve_bank(work: Path, platform_port: int) -> None:
    """Child process: the bank server (ScoringService) connected to the platform."""
    from bank_node.server import create_bank_server
    from experiments.support.scoring import bank_config

    config = bank_config(work / "pki", work / "bank", platform_port, max_workers=16)
    running = create_bank_server(config)
    _serve_until_signal(work / "bank.port", running.port, lambda: running.stop(1.0))


def start_profiling() -> Callable[[Path], None]:
    """Profile every thread of this process (the gRPC handlers run in pool threads, which a
    plain ``cProfile`` run would miss); the returned function merges and dumps the stats."""
    import cProfile
    import pstats

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    # per-thread CPU clock by default (blocked threads cost nothing); "wall" is cheaper to
    # read, so less distorted, and is CPU time too when one client runs alone
    clock = (
        time.perf_counter
        if os.environ.get("FEDCREDIT_BENCH_PROFILE_CLOCK") == "wall"
        else time.thread_time
    )

    def boot(*_: Any) -> None:
        prof = cProfile.Profile(clock)
        with lock:
            profiles.append(prof)
        prof.enable()  # replaces this thread's profile hook with the profiler's

    threading.setprofile(boot)
    main_prof = cProfile.Profile(clock)
    profiles.append(main_prof)
    main_prof.enable()

    def dump(path: Path) -> None:
        threading.setprofile(None)
        main_prof.disable()
        with lock:
            stats = [p for p in profiles if p.getstats()]
        merged = pstats.Stats(stats[0])
        for prof in stats[1:]:
            merged.add(prof)
        merged.dump_stats(str(path))

    return dump


def _serve_until_signal(port_file: Path, port: int, stop: Callable[[], None]) -> None:
    profile_dir = os.environ.get("FEDCREDIT_BENCH_PROFILE_DIR")
    dump = start_profiling() if profile_dir else None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(port_file)
    done.wait()
    stop()
    if dump is not None and profile_dir:
        dump(Path(profile_dir) / f"{port_file.stem}.prof")


def _spawn(args: list[str], port_file: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=fh, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"node did not start; see {log}")
        time.sleep(0.05)
    return proc, int(port_file.read_text())


# ----------------------------------------------------------------------------- load
def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process (this one when ``pid`` is None)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU milliseconds per request spent by the bank, the platform and the clients."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        out["clients"] = cpu_seconds()
        return out

    def per_request(self, before: dict[str, float], n: int) -> dict[str, float]:
        after = self.snapshot()
        return {f"{k}_cpu_ms": (after[k] - before[k]) * 1000.0 / max(n, 1) for k in after}


def run_load(
    calls: Sequence[Callable[..., Any]], n_per_client: int
) -> tuple[np.ndarray, float, int]:
    """One thread per call function, ``n_per_client`` calls each; (latencies ms, wall, errors)."""
    lat: list[list[float]] = [[] for _ in calls]
    errors = [0] * len(calls)
    start = threading.Barrier(len(calls) + 1)

    def worker(k: int) -> None:
        start.wait()
        for i in range(n_per_client):
            t0 = time.perf_counter()
            try:
                calls[k](i)
            except Exception:
                errors[k] += 1
                continue
            lat[k].append((time.perf_counter() - t0) * 1000.0)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return np.asarray([x for part in lat for x in part]), wall, sum(errors)


def summary(lat: np.ndarray, wall: float, errors: int) -> dict[str, float]:
    if lat.size == 0:
        return {"n": 0, "errors": errors}
    return {
        "n": int(lat.size),
        "errors": int(errors),
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "scores_per_s": float(lat.size / wall),
        "wall_s": float(wall),
    }


def measure(
    work: Path, bank_port: int, platform_port: int, usccs: list[str], args: Any, meter: CpuMeter
) -> dict[str, Any]:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from bank_node.scoring.client import ScoringClient, officer_tls
    from proto.fedcredit.v1 import scoring_pb2
    from proto.transport.channel import open_channel
    from proto.transport.tls import TlsFiles

    pki = work / "pki"
    target = f"127.0.0.1:{bank_port}"
    clients = [
        ScoringClient(target, officer_tls(pki / "alice"), server_name="bank-a", timeout_s=30)
        for _ in range(args.clients)
    ]
    rng = np.random.default_rng(1)
    picks = [rng.choice(len(usccs), size=args.requests) for _ in range(args.clients)]
    out: dict[str, Any] = {}

    # transport floor: health checks of the bank over the same kind of channels
    chans = [open_channel(target, officer_tls(pki / "alice"), server_name="bank-a")
             for _ in range(args.clients)]  # fmt: skip
    stubs = [health_pb2_grpc.HealthStub(c) for c in chans]
    hc = [(lambda i, s=s: s.Check(health_pb2.HealthCheckRequest(), timeout=10)) for s in stubs]
    run_load(hc, 20)
    out["health"] = summary(*run_load(hc, args.requests))
    for c in chans:
        c.close()

    from bank_node.federation_client import GrpcPassivePeer
    from bank_node.scoring.families import ScoreJob, load_bank_model
    from bank_node.scoring.keys import ScoringKeys

    platform = [
        GrpcPassivePeer(
            f"127.0.0.1:{platform_port}", TlsFiles.in_pki_dir(pki, "bank-a"), score_timeout_s=30
        )
        for _ in range(args.clients)
    ]
    keys = ScoringKeys(2048)
    keys.public_bytes()
    keys.ckks()
    bank_rows = _bank_rows(work)
    for model, family, model_id in (
        ("bench-sb", "secureboost", "bench-sb"),
        ("bench-lr", "logreg", "bench-lr"),
    ):
        adapter = load_bank_model(work / "bank" / "parts" / f"{model_id}.json")

        def officer(k: int, model: str = model) -> Callable[[int], Any]:
            return lambda i: clients[k].score_raw(
                scoring_pb2.ScoreRequest(uscc=usccs[picks[k][i]], model=model)
            )

        def part(k: int, adapter: Any = adapter) -> Callable[[int], Any]:
            """The bank's call of the platform's part alone (bank certificate, no officer hop,
            no bank audit): crypto on both sides, consent, platform audit."""
            return lambda i: adapter.score(
                ScoreJob(
                    request_id=f"bench-{k}-{i}",
                    uscc=usccs[picks[k][i]],
                    as_of="",
                    x_bank=bank_rows[usccs[picks[k][i]]],
                ),
                platform[k],
                keys,
            )

        calls = [officer(k) for k in range(args.clients)]
        run_load(calls, args.warmup)  # warm caches, channels, the bank's scoring key
        before = meter.snapshot()
        res: dict[str, Any] = summary(*run_load(calls, args.requests))
        res["cpu_per_score"] = meter.per_request(before, int(res["n"]))
        res["single_client"] = summary(*run_load(calls[:1], args.requests))
        res["platform_part"] = summary(
            *run_load([part(k) for k in range(args.clients)], args.requests)
        )
        res["meets_target"] = bool(
            res.get("p99_ms", 1e9) < TARGET_P99_MS and res.get("scores_per_s", 0) >= TARGET_PER_S
        )
        res["vs_health_p50"] = res["p50_ms"] / out["health"]["p50_ms"]
        # trees: EINI prediction (the bank reads only the margin); linear: encrypted partial
        res["secure_predict"] = family == "secureboost"
        out[family] = res
    for c in clients:
        c.close()
    for p in platform:
        p.close()
    return out


def _bank_rows(work: Path) -> dict[str, np.ndarray]:
    """The bank's feature row of each company (for the platform-part-only measurement)."""
    import pandas as pd

    frame = pd.read_parquet(work / "bank" / "bank_features.parquet")
    X = frame.drop(columns=["id"]).to_numpy(np.float64)
    return {str(i): X[k] for k, i in enumerate(frame["id"].tolist())}


# ----------------------------------------------------------------------------- main
def write_md(doc: dict[str, Any], path: Path) -> None:
    rows = [
        "| model | p50 ms | p99 ms | scores/s | single-client p50 ms | platform part p50 ms "
        "| CPU ms/score bank + platform + clients | secure predict | target met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fam in ("secureboost", "logreg"):
        r = doc[fam]
        cpu = r["cpu_per_score"]
        rows.append(
            f"| {fam} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['scores_per_s']:.0f} | "
            f"{r['single_client']['p50_ms']:.1f} | {r['platform_part']['p50_ms']:.1f} | "
            f"{cpu['bank_cpu_ms']:.1f} + {cpu['platform_cpu_ms']:.1f} + "
            f"{cpu['clients_cpu_ms']:.1f} | {'yes' if r.get('secure_predict') else 'no'} | "
            f"{'yes' if r['meets_target'] else 'no'} |"
        )
    h = doc["health"]
    rows.append(
        f"| (health check) | {h['p50_ms']:.1f} | {h['p99_ms']:.1f} | {h['scores_per_s']:.0f} "
        "| | | | | |"
    )
    cfg = doc["config"]
    text = "\n".join(
        [
            "# Scoring benchmark",
            "",
            f"{cfg['clients']} concurrent officer clients, {cfg['requests_per_client']} requests "
            f"each per model; officer -> bank -> platform -> bank over mutual TLS on loopback, "
            f"nodes in separate processes; data: {cfg['data']} ({cfg['companies']} companies); "
            f"scoring key {cfg['scoring_key_bits']} bits. Target: p99 < {TARGET_P99_MS:.0f} ms "
            f"and >= {TARGET_PER_S:.0f} scores/s.",
            "",
            *rows,
            "",
            f"Machine: {cfg['cpus']} CPUs, load average {cfg['load_before']} before and "
            f"{cfg['load_after']} after (shared with other work: timings are noisy).",
            f"Models: {json.dumps(doc['models'])}",
            "",
        ]
    )
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=0, help="per client and model")
    parser.add_argument("--companies", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve", choices=["platform", "bank"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--platform-port", type=int, default=0, help=argparse.SUPPRESS)
    # developers: run both node processes under cProfile (all threads), dumping
    # <dir>/platform.prof and <dir>/bank.prof when they stop
    parser.add_argument("--profile-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--profile-clock", choices=["cpu", "wall"], default="cpu", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.profile_dir is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
        os.environ["FEDCREDIT_BENCH_PROFILE_DIR"] = str(args.profile_dir.resolve())
        os.environ["FEDCREDIT_BENCH_PROFILE_CLOCK"] = args.profile_clock
    if args.serve == "platform":
        serve_platform(args.work)
        return 0
    if args.serve == "bank":
        serve_bank(args.work, args.platform_port)
        return 0
    args.requests = args.requests or (60 if args.quick else 250)
    args.companies = args.companies or (1500 if args.quick else 5000)
    args.warmup = 10

    from bank_node.scoring.settings import ScoringSettings
    from models.audit.entry import Actor
    from platform_node.consent.registry import ConsentRegistry
    from proto.transport.audit_servicer import open_node_audit_log
    from proto.transport.pki import init_pki

    t_start = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        work = Path(tmp)
        init_pki(work / "pki", ["bank-a"], officers=[("alice", "bank-a")])
        bank, plat, source = bench_tables(args.companies)
        models = train(work, bank, plat, args.quick)
        ScoringSettings(key_bits=2048).save(work / "bank")
        audit = open_node_audit_log(work / "platform", "platform", "platform")
        consent = ConsentRegistry.in_data_dir(
            work / "platform", audit, actor=Actor("operator", "platform")
        )
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        usccs = [str(u) for u in bank.ids[: min(bank.n_rows, 1000)]]
        for u in usccs:
            consent.grant(u, "bank-a", "scoring", expires)
        consent.close()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            p_proc, p_port = _spawn(
                ["--serve", "platform", "--work", str(work)],
                work / "platform.port",
                work / "platform.log",
            )
            procs.append(p_proc)
            b_proc, b_port = _spawn(
                ["--serve", "bank", "--work", str(work), "--platform-port", str(p_port)],
                work / "bank.port",
                work / "bank.log",
            )
            procs.append(b_proc)
            meter = CpuMeter({"bank": b_proc.pid, "platform": p_proc.pid})
            results = measure(work, b_port, p_port, usccs, args, meter)
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    doc = {
        "config": {
            "quick": args.quick,
            "clients": args.clients,
            "requests_per_client": args.requests,
            "companies": bank.n_rows,
            "consenting_companies": len(usccs),
            "data": source,
            "scoring_key_bits": 2048,
            "training_key_bits": 1024,
            "transport": "mutual TLS on loopback, bank and platform in separate processes",
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "target": {"p99_ms": TARGET_P99_MS, "scores_per_s": TARGET_PER_S},
            "seconds": round(time.perf_counter() - t_start, 1),
        },
        "models": models,
        **results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_scoring.json").write_text(json.dumps(doc, indent=2) + "\n")
    write_md(doc, args.out / "bench_scoring.md")
    print((args.out / "bench_scoring.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
