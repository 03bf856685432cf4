"""The platform's embedded analytical store: Parquet files per table, queried with DuckDB.

Layout under the platform data directory ``root``::

    root/catalogue/<table>/part-00000.parquet   records of a physical-aggregation table
    root/catalogue/ingest_log.jsonl             one line per ingested feed (counts, no values)

A feed is ingested by :meth:`CatalogueStore.ingest`: its columns are checked against the
catalogue schema, rows with an invalid USCC or no event date are rejected and counted, and the
accepted rows are appended as a new Parquet part. Interface-call tables are never stored here
(see :mod:`platform_node.catalogue.providers`). See docs/data.md for why DuckDB over Parquet,
and for the path to a server database in production.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from models.errors import InvalidArgument
from models.uscc import valid_mask
from platform_node.catalogue.schema import (
    CATEGORIES,
    CATEGORY_OF_TABLE,
    FieldType,
    SharingMode,
    TableSpec,
    category,
    table,
)

SQL_TYPES = {
    FieldType.STR: "VARCHAR",
    FieldType.DATE: "DATE",
    FieldType.INT: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.BOOL: "BOOLEAN",
}


@dataclass(frozen=True)
class IngestReport:
    """Counts for one ingested feed (never any record value)."""

    table: str
    source: str
    received: int
    accepted: int
    rejected_invalid_code: int
    rejected_missing_date: int

    @property
    def rejected(self) -> int:
        return self.rejected_invalid_code + self.rejected_missing_date

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def conform(spec: TableSpec, data: pa.Table | pd.DataFrame) -> pa.Table:
    """Return ``data`` with exactly the columns of ``spec``, cast to the schema types.

    Raises
    ------
    InvalidArgument
        When ``uscc`` or ``event_date`` is missing, a column is not in the schema, or a column
        cannot be cast to its type.
    """
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    names = set(data.column_names)
    for required in ("uscc", "event_date"):
        if required not in names:
            raise InvalidArgument(f"feed lacks the required column {required!r}")
    known = {f.name for f in spec.all_fields}
    unknown = sorted(names - known)
    if unknown:
        raise InvalidArgument(f"feed has columns outside the catalogue schema: {unknown}")
    arrays = []
    for f in spec.all_fields:
        if f.name not in names:
            arrays.append(pa.nulls(data.num_rows, type=f.type.arrow()))
            continue
        column = data.column(f.name)
        try:
            arrays.append(column.cast(f.type.arrow()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InvalidArgument(f"feed column {f.name!r} is not of type {f.type.value}") from None
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema())


def empty_view_sql(spec: TableSpec) -> str:
    cols = ", ".join(f"CAST(NULL AS {SQL_TYPES[f.type]}) AS {f.name}" for f in spec.all_fields)
    return f"SELECT {cols} LIMIT 0"


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class CatalogueStore:
    """Raw catalogue records of the physical-aggregation categories (DuckDB over Parquet)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "catalogue"

    # ------------------------------------------------------------------ ingestion

    def ingest(
        self, table_name: str, data: pa.Table | pd.DataFrame, source: str = ""
    ) -> IngestReport:
        """Validate a feed and append its accepted rows; invalid rows are rejected and counted.

        Parameters
        ----------
        table_name:
            Catalogue table the feed belongs to (a physical-aggregation table).
        data:
            The feed, with ``uscc``, ``event_date`` and any of the table's fields.
        source:
            Name of the providing agency or feed (kept in the ingest log).
        """
        spec = table(table_name)
        if category(CATEGORY_OF_TABLE[table_name]).sharing is not SharingMode.PHYSICAL_AGGREGATION:
            raise InvalidArgument("interface-call tables are fetched from providers, not stored")
        records = conform(spec, data)
        codes = records.column("uscc").to_numpy(zero_copy_only=False)
        code_ok = valid_mask(codes)
        date_ok = ~np.asarray(records.column("event_date").is_null().to_numpy(zero_copy_only=False))
        keep = code_ok & date_ok
        accepted = records.filter(pa.array(keep))
        if accepted.num_rows:
            target = self.dir / table_name
            target.mkdir(parents=True, exist_ok=True)
            part = len(list(target.glob("part-*.parquet")))
            pq.write_table(accepted, target / f"part-{part:05d}.parquet", compression="zstd")
        report = IngestReport(
            table=table_name,
            source=source or table_name,
            received=records.num_rows,
            accepted=int(keep.sum()),
            rejected_invalid_code=int((~code_ok).sum()),
            rejected_missing_date=int((code_ok & ~date_ok).sum()),
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "ingest_log.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(report.to_dict(), sort_keys=True) + "\n")
        return report

    def ingest_log(self) -> list[IngestReport]:
        path = self.dir / "ingest_log.jsonl"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [IngestReport(**json.loads(line)) for line in lines if line.strip()]

    # ------------------------------------------------------------------ reading

    def parts(self, table_name: str) -> list[Path]:
        table(table_name)
        return sorted((self.dir / table_name).glob("part-*.parquet"))

    def tables_present(self) -> list[str]:
        return [
            t.name
            for c in CATEGORIES
            if c.sharing is SharingMode.PHYSICAL_AGGREGATION
            for t in c.tables
            if self.parts(t.name)
        ]

    def row_count(self, table_name: str) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.parts(table_name))

    def read(
        self,
        table_name: str,
        usccs: np.ndarray | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Records of a table (optionally only some enterprises and columns), as Arrow."""
        spec = table(table_name)
        schema = spec.arrow_schema()
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        parts = self.parts(table_name)
        if not parts:
            return schema.empty_table()
        data = pa.concat_tables(
            [pq.read_table(p, columns=schema.names).cast(schema) for p in parts]
        )
        if usccs is not None:
            data = data.filter(pc.is_in(data.column("uscc"), pa.array(np.asarray(usccs, str))))
        return data

    def connect(
        self, tables: list[str] | None = None, threads: int | None = None
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per physical table.

        A table without data becomes an empty view of the right schema, so feature queries
        run (and yield missing values) when a whole category is absent.
        """
        con = duckdb.connect()
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        names = tables if tables is not None else [
            t.name for c in CATEGORIES if c.sharing is SharingMode.PHYSICAL_AGGREGATION
            for t in c.tables
        ]  # fmt: skip
        for name in names:
            spec = table(name)
            parts = self.parts(name)
            if parts:
                files = "[" + ", ".join(_quote(p) for p in parts) + "]"
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files})")
            else:
                con.execute(f"CREATE VIEW {name} AS {empty_view_sql(spec)}")
        return con
