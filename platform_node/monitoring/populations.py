"""The differencing rule's memory: populations a bank already used, kept across restarts.

:class:`PopulationGuard` refuses a population that differs from one already used under the
same key (bank, dataset, categories, dates, bins) by fewer than ``min_difference`` companies,
and more than ``POPULATIONS_PER_KEY`` different populations per key (so a bank cannot push an
earlier population out with decoys). With a :class:`PopulationStore` the populations are kept
in ``<platform data>/monitoring/populations.db`` (:class:`~models.private_db.PrivateDb`: WAL,
0600 files, 0700 directory), so a platform restart does not forget them.

What is stored: per key, each population as the sorted set of *keyed hashes* of its members
(BLAKE2b, 16 bytes, under a salt private to the platform kept in the same file), never the
USCCs in clear; set differences of hashed sets equal those of the USCCs. Keys hold the bank's
party, the dataset, categories, dates and bins (no company). The ``KEYS_KEPT`` most recently
used keys are kept (older ones are forgotten, as in memory before).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from models.errors import FailedPrecondition
from models.private_db import PrivateDb

DB_NAME = "populations.db"
KEYS_KEPT = 512
POPULATIONS_PER_KEY = 32
HASH_BYTES = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS guard_keys (key TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS populations (
    key     TEXT NOT NULL,
    digest  TEXT NOT NULL,
    members BLOB NOT NULL,
    PRIMARY KEY (key, digest)
);
"""


def key_text(key: tuple[str, ...]) -> str:
    return "\x1f".join(key)


class PopulationStore(PrivateDb):
    """Hashed populations per key (see the module docstring). Thread-safe."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, _SCHEMA)
        with self.tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None:
                value = secrets.token_hex(32)
                conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?)", (value,))
            else:
                value = row["value"]
        self._salt = bytes.fromhex(value)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> PopulationStore:
        return cls(Path(data_dir) / "monitoring" / DB_NAME)

    def hash_members(self, usccs: Iterable[str]) -> frozenset[bytes]:
        return frozenset(
            hashlib.blake2b(u.encode(), key=self._salt, digest_size=HASH_BYTES).digest()
            for u in usccs
        )

    def populations(self, key: str) -> list[frozenset[bytes]]:
        rows = self._read("SELECT members FROM populations WHERE key = ? ORDER BY rowid", (key,))
        out = []
        for r in rows:
            blob = bytes(r["members"])
            out.append(frozenset(blob[i : i + HASH_BYTES] for i in range(0, len(blob), HASH_BYTES)))
        return out

    def add(self, key: str, members: frozenset[bytes] | None) -> None:
        """Record that ``key`` was used now, with a new population ``members`` (if given);
        forget the least recently used keys beyond ``KEYS_KEPT``."""
        with self.tx() as conn:
            used = conn.execute("SELECT COALESCE(MAX(used), 0) + 1 FROM guard_keys").fetchone()[0]
            conn.execute(
                "INSERT INTO guard_keys (key, used) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET used = excluded.used",
                (key, used),
            )
            if members is not None:
                blob = b"".join(sorted(members))
                conn.execute(
                    "INSERT OR IGNORE INTO populations (key, digest, members) VALUES (?, ?, ?)",
                    (key, hashlib.sha256(blob).hexdigest(), blob),
                )
            stale = [
                r[0]
                for r in conn.execute(
                    "SELECT key FROM guard_keys ORDER BY used DESC LIMIT -1 OFFSET ?", (KEYS_KEPT,)
                )
            ]
            for k in stale:
                conn.execute("DELETE FROM populations WHERE key = ?", (k,))
                conn.execute("DELETE FROM guard_keys WHERE key = ?", (k,))


class PopulationGuard:
    """Refuses populations too close to one already used under the same key.

    At most ``POPULATIONS_PER_KEY`` different populations per key are answered (the same one
    again always is). Keys are kept LRU (``KEYS_KEPT``). With a ``store`` every population is
    persisted (hashed) before it is answered, and a key not in memory is read from it, so the
    rule survives a restart; without one it is kept in memory only.
    """

    def __init__(self, min_difference: int, store: PopulationStore | None = None) -> None:
        self.min_difference = min_difference
        self.store = store
        self._seen: OrderedDict[tuple[str, ...], list[frozenset[str] | frozenset[bytes]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def admit(self, key: tuple[str, ...], population: frozenset[str]) -> None:
        with self._lock:
            members: frozenset[str] | frozenset[bytes] = population
            earlier = self._seen.get(key)
            if self.store is not None:
                members = self.store.hash_members(population)
                if earlier is None:
                    earlier = list(self.store.populations(key_text(key)))
            earlier = earlier or []
            for old in earlier:
                diff = len(old ^ members)
                if 0 < diff < self.min_difference:
                    raise FailedPrecondition(
                        "the population differs from one already used with these dates by too"
                        " few companies"
                    )
            new = members not in earlier
            if new:
                if len(earlier) >= POPULATIONS_PER_KEY:  # refused, not forgotten: no decoys
                    raise FailedPrecondition(
                        "too many different populations were already used with these dates"
                    )
                earlier = [*earlier, members]
            if self.store is not None:
                self.store.add(key_text(key), members if new else None)  # type: ignore[arg-type]
            self._seen[key] = earlier
            self._seen.move_to_end(key)
            while len(self._seen) > KEYS_KEPT:
                self._seen.popitem(last=False)
