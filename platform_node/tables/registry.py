"""The platform's served tables as numbered, immutable versions, changed while it runs.

Files: ``<data_dir>/served_tables/registry.sqlite`` (one row per version) and one snapshot per
version, ``<data_dir>/served_tables/<name>/v<N>.<csv|parquet>``, copied when the version is
added (0600 files, 0700 directories). What is served is the snapshot, so a later edit of the
operator's original file changes nothing until it is added again as a new version.

* :meth:`ServedTableRegistry.add` validates the file (:func:`~platform_node.tables.check_table`),
  snapshots it and makes it the name's active version (the previous one becomes
  ``superseded``); an invalid file is refused and nothing is recorded.
* :meth:`ServedTableRegistry.retire` stops serving a name (its versions stay for lineage).
* :meth:`ServedTableRegistry.sync` imports the tables of ``[platform.tables]`` at startup: a
  file whose content differs from its name's active version is added as a new version.

Readers (the running server) open the database per query: a version added or retired by
``fedcredit platform tables`` in another process is served from the next request on. Every
change is appended to the platform's audit log with both digests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.audit import Actor, AuditLog
from models.audit import events as ev
from models.errors import FailedPrecondition, InvalidArgument, NotFound
from platform_node.data_provider import CATALOGUE, ServedTable
from platform_node.tables.check import TableCheck, check_table

NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
ACTIVE, SUPERSEDED, RETIRED = "active", "superseded", "retired"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    path TEXT NOT NULL,
    id_column TEXT NOT NULL,
    exclude_columns TEXT NOT NULL,
    categorical_columns TEXT NOT NULL,
    id_format TEXT NOT NULL,
    source TEXT NOT NULL,
    file_digest TEXT NOT NULL,
    table_digest TEXT NOT NULL,
    n_rows INTEGER NOT NULL,
    n_features INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    status TEXT NOT NULL,
    retired_at TEXT,
    retired_by TEXT,
    PRIMARY KEY (name, version)
);
"""


@dataclass(frozen=True)
class TableVersion:
    """One registered version of a served table."""

    name: str
    version: int
    path: Path
    id_column: str
    exclude_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    id_format: str
    source: str
    file_digest: str
    table_digest: str
    n_rows: int
    n_features: int
    added_at: str
    added_by: str
    status: str
    retired_at: str | None = None
    retired_by: str | None = None

    def spec(self) -> ServedTable:
        """How the data provider loads this version (from its snapshot)."""
        return ServedTable(
            self.path, self.id_column, self.exclude_columns, self.categorical_columns
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "id_column": self.id_column,
            "id_format": self.id_format,
            "file_digest": self.file_digest,
            "table_digest": self.table_digest,
            "source": self.source,
            "added_at": self.added_at,
            "added_by": self.added_by,
            "retired_at": self.retired_at,
            "retired_by": self.retired_by,
        }


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name == CATALOGUE:
        raise InvalidArgument(
            "a served table's name is 1-64 lowercase letters, digits, '-' or '_', starting "
            "with a letter, and not 'catalogue'"
        )
    return name


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ServedTableRegistry:
    """Versions of the platform's served tables (see the module docstring).

    Parameters
    ----------
    data_dir:
        The platform's data directory.
    audit:
        The platform's audit log (every change is recorded); None only in tests of reading.
    actor:
        Who makes changes (the operator's OS account or the node itself).
    """

    def __init__(
        self, data_dir: Path, audit: AuditLog | None = None, actor: Actor | None = None
    ) -> None:
        self.root = Path(data_dir) / "served_tables"
        self.db_path = self.root / "registry.sqlite"
        self.audit = audit
        self.actor = actor

    # ------------------------------------------------------------------ storage
    def _connect(self) -> sqlite3.Connection:
        if not self.root.exists():
            self.root.mkdir(mode=0o700, parents=True)
        fresh = not self.db_path.exists()
        conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        if fresh:
            self.db_path.chmod(0o600)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        return conn

    @staticmethod
    def _row(r: tuple[object, ...]) -> TableVersion:
        return TableVersion(
            name=str(r[0]),
            version=int(r[1]),  # type: ignore[call-overload]
            path=Path(str(r[2])),
            id_column=str(r[3]),
            exclude_columns=tuple(json.loads(str(r[4]))),
            categorical_columns=tuple(json.loads(str(r[5]))),
            id_format=str(r[6]),
            source=str(r[7]),
            file_digest=str(r[8]),
            table_digest=str(r[9]),
            n_rows=int(r[10]),  # type: ignore[call-overload]
            n_features=int(r[11]),  # type: ignore[call-overload]
            added_at=str(r[12]),
            added_by=str(r[13]),
            status=str(r[14]),
            retired_at=None if r[15] is None else str(r[15]),
            retired_by=None if r[16] is None else str(r[16]),
        )

    def _select(self, where: str = "", args: tuple[object, ...] = ()) -> list[TableVersion]:
        if not self.db_path.exists():
            return []
        conn = self._connect()
        try:
            rows = conn.execute(
                f"SELECT * FROM versions {where} ORDER BY name, version", args
            ).fetchall()
        finally:
            conn.close()
        return [self._row(r) for r in rows]

    # ------------------------------------------------------------------ reading
    def versions(self, name: str | None = None) -> list[TableVersion]:
        """Every version (of ``name``), oldest first."""
        if name is None:
            return self._select()
        return self._select("WHERE name = ?", (name,))

    def active(self, name: str) -> TableVersion | None:
        """The version of ``name`` being served, or None (unknown or retired)."""
        found = self._select("WHERE name = ? AND status = ?", (name, ACTIVE))
        return found[-1] if found else None

    def active_names(self) -> list[str]:
        return sorted({v.name for v in self._select("WHERE status = ?", (ACTIVE,))})

    def version_for(self, name: str, table_digest: str) -> TableVersion | None:
        """The version of ``name`` whose served table has ``table_digest`` (for lineage)."""
        found = self._select("WHERE name = ? AND table_digest = ?", (name, table_digest))
        return found[-1] if found else None

    # ------------------------------------------------------------------ changes
    def add(
        self,
        name: str,
        source: Path,
        *,
        id_column: str = "id",
        exclude_columns: tuple[str, ...] = (),
        categorical_columns: tuple[str, ...] = (),
        id_format: str = "auto",
        max_missing_ratio: float = 0.95,
    ) -> tuple[TableVersion, TableCheck]:
        """Validate ``source`` and make it the active version of ``name`` (see module doc).

        Raises :class:`InvalidArgument` (with the operator-facing problems) if the file does
        not pass :func:`check_table`; nothing is recorded then.
        """
        check_name(name)
        source = Path(source)
        if not source.is_file():
            raise NotFound(f"no such file: {source}")
        suffix = source.suffix.lower()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")  # one writer: version numbers never collide
            last = conn.execute(
                "SELECT MAX(version) FROM versions WHERE name = ?", (name,)
            ).fetchone()[0]
            version = int(last or 0) + 1
            folder = self.root / name
            folder.mkdir(mode=0o700, exist_ok=True)
            snapshot = folder / f"v{version}{suffix}"
            shutil.copyfile(source, snapshot)
            snapshot.chmod(0o600)
            spec = ServedTable(snapshot, id_column, exclude_columns, categorical_columns)
            report = check_table(spec, id_format=id_format, max_missing_ratio=max_missing_ratio)
            if not report.ok:
                conn.execute("ROLLBACK")
                snapshot.unlink(missing_ok=True)
                raise InvalidArgument(
                    f"served table {name!r} refused: " + "; ".join(report.problems)
                )
            who = self.actor.party if self.actor is not None else "platform"
            record = TableVersion(
                name=name,
                version=version,
                path=snapshot,
                id_column=id_column,
                exclude_columns=tuple(exclude_columns),
                categorical_columns=tuple(categorical_columns),
                id_format=report.id_format,
                source=str(source.resolve()),
                file_digest=file_digest(snapshot),
                table_digest=report.table_digest,
                n_rows=report.n_rows,
                n_features=report.n_features,
                added_at=_now(),
                added_by=who,
                status=ACTIVE,
            )
            conn.execute(
                "UPDATE versions SET status = ? WHERE name = ? AND status = ?",
                (SUPERSEDED, name, ACTIVE),
            )
            conn.execute(
                "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.name,
                    record.version,
                    str(record.path),
                    record.id_column,
                    json.dumps(list(record.exclude_columns)),
                    json.dumps(list(record.categorical_columns)),
                    record.id_format,
                    record.source,
                    record.file_digest,
                    record.table_digest,
                    record.n_rows,
                    record.n_features,
                    record.added_at,
                    record.added_by,
                    record.status,
                    None,
                    None,
                ),
            )
            self._audit(
                ev.SERVED_TABLE_ADDED,
                {
                    "dataset": name,
                    "table_version": version,
                    "file_digest": record.file_digest,
                    "table_digest": record.table_digest,
                    "n_rows": record.n_rows,
                    "n_features": record.n_features,
                },
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return record, report

    def retire(self, name: str) -> TableVersion:
        """Stop serving ``name``; returns the version that was active."""
        check_name(name)
        current = self.active(name)
        if current is None:
            raise FailedPrecondition(f"served table {name!r} has no active version")
        conn = self._connect()
        try:
            who = self.actor.party if self.actor is not None else "platform"
            conn.execute(
                "UPDATE versions SET status = ?, retired_at = ?, retired_by = ? "
                "WHERE name = ? AND version = ?",
                (RETIRED, _now(), who, name, current.version),
            )
        finally:
            conn.close()
        self._audit(
            ev.SERVED_TABLE_RETIRED,
            {"dataset": name, "table_version": current.version},
        )
        return current

    def sync(self, tables: Mapping[str, ServedTable]) -> list[TableVersion]:
        """Register configured tables whose file differs from their active version (at
        startup); returns the versions added. A configured table that fails its check stops
        the start with the operator-facing reason."""
        added = []
        for name, spec in sorted(tables.items()):
            current = self.active(name)
            path = Path(spec.path)
            if not path.is_file():
                raise NotFound(f"served table {name!r}: no such file: {path}")
            if (
                current is not None
                and current.file_digest == file_digest(path)
                and current.id_column == spec.id_column
                and current.exclude_columns == tuple(spec.exclude_columns)
                and current.categorical_columns == tuple(spec.categorical_columns)
            ):
                continue
            version, _ = self.add(
                name,
                path,
                id_column=spec.id_column,
                exclude_columns=tuple(spec.exclude_columns),
                categorical_columns=tuple(spec.categorical_columns),
            )
            added.append(version)
        return added

    def _audit(self, event: str, details: Mapping[str, object]) -> None:
        if self.audit is not None:
            self.audit.append(event, self.actor, dict(details))
