"""A node's private SQLite database: 0700 directory, 0600 files (with its WAL and shared-memory
files), WAL journal, one lock, write transactions that queue (``BEGIN IMMEDIATE``).

The node stores that keep their own tables (the platform's alert events and watches, the
white list, the bank's received alerts) derive from :class:`PrivateDb` and add their queries.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def make_private(path: Path) -> None:
    """0600 on the database and its ``-wal`` / ``-shm`` files (those that exist)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            os.chmod(p, 0o600)


class PrivateDb:
    """Open (creating if needed) the database at ``path`` with ``schema`` (see module doc).

    Parameters
    ----------
    path:
        The database file; its directory is created 0700.
    schema:
        SQL run once at open (``CREATE TABLE IF NOT EXISTS ...``).
    timeout:
        Seconds a writer waits for another process's lock.
    synchronous:
        ``PRAGMA synchronous`` (e.g. ``"NORMAL"``; None keeps SQLite's default, FULL).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: str,
        *,
        timeout: float = 30.0,
        synchronous: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path.parent, 0o700)
        if not self.path.exists():  # created private: never readable by others, not even once
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=timeout)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            if synchronous is not None:
                self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.executescript(schema)
            self._conn.commit()
        make_private(self.path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue up, readers go on)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, list(args)).fetchall())
