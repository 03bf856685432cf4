"""Benchmark: vertical SecureBoost on default_credit against centralized baselines.

Bank = guest file (labels + 13 features), platform = host file (10 features); 80/20 split with
a fixed seed; 2048-bit Paillier keys; depth 5, 32 bins. By default the platform runs as its own
process (the real platform server, mutual TLS on loopback) and the bank connects over gRPC;
``--transport inprocess`` runs both in one process with a protobuf round trip per message.

Measured in the same run:
- ``auc_centralized``: the plaintext reference of the same algorithm on the joined table;
- ``privacy_modes``: the same training in the ``hardened`` and ``strict`` privacy modes
  (``--modes``), each against the plaintext reference of its own variant (same tree schedule;
  the platform's histogram noise is the only difference), with its wall time against the
  ``standard`` run above (the top-level fields);
- ``lightgbm_seconds``: centralized LightGBM with matching settings;
- ``xgboost_federated_seconds``: XGBoost's plaintext vertical mode (``xgboost.federated``,
  column split, one process per party plus the federated server).

Usage: ``python experiments/bench_secureboost.py [--quick]`` writes
``experiments/results/bench_secureboost.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.support.hetero import (  # noqa: E402
    StaticProvider,
    joined,
    load_hetero,
    train_test_rows,
)
from experiments.support.platform_process import (  # noqa: E402
    serve_until_terminated,
    spawn_platform,
)
from models.federation.peer import PassivePeer  # noqa: E402
from models.secureboost.loss import auc  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
KNOWN_PARTIES = {"platform": "platform", "bank-a": "bank"}


def shared_data() -> Path:
    return Path(os.environ.get("FEDCREDIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a process (Linux /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live and reaped children (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        procs = [d for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return float("nan")
    for d in procs:
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        if int(d) == pid or ppid == pid:
            # utime, stime, cutime, cstime
            total += sum(int(x) for x in fields[11:15]) / tick
    return total


def _self_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------- the platform node
def serve_platform(args: argparse.Namespace) -> int:
    """Child process: the real platform server (mTLS) serving the host table."""
    from platform_node.server import create_server
    from proto.transport.tls import TlsFiles

    _bank, plat = load_hetero(shared_data(), "default_credit", args.rows)
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=Path(args.data_dir),
        data=StaticProvider(plat),
        tls=TlsFiles.in_pki_dir(Path(args.pki), "platform"),
        known_parties=KNOWN_PARTIES,
        idle_timeout_s=3600.0,
    )
    return serve_until_terminated(running, Path(args.port_file))


class Platform:
    """A connection to the platform plus what is needed to stop it and read its peak memory."""

    def __init__(self, peer: PassivePeer, stop: Callable[[], None], pid: int | None) -> None:
        self.peer = peer
        self.stop = stop
        self.pid = pid

    def peak_rss_mb(self) -> float:
        return _vm_hwm_mb(self.pid) if self.pid is not None else _self_peak_mb()

    def cpu_seconds(self) -> float:
        """CPU used by the platform process tree (0 when it shares the bank's process)."""
        return _tree_cpu_seconds(self.pid) if self.pid is not None else 0.0


def make_peer(transport: str, workdir: Path, rows: int | None) -> Platform:
    """The single place that decides how the bank reaches the platform."""
    if transport == "inprocess":
        from models.federation.inprocess import InProcessPeer
        from models.federation.manager import SessionManager
        from models.federation.party import Caller
        from platform_node.parties import load_parties
        from proto.transport.codec import ProtobufCodec

        load_parties()
        _bank, plat = load_hetero(shared_data(), "default_credit", rows)
        manager = SessionManager(workdir / "platform", StaticProvider(plat))
        local = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
        return Platform(local, lambda: None, None)
    from bank_node.federation_client import GrpcPassivePeer
    from proto.transport.tls import TlsFiles

    extra = ["--rows", str(rows)] if rows is not None else []
    proc, port, pki = spawn_platform(Path(__file__).resolve(), workdir, extra, cwd=ROOT)
    remote = GrpcPassivePeer(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(pki, "bank-a"))

    def stop() -> None:
        remote.close()
        proc.terminate()
        proc.wait(30)

    return Platform(remote, stop, proc.pid)


# ---------------------------------------------------------------------------- xgboost.federated
def xgb_worker(args: argparse.Namespace) -> int:
    """Child process: one party of XGBoost's plaintext vertical (column-split) training."""
    import xgboost as xgb

    X = np.load(args.xgb_data, allow_pickle=False)
    label = np.load(args.xgb_label, allow_pickle=False) if args.xgb_label else None
    env = {
        "dmlc_communicator": "federated",
        "federated_server_address": f"localhost:{args.xgb_port}",
        "federated_world_size": 2,
        "federated_rank": args.xgb_rank,
    }
    with xgb.collective.CommunicatorContext(**env):
        dtrain = xgb.DMatrix(X, label=label, data_split_mode=xgb.core.DataSplitMode.COL)
        params = json.loads(args.xgb_params)
        t0 = time.perf_counter()
        xgb.train(params, dtrain, num_boost_round=int(args.xgb_rounds))
        seconds = time.perf_counter() - t0
    Path(args.xgb_out).write_text(json.dumps({"seconds": seconds}))
    return 0


def xgboost_federated_seconds(
    X_bank: np.ndarray, X_plat: np.ndarray, y: np.ndarray, params: dict[str, Any], rounds: int
) -> float:
    import socket

    import xgboost.federated

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    server = xgboost.federated.run_federated_server(2, port, blocking=False, timeout=600)
    with tempfile.TemporaryDirectory() as d:
        dp = Path(d)
        np.save(dp / "x0.npy", X_bank)
        np.save(dp / "x1.npy", X_plat)
        np.save(dp / "y.npy", y)
        procs = []
        for rank in (0, 1):
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--xgb-worker",
                "--xgb-rank",
                str(rank),
                "--xgb-port",
                str(port),
                "--xgb-data",
                str(dp / f"x{rank}.npy"),
                "--xgb-params",
                json.dumps(params),
                "--xgb-rounds",
                str(rounds),
                "--xgb-out",
                str(dp / f"out{rank}.json"),
            ]
            if rank == 0:
                cmd += ["--xgb-label", str(dp / "y.npy")]
            procs.append(subprocess.Popen(cmd, cwd=ROOT))
        for p in procs:
            p.wait(900)
        if any(p.returncode != 0 for p in procs):
            raise RuntimeError("an xgboost.federated worker failed")
        seconds = max(json.loads((dp / f"out{r}.json").read_text())["seconds"] for r in (0, 1))
    del server
    return float(seconds)


# ---------------------------------------------------------------------------- the benchmark
def run(args: argparse.Namespace) -> dict[str, Any]:
    import lightgbm as lgb

    from models.secureboost.active import SecureBoostClassifier
    from models.secureboost.reference import SecureBoostReference

    rows = args.rows
    bank, plat = load_hetero(shared_data(), "default_credit", rows)
    tr, te = train_test_rows(bank.n_rows, 0.2, seed=0)
    y = np.asarray(bank.y)
    X = joined(bank, plat)
    params: dict[str, Any] = {
        "n_estimators": args.trees,
        "max_depth": 5,
        "learning_rate": 0.1,
        "n_bins": 32,
        "min_child_weight": 1.0,
        "reg_lambda": 1.0,
    }
    result: dict[str, Any] = {
        "dataset": "default_credit",
        "rows": int(bank.n_rows),
        "train_rows": int(tr.size),
        "bank_features": bank.n_features,
        "platform_features": plat.n_features,
        "key_bits": args.key_bits,
        "transport": args.transport,
        "quick": bool(args.quick),
        "params": params,
    }

    with tempfile.TemporaryDirectory() as d:
        platform = make_peer(args.transport, Path(d), rows)
        try:
            per_tree: list[dict[str, Any]] = []
            cpu_bank0, cpu_plat0 = _tree_cpu_seconds(os.getpid()), platform.cpu_seconds()
            t0 = time.perf_counter()
            clf = SecureBoostClassifier(**params, key_bits=args.key_bits, privacy="standard").fit(
                bank,
                platform.peer,
                rows=tr,
                validation_rows=te,
                callbacks=[per_tree.append],
                job_id="bench-sb",
            )
            seconds_total = time.perf_counter() - t0
            cpu_bank = _tree_cpu_seconds(os.getpid()) - cpu_bank0
            cpu_plat = platform.cpu_seconds() - cpu_plat0
            sent = getattr(platform.peer, "bytes_sent", 0)
            received = getattr(platform.peer, "bytes_received", 0)
            t0 = time.perf_counter()
            p_fed = clf.predict_proba(bank.take(te), platform.peer)[:, 1]
            predict_seconds = time.perf_counter() - t0
            modes = {
                mode: run_mode(mode, params, args, platform, bank, X, y, tr, te, seconds_total)
                for mode in args.modes
                if mode != "standard"
            }
            result["peak_rss_mb_platform"] = round(platform.peak_rss_mb(), 1)
        finally:
            platform.stop()
    result["peak_rss_mb_bank"] = round(_self_peak_mb(), 1)

    ref = SecureBoostReference(**params).fit(
        X, y, n_bank_features=bank.n_features, train_rows=tr, valid_rows=te
    )
    p_ref = ref.predict_proba_plain(X[te])[:, 1]
    identical = len(ref.trees_) == len(clf.trees_) and all(
        a.structure() == b.structure() for a, b in zip(ref.trees_, clf.trees_, strict=True)
    )

    lgb_params = {
        "objective": "binary",
        "learning_rate": params["learning_rate"],
        "max_depth": params["max_depth"],
        "num_leaves": 2 ** params["max_depth"],
        "min_sum_hessian_in_leaf": params["min_child_weight"],
        "lambda_l2": params["reg_lambda"],
        "min_data_in_leaf": 1,
        "max_bin": params["n_bins"],
        "verbose": -1,
    }
    # the faster of 1 and 2 threads: OpenMP spin-waits badly on a busy machine
    lightgbm_seconds = float("inf")
    for threads in (1, 2):
        t0 = time.perf_counter()
        bst = lgb.train(
            {**lgb_params, "num_threads": threads},
            lgb.Dataset(X[tr], y[tr]),
            num_boost_round=args.trees,
        )
        lightgbm_seconds = min(lightgbm_seconds, time.perf_counter() - t0)
    auc_lgb = auc(y[te], np.asarray(bst.predict(X[te])))

    xgb_params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": params["max_depth"],
        "eta": params["learning_rate"],
        "max_bin": params["n_bins"],
        "min_child_weight": params["min_child_weight"],
        "lambda": params["reg_lambda"],
        "nthread": 1,
    }
    try:
        xgb_fed = xgboost_federated_seconds(
            bank.X[tr], plat.X[tr], y[tr], xgb_params, int(args.trees)
        )
    except Exception as exc:  # the baseline is optional; record why it is missing
        print(f"xgboost.federated baseline failed: {exc}", file=sys.stderr)
        xgb_fed = float("nan")

    n_trees = len(per_tree)
    result.update(
        {
            "auc_federated": auc(y[te], p_fed),
            "auc_centralized": auc(y[te], p_ref),
            "auc_lightgbm": auc_lgb,
            "identical_to_reference": bool(identical),
            "trees": n_trees,
            "seconds_total": round(seconds_total, 3),
            "seconds_per_tree": round(float(np.mean([t["seconds"] for t in per_tree])), 3),
            "predict_seconds": round(predict_seconds, 3),
            "cpu_seconds_bank": round(cpu_bank, 2),
            "cpu_seconds_platform": round(cpu_plat, 2),
            "cpu_seconds_per_tree": round((cpu_bank + cpu_plat) / max(1, len(per_tree)), 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "bytes_to_platform": int(sent),
            "bytes_to_bank": int(received),
            "lightgbm_seconds": round(lightgbm_seconds, 3),
            "xgboost_federated_seconds": round(xgb_fed, 3),
            "ratio_vs_lightgbm": round(seconds_total / lightgbm_seconds, 1),
            "ratio_vs_xgboost_federated": round(seconds_total / xgb_fed, 1)
            if np.isfinite(xgb_fed)
            else None,
            "bank_phase_seconds": {k: round(v, 3) for k, v in clf.stats_.items()},
            "privacy": "standard",
            "privacy_modes": modes,
        }
    )
    return result


def run_mode(
    mode: str,
    params: dict[str, Any],
    args: argparse.Namespace,
    platform: Platform,
    bank: Any,
    X: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    standard_seconds: float,
) -> dict[str, Any]:
    """Train in privacy mode ``mode`` on the same platform; compare with its own reference."""
    from models.secureboost.active import SecureBoostClassifier
    from models.secureboost.privacy import policy_for
    from models.secureboost.reference import SecureBoostReference

    policy = policy_for(mode)
    per_tree: list[dict[str, Any]] = []
    sent0 = getattr(platform.peer, "bytes_sent", 0)
    received0 = getattr(platform.peer, "bytes_received", 0)
    cpu_bank0, cpu_plat0 = _tree_cpu_seconds(os.getpid()), platform.cpu_seconds()
    t0 = time.perf_counter()
    clf = SecureBoostClassifier(**params, key_bits=args.key_bits, privacy=mode).fit(
        bank,
        platform.peer,
        rows=tr,
        validation_rows=te,
        callbacks=[per_tree.append],
        job_id=f"bench-sb-{mode}",
    )
    seconds_total = time.perf_counter() - t0
    cpu = _tree_cpu_seconds(os.getpid()) - cpu_bank0 + platform.cpu_seconds() - cpu_plat0
    p_fed = clf.predict_proba(bank.take(te), platform.peer)[:, 1]
    ref = SecureBoostReference(**params, privacy=mode).fit(
        X, y, n_bank_features=bank.n_features, train_rows=tr
    )
    auc_fed = auc(y[te], p_fed)
    auc_ref = auc(y[te], ref.predict_proba_plain(X[te])[:, 1])
    platform_trees = [h["seconds"] for h in per_tree if policy.tree_uses_platform(h["tree"])]
    bank_trees = [h["seconds"] for h in per_tree if not policy.tree_uses_platform(h["tree"])]
    return {
        "seconds_total": round(seconds_total, 3),
        "seconds_per_tree": round(float(np.mean([h["seconds"] for h in per_tree])), 3),
        "seconds_per_platform_tree": round(float(np.mean(platform_trees)), 3)
        if platform_trees
        else None,
        "seconds_per_bank_only_tree": round(float(np.mean(bank_trees)), 3) if bank_trees else None,
        "ratio_vs_standard": round(seconds_total / standard_seconds, 2),
        "cpu_seconds_per_tree": round(cpu / max(1, len(per_tree)), 3),
        "auc_federated": auc_fed,
        "auc_centralized_same_algorithm": auc_ref,
        "auc_difference": round(abs(auc_fed - auc_ref), 6),
        "validation_predict_seconds": round(clf.stats_.get("validation_predict_s", 0.0), 3),
        "bytes_to_platform": int(getattr(platform.peer, "bytes_sent", 0) - sent0),
        "bytes_to_bank": int(getattr(platform.peer, "bytes_received", 0) - received0),
        "policy": policy.to_dict(),
        "bank_phase_seconds": {k: round(v, 3) for k, v in clf.stats_.items()},
    }


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clean = json.loads(json.dumps(result, default=float).replace("NaN", "null"))
    (out / "bench_secureboost.json").write_text(json.dumps(clean, indent=2) + "\n")
    r = result
    lines = [
        "# SecureBoost benchmark (default_credit)",
        "",
        f"{r['rows']} rows ({r['train_rows']} training), bank {r['bank_features']} + platform "
        f"{r['platform_features']} features, {r['trees']} trees, depth 5, 32 bins, "
        f"{r['key_bits']}-bit Paillier, transport: {r['transport']}"
        + (" (quick run)" if r["quick"] else "")
        + ".",
        "",
        "| metric | value |",
        "|---|---|",
        f"| AUC federated | {r['auc_federated']:.6f} |",
        f"| AUC centralized (same algorithm) | {r['auc_centralized']:.6f} |",
        f"| AUC LightGBM (centralized) | {r['auc_lightgbm']:.6f} |",
        f"| trees identical to the reference | {r['identical_to_reference']} |",
        f"| seconds total (fit) | {r['seconds_total']} |",
        f"| seconds per tree | {r['seconds_per_tree']} |",
        f"| CPU seconds per tree (bank + platform processes) | {r['cpu_seconds_per_tree']} |",
        f"| federated prediction of the test rows (s) | {r['predict_seconds']} |",
        f"| bytes to platform | {r['bytes_to_platform']:,} |",
        f"| bytes to bank | {r['bytes_to_bank']:,} |",
        f"| peak RSS bank (MiB) | {r['peak_rss_mb_bank']} |",
        f"| peak RSS platform (MiB) | {r['peak_rss_mb_platform']} |",
        f"| LightGBM centralized (s) | {r['lightgbm_seconds']} |",
        f"| XGBoost federated, plaintext column split (s) | {r['xgboost_federated_seconds']} |",
        f"| ratio vs LightGBM | {r['ratio_vs_lightgbm']} |",
        f"| ratio vs XGBoost federated | {r['ratio_vs_xgboost_federated']} |",
        "",
        f"Machine load average at the end of the run: {r['load_average_1min']} "
        "(2 cores shared with other work; wall times scale with it, CPU seconds do not).",
        "",
        "Bank-side phase times (s): "
        + ", ".join(f"{k} {v}" for k, v in r["bank_phase_seconds"].items()),
        "",
    ]
    if r.get("privacy_modes"):
        lines += [
            "## Privacy modes",
            "",
            'The top table is `privacy = "standard"`. `hardened` and `strict` hide node '
            "membership from the platform and let the platform add noise to every histogram "
            "(docs/secureboost.md); each is compared with the plaintext reference of its own "
            "variant (same tree schedule, no noise). Both build every other tree (tree 0 first) "
            "on the bank's features only, so with few trees their average favours them; "
            "`s per platform tree` is the cost of a tree the platform takes part in.",
            "",
            "| mode | fit (s) | s per tree | s per platform tree | ratio vs standard | "
            "CPU s per tree | AUC federated | AUC reference (same variant) | difference |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| standard | {r['seconds_total']} | {r['seconds_per_tree']} | "
            f"{r['seconds_per_tree']} | 1.0 | {r['cpu_seconds_per_tree']} | "
            f"{r['auc_federated']:.6f} | {r['auc_centralized']:.6f} | "
            f"{abs(r['auc_federated'] - r['auc_centralized']):.6f} |",
        ]
        for mode, m in r["privacy_modes"].items():
            lines.append(
                f"| {mode} | {m['seconds_total']} | {m['seconds_per_tree']} | "
                f"{m['seconds_per_platform_tree']} | {m['ratio_vs_standard']} | "
                f"{m['cpu_seconds_per_tree']} | {m['auc_federated']:.6f} | "
                f"{m['auc_centralized_same_algorithm']:.6f} | {m['auc_difference']:.6f} |"
            )
        lines.append("")
    (out / "bench_secureboost.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5000 rows, 3 trees (< 60 s)")
    ap.add_argument("--transport", choices=["grpc", "inprocess"], default="grpc")
    ap.add_argument("--trees", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument(
        "--modes",
        type=lambda v: [m.strip() for m in v.split(",") if m.strip()],
        default=["standard", "hardened", "strict"],
        help="privacy modes to measure (standard always runs)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    # internal modes (child processes)
    ap.add_argument("--serve-platform", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pki", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--port-file", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-rank", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--xgb-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--xgb-data", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-label", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-params", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-rounds", help=argparse.SUPPRESS)
    ap.add_argument("--xgb-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_platform:
        return serve_platform(args)
    if args.xgb_worker:
        return xgb_worker(args)
    if args.quick:
        args.rows = args.rows or 5000
        args.trees = args.trees or 3
    args.trees = args.trees or 50
    result = run(args)
    write(result, args.out)
    print(json.dumps({k: v for k, v in result.items() if k != "params"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
