"""Benchmark: every privacy attack in ``experiments/privacy/``, before and after hardening.

Usage: ``python experiments/bench_privacy.py [--quick] [--only NAME]`` writes
``experiments/results/bench_privacy.{json,md}`` (``--only`` runs the modules whose name
contains NAME and writes nothing unless ``--write`` is given). Each module's ``run(quick)``
returns :class:`~experiments.privacy.common.AttackResult` rows; see the module docstrings for
what each attack does and the rule it applies.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from experiments.privacy import ATTACK_MODULES  # noqa: E402
from experiments.privacy.common import (  # noqa: E402
    AttackResult,
    merge_report,
    to_markdown,
    write_report,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small data, the test-suite sizes")
    ap.add_argument("--only", default="", help="run only modules whose name contains this")
    ap.add_argument("--write", action="store_true", help="write the report even with --only")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="with --only: replace these modules' rows in the committed report, keep the rest",
    )
    args = ap.parse_args(argv)
    results: list[AttackResult] = []
    t0 = time.perf_counter()
    for name in ATTACK_MODULES:
        if args.only and args.only not in name:
            continue
        module = importlib.import_module(f"experiments.privacy.{name}")
        t = time.perf_counter()
        rows = module.run(quick=args.quick)
        print(f"{name}: {len(rows)} results in {time.perf_counter() - t:.1f} s", flush=True)
        results.extend(rows)
    seconds = time.perf_counter() - t0
    if args.only and args.merge:
        json_path, md_path = merge_report(results, args.quick, seconds)
        print(f"merged into {json_path} and {md_path}")
        return 0
    if args.only and not args.write:
        print(to_markdown(results, args.quick, seconds))
        return 0
    json_path, md_path = write_report(results, args.quick, seconds)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
