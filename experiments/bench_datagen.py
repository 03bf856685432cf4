"""Benchmark the synthetic city generator: wall time and peak memory at 100k and 1M enterprises.

Each size runs in a fresh child process (``--child``) so that its peak RSS is its own. The
targets are 60 s for 100k enterprises and 600 s for 1M, with a peak RSS under 8 GB; the
report gives each measurement as a ratio of its target (< 1 = within target). The machine may
be shared with other work: wall times are an upper bound of what a quiet machine gives.

Usage: ``python experiments/bench_datagen.py [--quick]`` (quick: 100k only).
Writes experiments/results/bench_datagen.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results"
TARGET_SECONDS = {100_000: 60.0, 1_000_000: 600.0}
TARGET_RSS_GB = 8.0


def child(n: int, out: Path, seed: int) -> None:
    sys.path.insert(0, str(ROOT))
    from experiments.synthetic_city import generate_city

    start = time.perf_counter()
    card = generate_city(n, seed=seed, out_dir=out, overwrite=True)
    seconds = time.perf_counter() - start
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    keys = ["loans", "modelling_rows", "default_rate", "auc_bank_only", "auc_joint"]
    result = {"enterprises": n, "seconds": round(seconds, 1), "peak_rss_gb": round(rss_gb, 2)}
    result.update({k: card[k] for k in keys})
    result["records"] = int(sum(card["records_per_table"].values()))
    result["rejected_invalid_codes"] = card["rejected_invalid_codes_total"]
    print(json.dumps(result))


def run_size(n: int, seed: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"datagen_{n}_"))
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--out", str(work), "--seed", str(seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
        result["disk_mb"] = round(size / 1024**2, 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["seconds_vs_target"] = round(float(result["seconds"]) / TARGET_SECONDS[n], 3)  # type: ignore[arg-type]
    result["rss_vs_target"] = round(float(result["peak_rss_gb"]) / TARGET_RSS_GB, 3)  # type: ignore[arg-type]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k enterprises only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.seed)
        return 0
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    rows = [run_size(n, args.seed) for n in sizes]
    for row in rows:
        print(json.dumps(row))
    meta = {
        "benchmark": "datagen",
        "quick": args.quick,
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "note": "machine shared with other jobs; wall times are upper bounds",
        "targets": {"seconds": {str(k): v for k, v in TARGET_SECONDS.items()}, "rss_gb": 8.0},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_datagen.json").write_text(
        json.dumps({**meta, "results": rows}, indent=2) + "\n", encoding="utf-8"
    )
    lines = [
        "# Synthetic city generator",
        "",
        f"Seed {args.seed}, {os.cpu_count()} CPUs, shared machine (times are upper bounds). "
        "Includes writing all files, ingestion with code validation, point-in-time features "
        "for the modelling rows and the data card's two LightGBM references.",
        "",
        "| enterprises | seconds | target s | ratio | peak RSS GB | ratio to 8 GB | records "
        "| loans | disk MB | AUC bank | AUC joint |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = int(r["enterprises"])  # type: ignore[call-overload]
        lines.append(
            f"| {n:,} | {r['seconds']} | {TARGET_SECONDS[n]:.0f} | {r['seconds_vs_target']} "
            f"| {r['peak_rss_gb']} | {r['rss_vs_target']} | {int(r['records']):,} "  # type: ignore[call-overload]
            f"| {int(r['loans']):,} | {r['disk_mb']} | {r['auc_bank_only']} | {r['auc_joint']} |"  # type: ignore[call-overload]
        )
    (RESULTS / "bench_datagen.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
