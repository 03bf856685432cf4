"""A rebuildable SQLite index over one audit log, so that reads need not parse the whole log.

The log (``audit.jsonl``) stays the only record: the index (``audit.index.sqlite`` next to it)
holds, per entry, its byte offset and length and the fields that filters use (event, job id,
model id, ``NAME@VERSION``, USCC, and every party the entry concerns, see
:func:`models.audit.query.entry_parties`). A query selects sequence numbers and offsets in
SQL, then reads and parses only those lines from the log, checking that each line is the entry
the index names; anything inconsistent (a log that shrank, was replaced, or an index that does
not match it) makes the index rebuild itself from the log. Entries are appended to the index
lazily, on the next read, so appending to the log costs nothing extra.

Results equal :func:`models.audit.query.query` over :func:`models.audit.log.read_entries`
(tested); like those, entries are not verified here (``verify`` does that, and remote readers
check every signature).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from models.audit.entry import LogEntry
from models.audit.keys import PathLike
from models.audit.query import entry_parties

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    event TEXT NOT NULL, job_id TEXT, model_id TEXT, model_ref TEXT, uscc TEXT
);
CREATE TABLE IF NOT EXISTS parties (
    seq INTEGER NOT NULL, party TEXT NOT NULL, PRIMARY KEY (seq, party)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parties_by_party ON parties (party, seq);
CREATE INDEX IF NOT EXISTS entries_by_job ON entries (job_id, seq);
CREATE INDEX IF NOT EXISTS entries_by_model ON entries (model_id, seq);
CREATE INDEX IF NOT EXISTS entries_by_ref ON entries (model_ref, seq);
CREATE INDEX IF NOT EXISTS entries_by_event ON entries (event, seq);
CREATE INDEX IF NOT EXISTS entries_by_uscc ON entries (uscc, seq);
"""
_READ_CHUNK = 8 << 20


def index_path(log_path: PathLike) -> Path:
    path = Path(log_path)
    return path.with_name(f"{path.stem}.index.sqlite")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _Stale(Exception):
    """The index does not describe the log as it is now."""


class AuditIndex:
    """The index of the log at ``log_path`` (created on first use; safe across threads and
    processes: SQLite serialises writers, and rows are keyed by sequence number)."""

    def __init__(self, log_path: PathLike) -> None:
        self.log_path = Path(log_path)
        self.path = index_path(self.log_path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- keeping up with the log ----------------------------------------------------------------
    def _meta(self, db: sqlite3.Connection, key: str) -> str:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def _first_line(self) -> bytes:
        try:
            with open(self.log_path, "rb") as fh:
                return fh.readline(1 << 20)
        except FileNotFoundError:
            return b""

    def _clear(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM entries")
        db.execute("DELETE FROM parties")
        db.execute("DELETE FROM meta")

    def refresh(self) -> int:
        """Index what was appended since the last call (rebuild if the log changed under it);
        returns the last indexed sequence number."""
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            try:
                size = self.log_path.stat().st_size
            except FileNotFoundError:
                size = 0
            offset = int(self._meta(db, "offset") or 0)
            first = self._first_line()
            if size < offset or (offset and first.hex() != self._meta(db, "first_line")):
                self._clear(db)
                offset = 0
            if size > offset:
                offset = self._index_from(db, offset, size)
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('offset', ?), ('first_line', ?)",
                    (str(offset), first.hex()),
                )
            row = db.execute("SELECT MAX(seq) FROM entries").fetchone()
        return int(row[0] or 0)

    def _index_from(self, db: sqlite3.Connection, offset: int, size: int) -> int:
        with open(self.log_path, "rb") as fh:
            while offset < size:
                fh.seek(offset)
                chunk = fh.read(min(_READ_CHUNK, size - offset))
                end = chunk.rfind(b"\n")
                if end < 0:
                    if len(chunk) < _READ_CHUNK:
                        break  # an incomplete last line: index it once it is complete
                    raise _Stale("an audit line is longer than the read chunk")
                rows, party_rows = [], []
                pos = 0
                for line in chunk[: end + 1].split(b"\n")[:-1]:
                    start, pos = offset + pos, pos + len(line) + 1
                    try:
                        e = LogEntry.from_json_line(line)
                    except ValueError:
                        continue  # unreadable lines are skipped, as read_entries does
                    d = e.details
                    name, version = d.get("model_name"), d.get("model_version")
                    ref = f"{name}@{version}" if name is not None and version is not None else None
                    rows.append(
                        (
                            e.seq,
                            start,
                            len(line),
                            e.event,
                            _text(d.get("job_id")),
                            _text(d.get("model_id")),
                            ref,
                            _text(d.get("uscc")),
                        )
                    )
                    party_rows += [(e.seq, p) for p in entry_parties(e)]
                db.executemany("INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?)", rows)
                db.executemany("INSERT OR IGNORE INTO parties VALUES (?, ?)", party_rows)
                offset += end + 1
        return offset

    # -- reading ----------------------------------------------------------------------------------
    def query(
        self,
        *,
        event: str = "",
        party: str = "",
        model_id: str = "",
        job_id: str = "",
        uscc: str = "",
        after_seq: int = 0,
        limit: int = 0,
        visible_to: str | None = None,
    ) -> list[LogEntry]:
        """Entries in log order matching every non-empty filter, as
        :func:`models.audit.query.query`; ``visible_to`` (a party) keeps only the entries that
        concern it (``None``: all, as for the regulator)."""
        with self._lock:
            for attempt in range(2):
                self.refresh()
                try:
                    return self._select(
                        event, party, model_id, job_id, uscc, after_seq, limit, visible_to
                    )
                except _Stale:
                    if attempt:
                        raise
                    db = self._conn()
                    with db:
                        self._clear(db)
        raise AssertionError("unreachable")

    def last_seq(self, visible_to: str | None = None) -> int:
        """The last sequence number of the log, or with ``visible_to`` (a party) of the last
        entry that concerns that party (0 when none does)."""
        with self._lock:
            last = self.refresh()
            if visible_to is None:
                return last
            row = (
                self._conn()
                .execute("SELECT MAX(seq) FROM parties WHERE party = ?", (visible_to,))
                .fetchone()
            )
            return int(row[0] or 0)

    def _select(
        self,
        event: str,
        party: str,
        model_id: str,
        job_id: str,
        uscc: str,
        after_seq: int,
        limit: int,
        visible_to: str | None,
    ) -> list[LogEntry]:
        where: list[str] = ["seq > ?"]
        args: list[str | int] = [after_seq]
        if event.endswith("*"):
            where.append("substr(event, 1, ?) = ?")
            args += [len(event) - 1, event[:-1]]
        elif event:
            where.append("event = ?")
            args.append(event)
        if job_id:
            where.append("job_id = ?")
            args.append(job_id)
        if model_id:
            where.append("(model_id = ? OR model_ref = ?)")
            args += [model_id, model_id]
        if uscc:
            where.append("uscc = ?")
            args.append(uscc)
        concerns = "EXISTS (SELECT 1 FROM parties p WHERE p.seq = entries.seq AND p.party = ?)"
        if party:
            where.append(concerns)
            args.append(party)
        if visible_to is not None:  # "" (no party) sees nothing: no entry concerns ""
            where.append(concerns)
            args.append(visible_to)
        sql = f"SELECT seq, offset, length FROM entries WHERE {' AND '.join(where)} ORDER BY seq"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self._conn().execute(sql, args).fetchall()
        out: list[LogEntry] = []
        if not rows:
            return out
        fd = os.open(self.log_path, os.O_RDONLY)
        try:
            for seq, offset, length in rows:
                line = os.pread(fd, length, offset)
                try:
                    entry = LogEntry.from_json_line(line)
                except ValueError:
                    raise _Stale("the index points at an unreadable line") from None
                if entry.seq != seq:
                    raise _Stale("the index points at another entry")
                out.append(entry)
        finally:
            os.close(fd)
        return out
