"""Records left out of the platform's features: disputed with an exclusion request, or corrected.

:func:`record_id` names a catalogue record (the first 16 hex digits of the SHA-256 of its
table name and canonical values); :func:`excluded_rows` returns, per table, the full rows the
objections store says to leave out, which
:func:`platform_node.features.pipeline.compute_features` removes (``EXCEPT ALL``) before
aggregating. Reads only: the objections database is opened read-only, and a platform without
one excludes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from models.errors import FedCreditError

OBJECTIONS_DB = Path("objections") / "objections.db"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def record_id(table: str, row: dict[str, Any]) -> str:
    canon = json.dumps({k: _text(v) for k, v in sorted(row.items())}, ensure_ascii=False)
    return hashlib.sha256(f"{table}\0{canon}".encode()).hexdigest()[:16]


def exclusions_stamp(data_dir: Path) -> str:
    """Changes whenever the objections change (mtime and size of the database and of its
    write-ahead log, where SQLite writes first): feature tables cached by the platform include
    it in their key, so a change is used at once."""
    db = Path(data_dir) / OBJECTIONS_DB
    parts = []
    for path in (db, db.with_name(db.name + "-wal")):
        try:
            st = path.stat()
        except OSError:
            continue
        parts.append(f"{st.st_mtime_ns}:{st.st_size}")
    return "/".join(parts)


def excluded_ids(data_dir: Path) -> dict[str, dict[str, set[str]]]:
    """``{table: {uscc: {record id}}}`` to leave out (open with a request, or corrected)."""
    path = Path(data_dir) / OBJECTIONS_DB
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT table_name, uscc, record_id FROM objections WHERE state = 'corrected'"
            " OR (exclude_requested = 1 AND state IN ('submitted', 'in_review'))"
        ).fetchall()
    finally:
        conn.close()
    out: dict[str, dict[str, set[str]]] = {}
    for table_name, uscc, rid in rows:
        out.setdefault(table_name, {}).setdefault(uscc, set()).add(rid)
    return out


def excluded_rows(data_dir: Path) -> dict[str, pa.Table]:
    """``{table: rows}``: the catalogue rows to leave out, with every column of the table."""
    from platform_node.catalogue.store import CatalogueStore

    ids = excluded_ids(data_dir)
    if not ids:
        return {}
    store = CatalogueStore(Path(data_dir))
    out: dict[str, pa.Table] = {}
    for table_name, by_company in ids.items():
        try:
            rows = store.read(table_name, np.array(sorted(by_company)))
        except (KeyError, FedCreditError):  # not a catalogue table (anymore)
            continue
        keep = [
            record_id(table_name, row) in by_company.get(str(row["uscc"]), set())
            for row in rows.to_pylist()
        ]
        picked = rows.filter(pa.array(keep, pa.bool_()))
        if picked.num_rows:
            out[table_name] = picked
    return out
