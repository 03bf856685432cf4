"""Benchmark: a user's first SecureBoost job on raw tables, end to end (issue 16, item 6).

Each run builds a raw table pair (:mod:`experiments.support.user_tables`: text columns, a text
label, missing values), writes both as CSV, starts the real platform server in its own process
(mutual TLS on loopback) serving the platform's file, and runs the bank's job exactly as
``fedcredit train`` does (:class:`bank_node.jobs.runner.JobRunner`: PSI, SecureBoost,
registration in MLflow). No preprocessing on either side. In the same run, LightGBM with native
categoricals trains on the joined table with the same rows, hyper-parameters and categorical
settings, and is scored on the same validation rows.

Targets (issue 16): 2048-bit keys, 50 trees, depth 5, 32 bins, lossless settings
(``privacy = "standard"``): the 45k x 16 table in <= 136 s wall for PSI plus training, and the
150k x 10 table in <= 5 s per tree.

Usage: ``python experiments/bench_user_tables.py [--quick] [--profile]``. The full run writes
``experiments/results/bench_user_tables.{json,md}``; ``--quick`` (small tables, 1024-bit keys,
3 trees) writes into a temporary directory unless ``--out`` is given, so it never replaces a
full run. ``--profile`` adds the bank process's top functions by cumulative time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.support.platform_process import (  # noqa: E402
    serve_until_terminated,
    spawn_platform,
)
from experiments.support.user_tables import SHAPES, TableShape, user_tables  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
KNOWN_PARTIES = {"platform": "platform", "bank-a": "bank"}
#: LightGBM's categorical settings, the same as the SecureBoost defaults.
CAT_PARAMS = {
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "max_cat_threshold": 32,
    "min_data_per_group": 100,
    "max_cat_to_onehot": 4,
}


def serve_platform(args: argparse.Namespace) -> int:
    """Child process: the real platform server (mTLS) serving the platform's raw CSV."""
    from platform_node.data_provider import PlatformDataProvider, ServedTable
    from platform_node.server import create_server
    from proto.transport.tls import TlsFiles

    data_dir = Path(args.data_dir)
    served = {"user": ServedTable(path=Path(args.table), id_column="id")}
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        data=PlatformDataProvider(data_dir, served),
        tls=TlsFiles.in_pki_dir(Path(args.pki), "platform"),
        known_parties=KNOWN_PARTIES,
        idle_timeout_s=3600.0,
    )
    return serve_until_terminated(running, Path(args.port_file))


def _start_platform(workdir: Path, table: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    here = Path(__file__).resolve()
    return spawn_platform(here, workdir, ["--table", str(table)], cwd=ROOT)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _text_columns(frame: Any, skip: tuple[str, ...]) -> int:
    import pandas as pd

    return sum(not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns if c not in skip)


def _lightgbm(
    bank: Any, platform: Any, shape: TableShape, valid_ids: np.ndarray, args: argparse.Namespace
) -> tuple[float, float]:
    """LightGBM with native categoricals on the joined table: (validation AUC, seconds)."""
    import lightgbm as lgb
    import pandas as pd

    from models.secureboost.loss import auc

    joined = bank.merge(platform, on="id")
    y = (joined[shape.label_column].astype(str) == shape.positive_label).to_numpy(float)
    features = [c for c in joined.columns if c not in ("id", shape.label_column)]
    frame = joined[features].copy()
    cats = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    for c in cats:
        frame[c] = frame[c].astype("category")
    is_valid = joined["id"].isin(set(valid_ids.tolist())).to_numpy()
    params = {
        "objective": "binary",
        "learning_rate": args.learning_rate,
        "max_depth": args.depth,
        "num_leaves": 2**args.depth,
        "min_sum_hessian_in_leaf": 1.0,
        "lambda_l2": 1.0,
        "min_data_in_leaf": 1,
        "max_bin": args.bins,
        "verbose": -1,
        **CAT_PARAMS,
    }
    seconds = float("inf")
    bst = None
    for threads in (1, 2):  # the faster of the two: OpenMP spin-waits badly on a busy machine
        ds = lgb.Dataset(
            frame[~is_valid],
            y[~is_valid],
            categorical_feature=cats,
            params={"max_bin": args.bins, "verbose": -1},
        )
        t0 = time.perf_counter()
        bst = lgb.train({**params, "num_threads": threads}, ds, num_boost_round=args.trees)
        seconds = min(seconds, time.perf_counter() - t0)
    assert bst is not None
    score = np.asarray(bst.predict(frame[is_valid]))
    return float(auc(y[is_valid], score)), seconds


def run_one(shape: TableShape, args: argparse.Namespace) -> dict[str, Any]:
    from bank_node.audit_service import bank_audit_log
    from bank_node.config import BankConfig
    from bank_node.jobs.runner import JobRunner, split_rows
    from bank_node.jobs.spec import JobSpec

    if args.rows is not None:
        shape = TableShape(
            shape.name,
            args.rows,
            shape.bank_features,
            shape.platform_features,
            shape.label_column,
            shape.positive_label,
        )
    bank, platform = user_tables(shape, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix=f"bench-user-{shape.name}-") as tmp:
        work = Path(tmp)
        bank.to_csv(work / "bank.csv", index=False)
        platform.sample(frac=1.0, random_state=1).to_csv(work / "platform.csv", index=False)
        proc, port, pki = _start_platform(work, work / "platform.csv")
        try:
            cfg = work / "bank.toml"
            cfg.write_text(
                f'[bank]\nparty = "bank-a"\ndata_dir = "{work / "bank"}"\n'
                f'pki_dir = "{pki}"\nplatform_target = "127.0.0.1:{port}"\n'
            )
            config = BankConfig.load(cfg)
            spec = JobSpec.from_dict(
                {
                    "job": {"name": shape.name, "algorithm": "secureboost", "id": shape.name},
                    "bank_data": {
                        "source": "table",
                        "path": str(work / "bank.csv"),
                        "label_column": shape.label_column,
                        "positive_label": shape.positive_label,
                    },
                    "platform_data": {"dataset": "user"},
                    "split": {"valid_fraction": 0.2, "seed": 7},
                    "crypto": {"key_bits": args.key_bits},
                    "params": {
                        "n_estimators": args.trees,
                        "max_depth": args.depth,
                        "n_bins": args.bins,
                        "learning_rate": args.learning_rate,
                        "privacy": "standard",
                    },
                },
                base=work,
            )
            marks: dict[str, float] = {}

            def on_phase(phase: str) -> None:
                marks.setdefault(phase, time.perf_counter())

            peer = config.platform_peer()
            cpu0_platform = _cpu_seconds(proc.pid)
            cpu0_bank = time.process_time()
            profiler = cProfile.Profile() if args.profile else None
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            runner = JobRunner(spec, config, peer, audit=bank_audit_log(config), on_phase=on_phase)
            result = runner.run()
            if profiler is not None:
                profiler.disable()
            t_end = time.perf_counter()
            cpu_bank = time.process_time() - cpu0_bank
            cpu_platform = _cpu_seconds(proc.pid) - cpu0_platform
            peer.close()
            aligned = np.load(runner.store.aligned_ids_path, allow_pickle=False)
        finally:
            proc.terminate()
            proc.wait(30)
    _, valid_rows = split_rows(len(aligned), 0.2, 7)
    auc_lgb, lgb_seconds = _lightgbm(bank, platform, shape, aligned[valid_rows], args)
    t_psi = marks.get("PSI: aligning companies", t0)
    t_train = marks.get("training", t_end)
    t_reg = marks.get("registering in MLflow", t_end)
    n_trees = args.trees  # no early stopping in these runs
    out: dict[str, Any] = {
        "table": shape.name,
        "rows": shape.rows,
        "bank_features": shape.bank_features,
        "platform_features": shape.platform_features,
        "text_columns": _text_columns(bank, ("id", shape.label_column))
        + _text_columns(platform, ("id",)),
        "key_bits": args.key_bits,
        "trees": n_trees,
        "depth": args.depth,
        "bins": args.bins,
        "seconds_total": round(t_reg - t0, 2),
        "seconds_psi": round(t_train - t_psi, 2),
        "seconds_training": round(t_reg - t_train, 2),
        "seconds_per_tree": round((t_reg - t_train) / n_trees, 3),
        "seconds_registration": round(t_end - t_reg, 2),
        "cpu_seconds_bank": round(cpu_bank, 1),
        "cpu_seconds_platform": round(cpu_platform, 1),
        "auc_federated": round(float(result.metrics.get("val_auc", float("nan"))), 5),
        "auc_lightgbm": round(auc_lgb, 5),
        "lightgbm_seconds": round(lgb_seconds, 3),
        "ratio_vs_lightgbm": round((t_reg - t0) / lgb_seconds, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if profiler is not None:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile_bank_top"] = buf.getvalue().splitlines()[:60]
    return out


TARGETS = {"marketing": ("seconds_total", 136.0), "credit150k": ("seconds_per_tree", 5.0)}


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_user_tables.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Raw user tables, end to end (PSI + SecureBoost + registration)",
        "",
        f"Mode: {result['mode']}; {result['machine']}. Federated job over mutual-TLS gRPC, "
        "platform in its own process; LightGBM with native categoricals on the joined table, "
        "same validation rows.",
        "",
        "| table | rows | bank + platform features | text cols | trees | PSI s | training s "
        "| s/tree | total s (PSI + training) | target | AUC federated | AUC LightGBM "
        "| LightGBM s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        key, limit = TARGETS.get(r["table"], ("seconds_total", float("nan")))
        met = "met" if r[key] <= limit else "missed"
        lines.append(
            f"| {r['table']} | {r['rows']} | {r['bank_features']} + {r['platform_features']} "
            f"| {r['text_columns']} | {r['trees']} | {r['seconds_psi']} "
            f"| {r['seconds_training']} | {r['seconds_per_tree']} "
            f"| {round(r['seconds_psi'] + r['seconds_training'], 1)} "
            f"| {key} <= {limit}: {met} | {r['auc_federated']} | {r['auc_lightgbm']} "
            f"| {r['lightgbm_seconds']} | {r['load_average_1m']} |"
        )
    for r in result["runs"]:
        if "profile_bank_top" in r:
            lines += ["", f"## Bank profile, {r['table']} (cumulative)", "", "```"]
            lines += r["profile_bank_top"] + ["```"]
    (out / "bench_user_tables.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tables", default="marketing,credit150k")
    ap.add_argument("--rows", type=int, default=None, help="override every table's rows")
    ap.add_argument("--trees", type=int, default=50)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--bins", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=0.1)
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the other tables' runs already in the output's JSON (one table at a time)",
    )
    ap.add_argument("--serve-platform", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pki", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--port-file", help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_platform:
        return serve_platform(args)
    if args.quick:
        args.rows = args.rows or 3000
        args.trees = min(args.trees, 3)
        args.key_bits = 1024
    quick_dir = Path(tempfile.mkdtemp(prefix="bench-user-quick-")) if args.quick else None
    out = args.out or quick_dir or RESULTS
    runs = [run_one(SHAPES[name], args) for name in args.tables.split(",")]
    previous = out / "bench_user_tables.json"
    if args.merge and previous.exists():
        done = {r["table"] for r in runs}
        old = json.loads(previous.read_text())
        if old.get("mode") == ("quick" if args.quick else "full"):
            runs = [r for r in old["runs"] if r["table"] not in done] + runs
    result = {
        "mode": "quick" if args.quick else "full",
        "machine": f"{os.cpu_count()} cores",
        "runs": runs,
    }
    write(result, out)
    print(
        json.dumps(
            {
                "out": str(out),
                "runs": [{k: v for k, v in r.items() if k != "profile_bank_top"} for r in runs],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
