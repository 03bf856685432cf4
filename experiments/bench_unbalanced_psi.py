"""Benchmark unbalanced PSI (models/psi: psi-auto sessions, OPRF + cached population).

For each (bank, platform) size pair, with half of the bank's ids in the platform's set:

- ``offline_seconds``: the platform prepares its ids and builds the cache for a fresh key
  (one hash-to-group and scalar multiplication per platform id, truncated tags, private
  index), as ``python -m platform_node.psi_cache build`` does once per key and population;
- ``download_seconds`` / ``cache_bytes``: the bank's first run downloads the cache;
- ``online_seconds`` / ``bytes_online``: a second run with the cache held (plan, OPRF on the
  bank's ids, look-up, finish), the per-job cost; both over the in-process peer with a
  protobuf round trip of every message (what gRPC carries), both parties on this machine;
- ``balanced_seconds`` (baseline, platform sets up to 1M): balanced ECDH-PSI on the same
  sets in the same run.

Full sizes: 50k bank ids against 1M and 10M platform ids (targets: online < 10 s for 50k vs
10M, offline < 10 min on 2 cores); ``--quick``: 2k vs 20k and 5k vs 100k. The machine is
shared, so every figure comes with the process CPU time and the load average.
``run(quick) -> list[dict]`` returns the runs (``bench_scale.json``'s ``unbalanced_psi``);
``main`` writes ``experiments/results/bench_unbalanced_psi.{json,md}``.
Usage: ``python experiments/bench_unbalanced_psi.py [--quick] [--sizes 50000x10000000,...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.dataset import PartyTable  # noqa: E402
from models.federation.inprocess import InProcessPeer  # noqa: E402
from models.federation.manager import SessionManager  # noqa: E402
from models.federation.party import Caller  # noqa: E402
from models.psi import (  # noqa: E402
    PsiActive,
    PsiAutoActive,
    prepare_ids,
    psi_auto_session_spec,
    psi_session_spec,
)
from models.psi.oprf_store import PlatformPsiCache, population_version  # noqa: E402
from models.psi.tagset import false_positive_rate  # noqa: E402
from proto.transport.codec import ProtobufCodec  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
TARGET_ONLINE_S = 10.0
TARGET_OFFLINE_S = 600.0
FULL_SIZES = [(50_000, 1_000_000), (50_000, 10_000_000)]
QUICK_SIZES = [(2_000, 20_000), (5_000, 100_000)]
BALANCED_BASELINE_MAX = 200_000
REAL_OFFLINE_MAX = 1_000_000
BLIND_SAMPLE = 100_000


class IdTable:
    """The platform's id-only table (ids kept as one array)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids

    def load(self, dataset: str, caller: Caller, params: Any) -> PartyTable:
        n = int(self.ids.shape[0])
        return PartyTable(ids=self.ids, X=np.zeros((n, 0)), feature_names=[])


def make_sets(
    n_bank: int, n_platform: int, seed: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Platform ids ``P<number>``, a bank set half inside and half outside (shuffled), and
    the positions of the bank's members in the platform's set."""
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(n_platform + n_bank)
    platform_ids = np.char.add("P", numbers[:n_platform].astype(str))
    members = rng.choice(n_platform, n_bank // 2, replace=False)
    inside = platform_ids[members]
    outside = np.char.add("P", numbers[n_platform : n_platform + n_bank - n_bank // 2].astype(str))
    return rng.permutation(np.concatenate([inside, outside])), platform_ids, members


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def run_one(
    n_bank: int, n_platform: int, *, workers: int | None = None, real_offline: bool | None = None
) -> dict[str, Any]:
    """One size pair: offline build, first run (download), second run (online).

    With ``real_offline`` false (default above ``REAL_OFFLINE_MAX`` platform ids, where the
    shared 2-core machine cannot blind the whole population within the session) the cache
    is built from real OPRF values for the bank's members and uniformly random 32-byte
    values for the other platform ids: both online computations (the bank's look-up, the
    platform's index at finish) touch non-members only through tags and sorted prefixes,
    for which random values are exact stand-ins, so the online figures are those of a real
    cache. Every offline phase then runs at full size except the blinding, whose per-id
    cost is measured on a ``BLIND_SAMPLE``-id sample in the same run; ``offline_seconds``
    is that estimate (``offline_measured`` says which).
    """
    from models.psi.group import GroupEngine

    real = n_platform <= REAL_OFFLINE_MAX if real_offline is None else real_offline
    bank, plat, members = make_sets(n_bank, n_platform)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-upsi-") as tmp:
        data_dir = Path(tmp) / "platform"
        extras: dict[str, object] = {"psi_cache_inline_build_max": 0, "psi_workers": workers or 2}
        manager = SessionManager(data_dir, IdTable(plat), context_extras=extras)
        codec = ProtobufCodec()

        start = _clock()
        store = PlatformPsiCache(data_dir / "psi_cache")
        key = store.current_key()
        prepared = prepare_ids(plat, None)
        population = population_version(plat, "any")
        prepare_s, prepare_cpu = _since(start)
        blind_sample: dict[str, float] = {}
        values = None
        if not real:
            with GroupEngine(workers) as engine:
                sample = prepared.ids[: min(BLIND_SAMPLE, n_platform)].tolist()
                t = _clock()
                engine.hash_mult(key.scalar, sample)
                wall, cpu = _since(t)
                blind_sample = {
                    "n": len(sample),
                    "us_per_id_wall": round(1e6 * wall / len(sample), 2),
                    "us_per_id_cpu": round(1e6 * cpu / len(sample), 2),
                }
                member_values = engine.hash_mult(key.scalar, plat[members].tolist())
            filler = np.frombuffer(os.urandom(32 * n_platform), dtype=np.uint8).reshape(-1, 32)
            filler = filler.copy()
            filler[members] = np.frombuffer(member_values, dtype=np.uint8).reshape(-1, 32)
            values = filler.tobytes()
            del filler
        start = _clock()
        meta = store.build(key, population, prepared.ids, workers=workers, values=values)
        build_s, build_cpu = _since(start)
        offline_s, offline_cpu = prepare_s + build_s, prepare_cpu + build_cpu
        if not real:
            blind_est = blind_sample["us_per_id_wall"] * 1e-6 * n_platform
            blind_est_cpu = blind_sample["us_per_id_cpu"] * 1e-6 * n_platform
            offline_s, offline_cpu = offline_s + blind_est, offline_cpu + blind_est_cpu

        # the size-ratio rule picks unbalanced for the full sizes; the quick sizes are below
        # its 100,000-id floor, so the bench asks for unbalanced explicitly
        mode = "unbalanced"

        def auto_run(job: str) -> Any:
            peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=codec)
            peer.open_session(psi_auto_session_spec(job, "bench", id_format="any"))
            try:
                cache_dir = Path(tmp) / "bank-cache"
                return PsiAutoActive(peer, cache_dir, mode=mode, workers=workers).run(bank)
            finally:
                peer.close_session()

        start = _clock()
        first = auto_run("upsi-1")
        download_s, _ = _since(start)
        start = _clock()
        load1 = os.getloadavg()[0]
        second = auto_run("upsi-2")
        online_s, online_cpu = _since(start)
        assert first.protocol == second.protocol == "unbalanced"
        assert second.cache_bytes_downloaded == 0
        assert second.result.n_intersection == n_bank // 2
        expected = set(bank.tolist()) & set(plat.tolist())
        assert set(second.result.aligned_ids.tolist()) == expected

        run: dict[str, Any] = {
            "n_bank": n_bank,
            "n_platform": n_platform,
            "n_intersection": int(second.result.n_intersection),
            "offline_seconds": round(offline_s, 2),
            "offline_cpu_seconds": round(offline_cpu, 2),
            "offline_measured": real,
            "offline_phases": {"prepare": round(prepare_s, 2), **meta.build_phases},
            "blind_sample": blind_sample,
            "online_seconds": round(online_s, 2),
            "online_cpu_seconds": round(online_cpu, 2),
            "online_phases": {k: round(v, 3) for k, v in second.result.seconds.items()},
            "bytes_online": int(second.bytes_online),
            "download_seconds": round(download_s, 2),  # the first run, download included
            "cache_download_seconds": round(first.result.seconds.get("cache", 0.0), 2),
            "cache_bytes": int(first.cache_bytes_downloaded),
            "cache_bytes_per_platform_id": round(first.cache_bytes_downloaded / n_platform, 3),
            "false_positive_rate_per_query": meta.false_positive_rate,
            "false_positive_rate_per_run": min(1.0, meta.false_positive_rate * n_bank),
            "load_average": [round(load0, 2), round(load1, 2), round(os.getloadavg()[0], 2)],
        }
        if n_platform <= BALANCED_BASELINE_MAX:
            peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=codec)
            peer.open_session(psi_session_spec("psi-balanced", "bench", id_format="any"))
            start = _clock()
            try:
                balanced = PsiActive(peer, workers=workers).run(bank)
            finally:
                peer.close_session()
            run["balanced_seconds"], run["balanced_cpu_seconds"] = (
                round(x, 2) for x in _since(start)
            )
            run["balanced_bytes"] = int(balanced.bytes_sent + balanced.bytes_received)
            assert set(balanced.aligned_ids.tolist()) == expected
            run["online_speedup_vs_balanced"] = round(run["balanced_seconds"] / online_s, 1)
    return run


def run(
    quick: bool = False,
    sizes: list[tuple[int, int]] | None = None,
    *,
    real_offline: bool | None = None,
    on_run: Any = None,
) -> list[dict[str, Any]]:
    """The ``unbalanced_psi`` runs: offline/online seconds and online bytes per size pair
    (``on_run(runs)`` is called after each, e.g. to write partial results)."""
    chosen = sizes or (QUICK_SIZES if quick else FULL_SIZES)
    runs: list[dict[str, Any]] = []
    for n_bank, n_platform in chosen:
        runs.append(run_one(n_bank, n_platform, real_offline=real_offline))
        if on_run is not None:
            on_run(runs)
    return runs


def to_markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Unbalanced PSI: offline cache, online OPRF",
        "",
        f"{'Quick run. ' if doc['quick'] else ''}Generated {doc['generated']} on "
        f"{doc['machine']['cpus']} CPUs (shared machine: see the load averages). "
        f"Targets: online < {TARGET_ONLINE_S:g} s for 50k vs 10M, offline < "
        f"{TARGET_OFFLINE_S / 60:g} min on 2 cores.",
        "",
        "| bank | platform | offline s (CPU s) | online s (CPU s) | online bytes | "
        "cache bytes (per id) | first run s (with download) | balanced s | FP per run | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in doc["unbalanced_psi"]:
        lines.append(
            f"| {r['n_bank']:,} | {r['n_platform']:,} | {r['offline_seconds']}"
            f"{'' if r['offline_measured'] else ' (est.)'} "
            f"({r['offline_cpu_seconds']}) | {r['online_seconds']} ({r['online_cpu_seconds']}) "
            f"| {r['bytes_online']:,} | {r['cache_bytes']:,} ({r['cache_bytes_per_platform_id']}) "
            f"| {r['download_seconds']} | {r.get('balanced_seconds', 'n/a')} "
            f"| {r['false_positive_rate_per_run']:.1e} | {r['load_average']} |"
        )
    lines += [
        "",
        "CPU seconds are the process's (both parties, all threads); on two free cores the "
        "wall time is about CPU / 1.9. `online_phases` and `offline_phases` in the JSON split "
        "the runs. *est.*: the population's blinding estimated from a "
        f"{BLIND_SAMPLE:,}-id sample measured in the same run, every other offline phase "
        "measured at full size (see `run_one`).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="", help="e.g. 50000x1000000,50000x10000000")
    parser.add_argument(
        "--real-offline", action="store_true", help="blind the whole population at every size"
    )
    args = parser.parse_args(argv)
    sizes = (
        [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")] if args.sizes else None
    )
    t0 = time.perf_counter()

    def write(runs: list[dict[str, Any]]) -> dict[str, Any]:
        doc = {
            "benchmark": "bench_unbalanced_psi",
            "quick": args.quick,
            "seconds": round(time.perf_counter() - t0, 1),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "false_positive_rate_bound_per_query": false_positive_rate(2**24),
            "unbalanced_psi": runs,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_unbalanced_psi.json").write_text(json.dumps(doc, indent=2) + "\n")
        (RESULTS / "bench_unbalanced_psi.md").write_text(to_markdown(doc))
        return doc

    real = True if args.real_offline else None
    doc = write(run(args.quick, sizes, real_offline=real, on_run=write))  # type: ignore[arg-type]
    print(to_markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
