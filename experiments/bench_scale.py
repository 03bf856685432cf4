"""Benchmark the compute backends (models/compute): local processes vs a Ray cluster.

Measures, in one run and on one machine:

- ``histogram``: the platform's encrypted histograms of one node holding every row
  (``--quick``: 20,000 rows; full: 1,000,000 rows) x 10 features x 32 bins under a 2048-bit
  Paillier key, with a fresh ciphertext vector (so each backend pays its transfer of the
  vector to its workers, as at every tree or level of a job);
- ``psi``: the whole ECDH-PSI protocol over the in-process peer with a protobuf round trip of
  every message, both parties on the backend (``--quick``: 100k x 100k; full: 1M x 1M, 50%
  overlap);

each with the ``local`` backend (this process and its helper, 2 cores), and the ``ray``
backend on a loopback Ray cluster of two nodes with one CPU each (``ray start --head`` plus
one node joined to it), using 1 and then 2 worker actors. ``ray_overhead`` is Ray with 2
workers (2 cores) against local (2 cores) minus one; ``speedup_2_workers`` is 1 worker's time
over 2 workers'. The results are bit-identical across backends (checked here on every run,
and in ``tests/test_compute_ray.py``).

It also measures single-core unit costs (histogram multiplication, ciphertext serialisation,
encryption, rerandomisation, PSI point operations) and from them a cost model
(``cost_model``): its predictions for the measured Ray runs (held out: the model is built
from the unit costs only), and for 10M x 10M PSI and one 1M-row, 300-feature SecureBoost tree
on 16, 64 and 256 cores per party (``docs/deployment.md``).

``unbalanced_psi`` holds the runs of ``experiments/bench_unbalanced_psi.py`` when that module
is present, else an empty list.

Writes ``experiments/results/bench_scale.json`` and ``bench_scale.md``. The machine may be
shared: the 1-minute load average before and after each run is recorded next to its time.
Usage: ``python experiments/bench_scale.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
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

from models import compute  # noqa: E402
from models.compute.local import LocalBackend  # noqa: E402
from models.crypto.histogram import histogram_serial  # noqa: E402
from models.crypto.paillier import EncryptedVector, PaillierKeypair  # noqa: E402
from models.crypto.parallel import bytes_to_mpz, ints_to_bytes  # noqa: E402
from models.federation.inprocess import InProcessPeer  # noqa: E402
from models.federation.manager import SessionManager  # noqa: E402
from models.federation.party import Caller  # noqa: E402
from models.psi import PsiActive, psi_session_spec  # noqa: E402
from models.psi.group import GroupEngine, random_scalar  # noqa: E402
from models.uscc import is_valid_uscc  # noqa: E402
from proto.transport.codec import ProtobufCodec  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
KEY_BITS = 2048
N_FEATURES = 10
N_BINS = 32
#: Distinct ciphertexts encrypted for the histogram input (rows reuse them at random: the
#: cost of a modular multiplication does not depend on the values).
DISTINCT_CIPHERTEXTS = 4_000
TARGET_OVERHEAD = 0.15
TARGET_SPEEDUP = 1.7
#: Cost-model assumptions (stated in docs/deployment.md).
LINK_BYTES_PER_S = 1.25e8  # 1 Gbit/s between the parties
CIPHERTEXT_BYTES = 512  # 2048-bit Paillier: one value modulo n^2
SLOTS_PER_CIPHERTEXT = 21  # compressed bin sums per ciphertext (docs/secureboost.md)
TREE_DEPTH = 5


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any, list[float], float]:
    """Wall seconds, result, load average before/after, this process's CPU seconds."""
    before = _load()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, out, [before, _load()], time.process_time() - c0


# ---------------------------------------------------------------------------- workloads
def histogram_input(n_rows: int, seed: int = 0) -> tuple[EncryptedVector, np.ndarray]:
    keypair = PaillierKeypair.generate(KEY_BITS)
    rng = np.random.default_rng(seed)
    base = keypair.encrypt(rng.integers(0, 1 << 40, DISTINCT_CIPHERTEXTS).tolist())
    pick = rng.integers(0, DISTINCT_CIPHERTEXTS, n_rows).tolist()
    values = [base.values[i] for i in pick]
    bins = rng.integers(0, N_BINS, size=(n_rows, N_FEATURES)).astype(np.int16)
    return EncryptedVector(keypair.public_key, values), bins


def run_histogram(
    backend: Any, enc: EncryptedVector, bins: np.ndarray
) -> tuple[float, list[list[int]], list[float], float]:
    fresh = EncryptedVector(enc.public_key, enc.values)  # a new token: nothing cached
    rows = np.arange(len(enc))
    seconds, hists, load, cpu = _timed(lambda: backend.histograms(fresh, bins, rows, N_BINS))
    return seconds, [[int(c) for c in h.values] for h in hists], load, cpu


class IdTable:
    """The platform's id-only table."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def load(self, dataset: str, caller: Caller, params: Any) -> Any:
        from models.dataset import PartyTable

        n = len(self.ids)
        return PartyTable(ids=np.array(self.ids), X=np.zeros((n, 0)), feature_names=[])


def make_sets(n: int, seed: int = 11) -> tuple[list[str], list[str]]:
    """Two sets of ``n`` USCCs with 50% overlap."""
    from models.uscc import generate_usccs

    common = n // 2
    pool = generate_usccs(2 * n - common, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    return list(rng.permutation(pool[:n])), list(rng.permutation(pool[n - common :]))


def run_psi(
    backend: Any, bank: list[str], plat: list[str]
) -> tuple[float, str, list[float], float]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, compute.use(backend):
        manager = SessionManager(Path(tmp), IdTable(plat))
        peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())

        def go() -> Any:
            peer.open_session(psi_session_spec("bench-scale", "bench", id_format="uscc"))
            res = PsiActive(peer, id_validator=is_valid_uscc).run(bank)
            peer.close_session()
            return res

        seconds, res, load, cpu = _timed(go)
    # the order depends on fresh secrets: compare the intersection as a set
    return seconds, json.dumps(sorted(res.aligned_ids.tolist())), load, cpu


# ---------------------------------------------------------------------------- unit costs
def unit_costs(enc: EncryptedVector, bins: np.ndarray) -> dict[str, float]:
    """Single-core costs in microseconds of CPU time (this thread), so that a busy shared
    machine slows them less than wall times."""
    n = min(len(enc), 20_000)
    pk = enc.public_key
    vals = enc.values[:n]
    rows = np.arange(n)
    t = time.thread_time()
    histogram_serial(vals, pk.n2, bins[:n], rows, [N_BINS] * N_FEATURES, [-1] * N_FEATURES)
    hist_us = (time.thread_time() - t) / (n * N_FEATURES) * 1e6
    t = time.thread_time()
    blob = ints_to_bytes(vals, pk.width)
    to_bytes_us = (time.thread_time() - t) / n * 1e6
    t = time.thread_time()
    bytes_to_mpz(blob, pk.width)
    from_bytes_us = (time.thread_time() - t) / n * 1e6
    keypair = PaillierKeypair.generate(KEY_BITS)
    keypair.encrypt([1] * 64, workers=1)  # build the fixed-base tables outside the timing
    m = 4_000
    t = time.thread_time()
    keypair.encrypt(list(range(m)), workers=1)
    enc_us = (time.thread_time() - t) / m * 1e6
    t = time.thread_time()
    keypair.public_key.random_nth_residues(200, workers=1)
    rerand_us = (time.thread_time() - t) / 200 * 1e6
    ids = [f"id-{i}" for i in range(20_000)]
    s = random_scalar()
    with GroupEngine(1) as engine:
        t = time.thread_time()
        pts = engine.hash_mult(s, ids)
        hash_mult_us = (time.thread_time() - t) / len(ids) * 1e6
        t = time.thread_time()
        engine.mult(s, pts)
        mult_us = (time.thread_time() - t) / len(ids) * 1e6
    return {
        "hist_mul_us": round(hist_us, 4),
        "ciphertext_to_bytes_us": round(to_bytes_us, 4),
        "ciphertext_from_bytes_us": round(from_bytes_us, 4),
        "encrypt_us": round(enc_us, 3),
        "rerandomize_us": round(rerand_us, 1),
        "psi_hash_mult_us": round(hash_mult_us, 3),
        "psi_mult_us": round(mult_us, 3),
    }


# ---------------------------------------------------------------------------- cost model
def hist_model(u: dict[str, float], n: int, f: int, cores: int) -> float:
    """One node of ``n`` rows on a Ray cluster of ``cores`` workers: the caller serialises the
    vector (serial), each worker deserialises its block and multiplies (parallel)."""
    serial = n * u["ciphertext_to_bytes_us"]
    parallel = n * (u["ciphertext_from_bytes_us"] + f * u["hist_mul_us"]) / cores
    return (serial + parallel) / 1e6


def psi_parallel_us(u: dict[str, float]) -> float:
    """CPU per id pair in the group operations: both sets hashed and blinded once, then
    blinded again by the other party."""
    return 2 * u["psi_hash_mult_us"] + 2 * u["psi_mult_us"]


def psi_model(u: dict[str, float], serial_us: float, n: int, cores: int) -> float:
    """PSI of ``n`` x ``n`` ids with ``cores`` workers per party (the phases alternate
    between the parties, so each phase has one party's cores)."""
    return n * (serial_us + psi_parallel_us(u) / cores) / 1e6


def tree_model(u: dict[str, float], n: int, f: int, cores: int) -> dict[str, float]:
    """One standard-mode SecureBoost tree (depth 5, 32 bins + missing) with ``cores`` per
    party: the bank encrypts ``n`` rows, sends them, the platform builds every level's
    histograms (the root over all rows, each deeper level over at most half of them: the
    smaller child of each pair) and rerandomises the compressed sums; decryption of those
    few ciphertexts is negligible."""
    nodes_built = 1 + sum(2 ** (d - 1) for d in range(1, TREE_DEPTH))
    compressed = nodes_built * f * (N_BINS + 1) / SLOTS_PER_CIPHERTEXT
    levels_rows = n * (1 + 0.5 * (TREE_DEPTH - 1))
    parts = {
        "encrypt_s": n * (u["encrypt_us"] / cores + u["ciphertext_to_bytes_us"]) / 1e6,
        "transfer_s": n * CIPHERTEXT_BYTES / LINK_BYTES_PER_S,
        "histograms_s": (
            n * (u["ciphertext_to_bytes_us"] + u["ciphertext_from_bytes_us"] / cores)
            + levels_rows * f * u["hist_mul_us"] / cores
        )
        / 1e6,
        "rerandomize_s": compressed * u["rerandomize_us"] / cores / 1e6,
    }
    parts["total_s"] = sum(parts.values())
    return {k: round(v, 1) for k, v in parts.items()}


def cost_model(report: dict[str, Any], u: dict[str, float]) -> dict[str, Any]:
    """Validation and predictions; each workload is modelled with the unit costs measured in
    the same run as it (``unit_costs_us`` of the workload, ``u`` when absent): the shared
    host's speed drifts between runs, so a workload rerun with ``--only`` brings its own."""
    h, p = report["histogram"], report["psi"]
    n_h, n_p = h["n_rows"], p["n_bank"]
    uh, up = h.get("unit_costs_us", u), p.get("unit_costs_us", u)
    # PSI's serial part per id pair (validation, protobuf, sorting, intersection), from
    # the local run only: its CPU time minus the group operations' CPU time
    serial_us = max(0.0, p["local_cpu_seconds"] * 1e6 / n_p - psi_parallel_us(up))
    checks = []
    for name, cores, measured in (
        ("histogram ray 1 worker", 1, h["ray_1_worker_seconds"]),
        ("histogram ray 2 workers", 2, h["ray_2_workers_seconds"]),
        ("psi ray 1 worker", 1, p["ray_1_worker_seconds"]),
        ("psi ray 2 workers", 2, p["ray_2_workers_seconds"]),
    ):
        pred = (
            hist_model(uh, n_h, N_FEATURES, cores)
            if name.startswith("histogram")
            else psi_model(up, serial_us, n_p, cores)
        )
        checks.append(
            {
                "run": name,
                "predicted_s": round(pred, 2),
                "measured_s": measured,
                "error": round(measured / pred - 1, 3) if pred else None,
            }
        )
    cores_list = [16, 64, 256]
    return {
        "unit_costs_us": u,
        "unit_costs_us_by_workload": {"histogram": uh, "psi": up},
        "psi_serial_us_per_id": round(serial_us, 2),
        "assumptions": {
            "link_bytes_per_s": LINK_BYTES_PER_S,
            "tree": f"standard mode, depth {TREE_DEPTH}, {N_BINS} bins + missing, "
            f"{SLOTS_PER_CIPHERTEXT} bin sums per compressed ciphertext",
            "cores": "per party, one Ray worker per core, unit costs of this machine",
        },
        "validation": checks,
        "psi_10m_x_10m_s": {str(c): round(psi_model(up, serial_us, 10_000_000, c), 1)
                            for c in cores_list},
        "psi_10m_x_10m_s_serial_part": round(10_000_000 * serial_us / 1e6, 1),
        "secureboost_tree_1m_x_300": {str(c): tree_model(uh, 1_000_000, 300, c)
                                      for c in cores_list},
    }  # fmt: skip


# ---------------------------------------------------------------------------- driver
def compare(
    name: str,
    run: Callable[[Any], tuple[float, Any, list[float], float]],
    cluster_address: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    from models.compute.ray_backend import RayBackend

    local_s, local_out, local_load, local_cpu = run(LocalBackend())
    print(f"{name}: local {local_s:.2f} s", flush=True)
    times: dict[int, float] = {}
    loads: dict[int, list[float]] = {}
    identical = True
    for workers in (1, 2):
        backend = RayBackend(cluster_address, workers=workers)
        try:
            seconds, out, load, _ = run(backend)
        finally:
            backend.close()
        times[workers], loads[workers] = seconds, load
        identical = identical and out == local_out
        print(f"{name}: ray {workers} worker(s) {seconds:.2f} s", flush=True)
    return {
        **extra,
        "local_seconds": round(local_s, 3),
        "local_cpu_seconds": round(local_cpu, 3),
        "ray_1_worker_seconds": round(times[1], 3),
        "ray_2_workers_seconds": round(times[2], 3),
        "ray_overhead": round(times[2] / local_s - 1, 3),
        "speedup_2_workers": round(times[1] / times[2], 3),
        "identical_to_local": identical,
        "load_avg_1min": {"local": local_load, "ray_1": loads[1], "ray_2": loads[2]},
    }


def unbalanced_runs(quick: bool, *, real_offline: bool = False) -> list[dict[str, Any]]:
    """The unbalanced PSI runs of ``experiments/bench_unbalanced_psi.py`` (its sizes)."""
    mod = importlib.import_module("experiments.bench_unbalanced_psi")
    return list(mod.run(quick, real_offline=True if real_offline else None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--hist-rows", type=int, help="override the histogram's row count")
    parser.add_argument("--psi-ids", type=int, help="override the PSI set sizes")
    parser.add_argument(
        "--only",
        choices=["histogram", "psi"],
        help="rerun one workload and merge it into the report in --out (the other workload, "
        "the unbalanced runs and the rest are kept; the cost model is recomputed)",
    )
    parser.add_argument(
        "--real-offline",
        action="store_true",
        help="unbalanced PSI: blind the whole population at every size (no 10M estimate)",
    )
    args = parser.parse_args(argv)
    from models.compute.ray_cluster import LocalRayCluster

    n_rows = args.hist_rows or (20_000 if args.quick else 1_000_000)
    n_psi = args.psi_ids or (50_000 if args.quick else 1_000_000)
    enc, bins = histogram_input(n_rows)
    units = unit_costs(enc, bins)
    print("unit costs (us):", units, flush=True)
    bank, plat = make_sets(n_psi)
    if args.only:
        return merge_one(args, args.only, enc, bins, bank, plat, units)
    report: dict[str, Any] = {
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "cluster": "loopback Ray cluster: head + 1 node, 1 CPU each (ray start)",
        "targets": {"ray_overhead_max": TARGET_OVERHEAD, "speedup_2_workers_min": TARGET_SPEEDUP},
    }
    store = max(300 << 20, int(n_rows * CIPHERTEXT_BYTES * 1.5))
    with LocalRayCluster(extra_nodes=1, cpus_per_node=1, object_store_bytes=store) as cluster:
        report["histogram"] = compare(
            "histogram",
            lambda b: run_histogram(b, enc, bins),
            cluster.address,
            {"n_rows": n_rows, "n_features": N_FEATURES, "n_bins": N_BINS, "key_bits": KEY_BITS},
        )
        write(args.out, report)  # the histogram part, in case the PSI part is cut short
        report["psi"] = compare(
            "psi",
            lambda b: run_psi(b, bank, plat),
            cluster.address,
            {"n_bank": n_psi, "n_platform": n_psi, "overlap": 0.5},
        )
    for key in ("histogram", "psi"):
        r = report[key]
        r["unit_costs_us"] = units
        r["targets_met"] = {
            "ray_overhead": r["ray_overhead"] <= TARGET_OVERHEAD,
            "speedup_2_workers": r["speedup_2_workers"] >= TARGET_SPEEDUP,
        }
    report["cost_model"] = cost_model(report, units)
    report["unbalanced_psi"] = unbalanced_runs(args.quick, real_offline=args.real_offline)
    write(args.out, report)
    print(json.dumps({k: report[k] for k in ("histogram", "psi")}, indent=1), flush=True)
    return 0


def merge_one(
    args: argparse.Namespace,
    only: str,
    enc: EncryptedVector,
    bins: np.ndarray,
    bank: list[str],
    plat: list[str],
    units: dict[str, float],
) -> int:
    """``--only``: rerun one workload and merge it into the committed report (never mixing a
    quick run into a full one)."""
    from models.compute.ray_cluster import LocalRayCluster

    path = args.out / "bench_scale.json"
    report = json.loads(path.read_text())
    if bool(report.get("quick")) != bool(args.quick):
        raise SystemExit("--only: the report in --out is a quick/full run and this one is not")
    store = max(300 << 20, int(len(enc.values) * CIPHERTEXT_BYTES * 1.5))
    with LocalRayCluster(extra_nodes=1, cpus_per_node=1, object_store_bytes=store) as cluster:
        if only == "histogram":
            extra = {"n_rows": len(enc.values), "n_features": N_FEATURES, "n_bins": N_BINS,
                     "key_bits": KEY_BITS}  # fmt: skip
            result = compare(
                "histogram", lambda b: run_histogram(b, enc, bins), cluster.address, extra
            )
        else:
            sizes: dict[str, Any] = {"n_bank": len(bank), "n_platform": len(plat), "overlap": 0.5}
            result = compare("psi", lambda b: run_psi(b, bank, plat), cluster.address, sizes)
    result["targets_met"] = {
        "ray_overhead": result["ray_overhead"] <= TARGET_OVERHEAD,
        "speedup_2_workers": result["speedup_2_workers"] >= TARGET_SPEEDUP,
    }
    result["rerun"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["unit_costs_us"] = units
    for key in ("histogram", "psi"):  # a workload kept from the earlier run keeps its units
        report[key].setdefault("unit_costs_us", report["cost_model"]["unit_costs_us"])
    report[only] = result
    report["cost_model"] = cost_model(report, units)
    write(args.out, report)
    print(json.dumps(result, indent=1), flush=True)
    return 0


def write(out: Path, report: dict[str, Any]) -> None:
    """The JSON report, and the Markdown one once both workloads are measured."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps(report, indent=2) + "\n")
    if "cost_model" in report:
        (out / "bench_scale.md").write_text(markdown(report))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# bench_scale: local processes vs Ray (models/compute)",
        "",
        f"{'Quick' if r['quick'] else 'Full'} run on {r['cpu_count']} CPUs ({r['machine']}); "
        f"{r['cluster']}. Ray overhead = Ray with 2 workers / local with 2 processes - 1 "
        f"(target <= {TARGET_OVERHEAD:.0%}); speedup = Ray 1 worker / Ray 2 workers (target "
        f">= {TARGET_SPEEDUP}). Load average (1 min) before/after each run is listed: the "
        "machine is shared, so times under a high load are disturbed.",
        "",
        "| workload | size | local s | Ray 1 worker s | Ray 2 workers s | Ray overhead | "
        "speedup 2 workers | identical | load (local / ray 1 / ray 2) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for key, size in (
        ("histogram", f"{r['histogram']['n_rows']:,} rows x {N_FEATURES} features x {N_BINS} "
                      "bins"),
        ("psi", f"{r['psi']['n_bank']:,} x {r['psi']['n_platform']:,}"),
    ):  # fmt: skip
        x = r[key]
        ld = x["load_avg_1min"]
        if "rerun" in x:
            size += f" (rerun {x['rerun']})"
        lines.append(
            f"| {key} | {size} | {x['local_seconds']:.2f} | {x['ray_1_worker_seconds']:.2f} | "
            f"{x['ray_2_workers_seconds']:.2f} | {x['ray_overhead']:+.1%} | "
            f"{x['speedup_2_workers']:.2f}x | {x['identical_to_local']} | "
            f"{ld['local']} / {ld['ray_1']} / {ld['ray_2']} |"
        )
    cm = r["cost_model"]
    lines += [
        "",
        "## Cost model",
        "",
        "Unit costs on one core (us of CPU time, each workload modelled with those of its own "
        "run): "
        + "; ".join(
            f"{w}: " + ", ".join(f"{k} {v}" for k, v in units.items())
            for w, units in cm.get(
                "unit_costs_us_by_workload", {"all": cm["unit_costs_us"]}
            ).items()
        )
        + f"; PSI serial part {cm['psi_serial_us_per_id']} us per id pair (from the local "
        "run's CPU time). Predictions are for idle cores; the measured times are wall times "
        "on this shared machine (see the load averages above).",
        "",
        "| held-out run | predicted s | measured s | error |",
        "|---|---:|---:|---:|",
    ]
    for c in cm["validation"]:
        err = "-" if c["error"] is None else f"{c['error']:+.1%}"
        lines.append(f"| {c['run']} | {c['predicted_s']} | {c['measured_s']} | {err} |")
    lines += [
        "",
        "| cores per party | PSI 10M x 10M s | SecureBoost tree 1M rows x 300 features s "
        "(encrypt / transfer / histograms / rerandomise) |",
        "|---:|---:|---|",
    ]
    for c in ("16", "64", "256"):
        t = cm["secureboost_tree_1m_x_300"][c]
        lines.append(
            f"| {c} | {cm['psi_10m_x_10m_s'][c]} | {t['total_s']} ({t['encrypt_s']} / "
            f"{t['transfer_s']} / {t['histograms_s']} / {t['rerandomize_s']}) |"
        )
    lines += [
        "",
        f"PSI's serial part alone is {cm['psi_10m_x_10m_s_serial_part']} s at 10M x 10M "
        "(Amdahl's bound for any core count).",
        "",
        f"Unbalanced PSI runs: {len(r['unbalanced_psi'])} (experiments/bench_unbalanced_psi.py).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
