"""Benchmark: audit log appends and reads on a node's log of realistic size.

A platform that serves hundreds of scores per second adds millions of entries a day. Measured
in the same run, each against its baseline:

- ``append``: one signed entry with the two-slot head written in place, against the first
  design that rewrote the head file (temp file + rename) on every append;
- ``list_by_job``: the regulator's ``ListEntries`` for one job (a few entries among many),
  through the log's SQLite index, against parsing and filtering the whole log (the first
  design); also the index's first build and a query by a bank (visibility applied);
- ``company_uses``: every score request naming one company (the company's own report).

Usage: ``python experiments/bench_audit.py [--quick]`` writes
``experiments/results/bench_audit.{json,md}``. ``--quick`` uses 20,000 entries instead of
200,000.
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.audit import Actor, AuditLog, generate_signing_key, read_entries  # noqa: E402
from models.audit.index import AuditIndex  # noqa: E402
from models.audit.keys import head_path  # noqa: E402
from models.audit.log import _head_bytes  # noqa: E402
from models.audit.messages import ListAuditRequest  # noqa: E402
from models.audit.query import query, visible_entries  # noqa: E402
from models.audit.service import list_entries  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
PLATFORM = Actor("platform", "platform", "")


class RewriteHeadLog(AuditLog):
    """The first design: the head file rewritten (temp file + rename) on every append."""

    def _write_head(self, seq: int, hash_hex: str) -> None:
        sig = self._key.sign(_head_bytes(seq, hash_hex)).hex()
        path = head_path(self.path)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": hash_hex, "signature": sig}))
        os.replace(tmp, path)


def _details(i: int) -> dict[str, Any]:
    return {
        "job_id": f"score-{i % 1000}",
        "model_id": f"m-{i % 7}",
        "uscc": f"9141010{i % 5000:05d}000000",
        "bank_party": "bank-a" if i % 3 else "bank-b",
        "outcome": "ok",
    }


def best_of(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_append(tmp: Path, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, cls in (("two_slot_head", AuditLog), ("rewrite_head", RewriteHeadLog)):
        log = cls(tmp / name / "audit.jsonl", generate_signing_key(tmp / f"{name}.pem"))
        for i in range(50):
            log.append("score_request", PLATFORM, _details(i))
        t0 = time.perf_counter()
        for i in range(n):
            log.append("score_request", PLATFORM, _details(i))
        out[f"{name}_us"] = (time.perf_counter() - t0) / n * 1e6
        log.close()
    out["speedup"] = out["rewrite_head_us"] / out["two_slot_head_us"]
    return out


def bench_reads(tmp: Path, n: int, repeats: int) -> dict[str, Any]:
    log = AuditLog(tmp / "big" / "audit.jsonl", generate_signing_key(tmp / "big.pem"))
    t0 = time.perf_counter()
    for i in range(n):
        log.append("score_request", PLATFORM, _details(i))
    fill_s = time.perf_counter() - t0
    index = AuditIndex(log.path)
    t0 = time.perf_counter()
    index.last_seq()
    build_s = time.perf_counter() - t0
    request = ListAuditRequest(job_id="score-17", limit=1000)

    def scan() -> int:
        entries = read_entries(log.path)
        return len(query(visible_entries(entries, "regulator", "regulator"), job_id="score-17"))

    def indexed() -> int:
        return len(list_entries(log, request, "regulator", "regulator", "platform").entries)

    def bank_view() -> int:
        return len(list_entries(log, request, "bank-b", "bank", "platform").entries)

    def uses_scan() -> int:
        entries = read_entries(log.path)
        return len(query(entries, event="score_request", uscc="914101000042000000"))

    def uses_indexed() -> int:
        return len(log.query(event="score_request", uscc="914101000042000000"))

    assert scan() == indexed() and uses_scan() == uses_indexed()
    scan_s = best_of(scan, max(1, repeats // 2))
    indexed_s = best_of(indexed, repeats)
    uses_scan_s = best_of(uses_scan, max(1, repeats // 2))
    uses_indexed_s = best_of(uses_indexed, repeats)
    return {
        "entries": n,
        "log_mb": log.path.stat().st_size / 1e6,
        "fill_s": fill_s,
        "index_build_s": build_s,
        "list_by_job_scan_ms": scan_s * 1e3,
        "list_by_job_indexed_ms": indexed_s * 1e3,
        "list_by_job_bank_view_ms": best_of(bank_view, repeats) * 1e3,
        "list_by_job_speedup": scan_s / indexed_s,
        "company_uses_scan_ms": uses_scan_s * 1e3,
        "company_uses_indexed_ms": uses_indexed_s * 1e3,
        "company_uses_speedup": uses_scan_s / uses_indexed_s,
        "matches_per_job": indexed(),
    }


def to_markdown(res: dict[str, Any]) -> str:
    a, r = res["append"], res["reads"]
    return "\n".join(
        [
            "# Audit log: appends and reads",
            "",
            f"{r['entries']:,} entries ({r['log_mb']:.0f} MB). "
            f"{'Quick run. ' if res['quick'] else ''}Shared 2-core machine: timings are noisy.",
            "",
            "| measure | fedcredit | baseline (first design) | ratio |",
            "|---|---:|---:|---:|",
            f"| append (µs) | {a['two_slot_head_us']:.0f} | {a['rewrite_head_us']:.0f} "
            f"| {a['speedup']:.1f}x |",
            f"| ListEntries for one job, regulator (ms) | {r['list_by_job_indexed_ms']:.1f} "
            f"| {r['list_by_job_scan_ms']:.0f} | {r['list_by_job_speedup']:.0f}x |",
            f"| a company's uses (ms) | {r['company_uses_indexed_ms']:.1f} "
            f"| {r['company_uses_scan_ms']:.0f} | {r['company_uses_speedup']:.0f}x |",
            "",
            f"Index built from scratch in {r['index_build_s']:.1f} s (then kept up to date on "
            f"each read); a bank's view of the same job: {r['list_by_job_bank_view_ms']:.1f} ms "
            f"({r['matches_per_job']} entries per job).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 entries (< 30 s)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    n = 20_000 if args.quick else 200_000
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        res: dict[str, Any] = {
            "quick": bool(args.quick),
            "append": bench_append(Path(tmp), 2000 if args.quick else 5000),
            "reads": bench_reads(Path(tmp), n, 3 if args.quick else 5),
        }
    res["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    res["total_seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_audit.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "bench_audit.md").write_text(to_markdown(res))
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
