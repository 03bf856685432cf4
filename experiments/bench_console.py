"""Console scoring overhead: a credit officer scoring through the web console vs through the
bank's gRPC ``ScoringService``, on the same two nodes, model and companies.

Both paths call the same engine (``BankScoringEngine.score``: EINI with the platform over
mutual TLS). The console adds HTTPS, the session and CSRF checks, the page (with the
company's score history and its consent status, which the company page the officer opened
first read from the platform's audit log) and its rendering. Requests alternate between the
two paths so that both see the same load; the figure of merit is the extra p99 latency
(target: at most 100 ms).

    python experiments/bench_console.py [--quick]

writes ``experiments/results/bench_console.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "experiments" / "results"
TARGET_EXTRA_P99_MS = 100.0


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"n": int(a.size), "p50_ms": float(np.percentile(a, 50)),
            "p90_ms": float(np.percentile(a, 90)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean())}  # fmt: skip


def run(quick: bool = False) -> dict[str, Any]:
    import httpx

    from bank_node.governance import promote_version
    from bank_node.scoring.client import ScoringClient, officer_tls
    from bank_node.server import create_bank_server
    from experiments.support.console import MODEL, PASSWORD, build_world
    from models.audit.entry import Actor
    from proto.fedcredit.v1 import scoring_pb2

    n = 40 if quick else 200
    companies = 10 if quick else 40
    root = Path(tempfile.mkdtemp(prefix="bench-console-"))
    world = build_world(root)
    try:
        config = world.bank_config
        promote_version(
            config, MODEL, "1", "champion", Actor("bank-a/head-of-risk", "approver", "")
        )
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        codes = world.usccs[:companies]
        for code in codes:
            world.consent.grant(code, "bank-a", "scoring", expires)
        bank = create_bank_server(config)
        grpc_client = ScoringClient(f"127.0.0.1:{bank.port}", officer_tls(world.pki / "alice"),
                                    server_name="bank-a", timeout_s=30.0)  # fmt: skip
        web = httpx.Client(base_url=world.bank_console.url, verify=False, timeout=30.0)
        token = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
        assert token is not None
        web.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token.group(1)})
        page = web.get("/officer/batch").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        csrf = token.group(1)

        engine_ms: list[float] = []
        page_ms: list[float] = []

        def via_grpc(code: str) -> float:
            t = time.perf_counter()
            grpc_client.score(scoring_pb2.ScoreRequest(uscc=code))
            return 1000 * (time.perf_counter() - t)

        def via_console(code: str) -> float:
            t = time.perf_counter()
            r = web.post("/officer/score", data={"uscc": code, "csrf": csrf})
            ms = 1000 * (time.perf_counter() - t)
            if r.status_code != 200 or 'id="pd"' not in r.text:
                raise RuntimeError(f"console scoring failed: {r.status_code}")
            timing = dict(re.findall(r"(\w+);dur=([0-9.]+)", r.headers.get("server-timing", "")))
            engine_ms.append(float(timing.get("score", "nan")))
            page_ms.append(float(timing.get("page", "nan")))
            return ms

        for code in codes:  # an officer opens the company's page before scoring it
            if web.get(f"/officer/company/{code}").status_code != 200:
                raise RuntimeError("the company page failed")
        for code in codes[:3]:  # warm-up: keys, feature tables, connections
            via_grpc(code)
            via_console(code)
        grpc_ms, console_ms = [], []
        engine_ms.clear()
        page_ms.clear()
        for i in range(n):
            code = codes[i % len(codes)]
            if i % 2:
                console_ms.append(via_console(code))
                grpc_ms.append(via_grpc(code))
            else:
                grpc_ms.append(via_grpc(code))
                console_ms.append(via_console(code))
        g, c = _stats(grpc_ms), _stats(console_ms)
        out = {
            "benchmark": "bench_console",
            "quick": quick,
            "requests_per_path": n,
            "companies": len(codes),
            "model": f"{MODEL}@1 (secureboost, EINI scoring, 1024-bit test keys)",
            "grpc": g,
            "console": c,
            "console_engine_share": _stats(engine_ms),
            "console_page_share": _stats(page_ms),
            "extra_p50_ms": c["p50_ms"] - g["p50_ms"],
            "extra_p99_ms": c["p99_ms"] - g["p99_ms"],
            "target_extra_p99_ms": TARGET_EXTRA_P99_MS,
            "meets_target": c["p99_ms"] - g["p99_ms"] <= TARGET_EXTRA_P99_MS,
        }
        grpc_client.close()
        web.close()
        bank.stop(0.2)
        return out
    finally:
        world.stop()


def write(result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_console.json").write_text(json.dumps(result, indent=2) + "\n")
    g, c = result["grpc"], result["console"]
    md = [
        "# bench_console: scoring through the web console vs the gRPC path",
        "",
        f"{result['requests_per_path']} score requests per path, alternating, over "
        f"{result['companies']} consented companies; model {result['model']}; "
        f"quick = {result['quick']}.",
        "",
        "| path | p50 ms | p90 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
        f"| gRPC `ScoringService.Score` (officer certificate) | {g['p50_ms']:.1f} | "
        f"{g['p90_ms']:.1f} | {g['p99_ms']:.1f} | {g['mean_ms']:.1f} |",
        f"| console `POST /officer/score` (HTTPS, session, CSRF, page with consent status and "
        f"history) | {c['p50_ms']:.1f} | {c['p90_ms']:.1f} | {c['p99_ms']:.1f} | "
        f"{c['mean_ms']:.1f} |",
        f"| of which the engine's `score` inside the console (Server-Timing) | "
        f"{result['console_engine_share']['p50_ms']:.1f} | "
        f"{result['console_engine_share']['p90_ms']:.1f} | "
        f"{result['console_engine_share']['p99_ms']:.1f} | "
        f"{result['console_engine_share']['mean_ms']:.1f} |",
        f"| of which the page (history, consent status, rendering) | "
        f"{result['console_page_share']['p50_ms']:.1f} | "
        f"{result['console_page_share']['p90_ms']:.1f} | "
        f"{result['console_page_share']['p99_ms']:.1f} | "
        f"{result['console_page_share']['mean_ms']:.1f} |",
        "",
        f"Extra latency of the console: p50 {result['extra_p50_ms']:.1f} ms, p99 "
        f"{result['extra_p99_ms']:.1f} ms (target <= {result['target_extra_p99_ms']:.0f} ms: "
        f"{'met' if result['meets_target'] else 'NOT met'}).",
        "",
    ]
    (RESULTS / "bench_console.md").write_text("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    write(result)
    print((RESULTS / "bench_console.md").read_text())
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
