"""Choose the platform's embedded store: DuckDB over Parquet vs SQLite, measured.

Same raw feeds (the synthetic city's physical-aggregation tables), same validation (USCC
check, dated rows), then:

* ingestion: DuckDB/Parquet = :class:`CatalogueStore.ingest` (validate + write a zstd Parquet
  part); SQLite = validate + ``executemany`` INSERT into typed tables, then an index on
  (uscc, event_date) per table (what a point-in-time query needs);
* a representative point-in-time query for every enterprise at one as-of date: eight features
  over four tables (window counts and sums, an "at as-of" amount, a latest value), written
  idiomatically for each engine (DuckDB: grouped join with FILTER and arg_max; SQLite: the
  same grouped joins with FILTER, and an indexed correlated subquery for the latest value);
* for DuckDB also the full platform pipeline (all physical-category features).

Usage: ``python experiments/bench_catalogue_store.py [--quick]`` (quick: 20k enterprises,
full: 100k). Writes experiments/results/bench_catalogue_store.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from experiments.synthetic_city.common import Timeline, rng_for, to_arrow  # noqa: E402
from experiments.synthetic_city.platform_tables import GENERATORS  # noqa: E402
from experiments.synthetic_city.population import make_population  # noqa: E402
from models.uscc import valid_mask  # noqa: E402
from platform_node.catalogue.schema import TABLES, FieldType, physical_tables  # noqa: E402
from platform_node.catalogue.store import CatalogueStore  # noqa: E402
from platform_node.features.pipeline import compute_features  # noqa: E402

RESULTS = ROOT / "experiments" / "results"
AS_OF = dt.date(2022, 1, 1)
SQLITE_TYPES = {
    FieldType.STR: "TEXT",
    FieldType.DATE: "TEXT",
    FieldType.INT: "INTEGER",
    FieldType.FLOAT: "REAL",
    FieldType.BOOL: "INTEGER",
}

DUCKDB_QUERY = """
WITH e AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.event_date >= q.as_of - INTERVAL 36 MONTH) AS enf_3y,
    coalesce(sum(t.amount) FILTER (WHERE t.closed_date IS NULL OR t.closed_date >= q.as_of), 0)
      AS enf_open
  FROM q LEFT JOIN enforcements t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid),
j AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.role = 'defendant'
      AND t.event_date >= q.as_of - INTERVAL 36 MONTH) AS def_3y,
    coalesce(sum(t.amount) FILTER (WHERE t.role = 'defendant'
      AND t.event_date >= q.as_of - INTERVAL 36 MONTH), 0) AS def_amt_3y
  FROM q LEFT JOIN judgments t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid),
a AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= q.as_of - INTERVAL 12 MONTH) AS pen_1y,
    count(t.uscc) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= q.as_of - INTERVAL 36 MONTH) AS pen_3y,
    coalesce(sum(t.fine_amount) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= q.as_of - INTERVAL 36 MONTH), 0) AS fines_3y
  FROM q LEFT JOIN admin_actions t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid),
r AS (
  SELECT q.qid, arg_max(t.revenue, t.report_year) AS revenue
  FROM q LEFT JOIN annual_reports t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid)
SELECT e.qid, enf_3y, enf_open, def_3y, def_amt_3y, pen_1y, pen_3y, fines_3y, revenue
FROM e JOIN j USING (qid) JOIN a USING (qid) JOIN r USING (qid) ORDER BY e.qid
"""

SQLITE_QUERY = """
WITH e AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.event_date >= date(q.as_of, '-36 months')) AS enf_3y,
    coalesce(sum(t.amount) FILTER (WHERE t.closed_date IS NULL OR t.closed_date >= q.as_of), 0)
      AS enf_open
  FROM q LEFT JOIN enforcements t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid),
j AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.role = 'defendant'
      AND t.event_date >= date(q.as_of, '-36 months')) AS def_3y,
    coalesce(sum(t.amount) FILTER (WHERE t.role = 'defendant'
      AND t.event_date >= date(q.as_of, '-36 months')), 0) AS def_amt_3y
  FROM q LEFT JOIN judgments t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid),
a AS (
  SELECT q.qid,
    count(t.uscc) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= date(q.as_of, '-12 months')) AS pen_1y,
    count(t.uscc) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= date(q.as_of, '-36 months')) AS pen_3y,
    coalesce(sum(t.fine_amount) FILTER (WHERE t.action_type = 'penalty'
      AND t.event_date >= date(q.as_of, '-36 months')), 0) AS fines_3y
  FROM q LEFT JOIN admin_actions t ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid)
SELECT e.qid, enf_3y, enf_open, def_3y, def_amt_3y, pen_1y, pen_3y, fines_3y,
  (SELECT t.revenue FROM annual_reports t WHERE t.uscc = q.uscc AND t.event_date < q.as_of
   ORDER BY t.report_year DESC LIMIT 1) AS revenue
FROM q JOIN e ON e.qid = q.qid JOIN j ON j.qid = q.qid JOIN a ON a.qid = q.qid ORDER BY e.qid
"""


def feeds(n: int, seed: int) -> dict[str, pa.Table]:
    tl = Timeline(AS_OF)
    pop = make_population(n, seed, tl)
    ctx: dict[str, object] = {}
    out = {}
    physical = set(physical_tables())
    for name, make in GENERATORS.items():
        cols = make(pop, tl, rng_for(seed, f"platform/{name}"), ctx)
        if name in physical:
            out[name] = to_arrow(TABLES[name], cols)
    return out


def _sqlite_rows(data: pa.Table) -> list[tuple[object, ...]]:
    columns = []
    for column, field in zip(data.columns, data.schema, strict=True):
        if field.type == pa.date32():
            columns.append([None if v is None else v.isoformat() for v in column.to_pylist()])
        else:
            columns.append(column.to_pylist())
    return list(zip(*columns, strict=True))


def sqlite_ingest(path: Path, data: dict[str, pa.Table]) -> float:
    start = time.perf_counter()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    for name, table in data.items():
        spec = TABLES[name]
        cols = ", ".join(f"{f.name} {SQLITE_TYPES[f.type]}" for f in spec.all_fields)
        con.execute(f"CREATE TABLE {name} ({cols})")
        keep = valid_mask(table.column("uscc").to_pylist()) & ~np.asarray(
            table.column("event_date").is_null()
        )
        rows = _sqlite_rows(table.filter(pa.array(keep)))
        marks = ", ".join("?" for _ in spec.all_fields)
        con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        con.execute(f"CREATE INDEX {name}_pit ON {name} (uscc, event_date)")
        con.commit()
    con.close()
    return time.perf_counter() - start


def sqlite_query(path: Path, usccs: np.ndarray) -> tuple[float, np.ndarray]:
    con = sqlite3.connect(path)
    start = time.perf_counter()
    con.execute("CREATE TEMP TABLE q (qid INTEGER PRIMARY KEY, uscc TEXT, as_of TEXT)")
    con.executemany(
        "INSERT INTO q VALUES (?, ?, ?)",
        [(i, u, AS_OF.isoformat()) for i, u in enumerate(usccs.tolist())],
    )
    rows = con.execute(SQLITE_QUERY).fetchall()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, np.array([r[1:] for r in rows], dtype=float)


def duckdb_query(store: CatalogueStore, usccs: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    con = store.connect(["enforcements", "judgments", "admin_actions", "annual_reports"])
    days = np.full(usccs.size, np.datetime64(AS_OF, "D")).astype(np.int64).astype(np.int32)
    q = pa.table(
        {
            "qid": np.arange(usccs.size),
            "uscc": pa.array(usccs, pa.string()),
            "as_of": pa.array(days, pa.date32()),
        }
    )
    con.register("q", q)
    rows = con.execute(DUCKDB_QUERY).fetchall()
    seconds = time.perf_counter() - start
    con.close()
    return seconds, np.array([r[1:] for r in rows], dtype=float)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20k enterprises instead of 100k")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    data = feeds(n, args.seed)
    records = sum(t.num_rows for t in data.values())
    with tempfile.TemporaryDirectory(prefix="store_bench_") as tmp:
        work = Path(tmp)
        store = CatalogueStore(work / "duck")
        start = time.perf_counter()
        for name, table in data.items():
            store.ingest(name, table)
        duck_ingest = time.perf_counter() - start
        duck_mb = sum(p.stat().st_size for p in (work / "duck").rglob("*.parquet")) / 1024**2
        sqlite_ingest_s = sqlite_ingest(work / "cat.sqlite", data)
        sqlite_mb = sum(p.stat().st_size for p in work.glob("cat.sqlite*")) / 1024**2
        usccs = np.asarray(data["licence"].column("uscc").to_pylist(), dtype=str)
        duck_q, duck_x = duckdb_query(store, usccs)
        lite_q, lite_x = sqlite_query(work / "cat.sqlite", usccs)
        same = bool(np.allclose(duck_x, lite_x, equal_nan=True))
        start = time.perf_counter()
        full = compute_features(store, usccs, AS_OF, threads=2)
        pipeline_s = time.perf_counter() - start
    result = {
        "benchmark": "catalogue_store",
        "quick": args.quick,
        "enterprises": n,
        "records": records,
        "tables": len(data),
        "cpus": os.cpu_count(),
        "sqlite_version": sqlite3.sqlite_version,
        "duckdb_parquet": {
            "ingest_s": round(duck_ingest, 2),
            "disk_mb": round(duck_mb, 1),
            "query_s": round(duck_q, 2),
            "full_pipeline_s": round(pipeline_s, 2),
            "full_pipeline_features": int(np.isfinite(full.X).any(axis=0).sum()),
        },
        "sqlite": {
            "ingest_s": round(sqlite_ingest_s, 2),
            "disk_mb": round(sqlite_mb, 1),
            "query_s": round(lite_q, 2),
        },
        "ratios_sqlite_over_duckdb": {
            "ingest": round(sqlite_ingest_s / duck_ingest, 2),
            "disk": round(sqlite_mb / duck_mb, 2),
            "query": round(lite_q / duck_q, 2),
        },
        "same_results": same,
        "note": "machine shared with other jobs; timings are upper bounds",
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_catalogue_store.json").write_text(json.dumps(result, indent=2) + "\n")
    d, s, r = result["duckdb_parquet"], result["sqlite"], result["ratios_sqlite_over_duckdb"]
    md = [
        "# Catalogue store: DuckDB over Parquet vs SQLite",
        "",
        f"{n:,} enterprises, {records:,} records in {len(data)} physical tables; "
        f"{os.cpu_count()} CPUs (shared machine); SQLite {sqlite3.sqlite_version}. "
        "Query: 8 point-in-time features over 4 tables for every enterprise at one as-of date "
        f"(results identical: {same}).",
        "",
        "| store | ingest s | disk MB | query s |",
        "|---|---|---|---|",
        f"| DuckDB over Parquet | {d['ingest_s']} | {d['disk_mb']} | {d['query_s']} |",
        f"| SQLite (indexed) | {s['ingest_s']} | {s['disk_mb']} | {s['query_s']} |",
        f"| ratio SQLite / DuckDB | {r['ingest']} | {r['disk']} | {r['query']} |",
        "",
        f"Full platform pipeline on DuckDB ({d['full_pipeline_features']} populated physical "
        f"features, all enterprises): {d['full_pipeline_s']} s.",
    ]
    (RESULTS / "bench_catalogue_store.md").write_text("\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
