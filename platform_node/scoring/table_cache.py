"""A bounded cache of built tables: LRU by count and bytes, one build per key, builds per party.

Feature tables are built per (dataset, bank, as-of date). A bank that asks for a new date on
every request must neither stall the others nor grow the platform's memory:

- a cached table is served at once, whatever is being built meanwhile: there is no global
  build lock, each key has its own (concurrent requests for one key wait for one build);
- at most ``concurrent_builds`` builds run at a time on the node, and one per party;
- a party may start ``build_burst`` builds at once and then ``builds_per_s`` per second (a token
  bucket); past that its requests for new dates are ``RESOURCE_EXHAUSTED`` (cached dates are
  still served);
- the cache holds at most ``max_tables`` tables and ``max_bytes`` bytes, and a party at most
  ``max_tables_per_party`` (a party's new table evicts its own least recently used one first,
  so one bank's dates do not push out another's).

Configured in ``[platform.feature_tables]`` (:meth:`TableCacheConfig.from_mapping`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Generic, TypeVar

from models.errors import InvalidArgument, ResourceExhausted

V = TypeVar("V")


@dataclass(frozen=True)
class TableCacheConfig:
    max_tables: int = 16
    max_bytes: int = 512 << 20
    max_tables_per_party: int = 4
    builds_per_s: float = 0.2
    build_burst: int = 4
    concurrent_builds: int = 2

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> TableCacheConfig:
        raw = dict(raw or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise InvalidArgument(f"unknown feature_tables settings: {', '.join(unknown)}")
        updates: dict[str, Any] = {}
        for name, value in raw.items():
            if name == "builds_per_s":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
                if not ok:
                    raise InvalidArgument("feature_tables.builds_per_s must be a positive number")
                updates[name] = float(value)
            else:
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise InvalidArgument(f"feature_tables.{name} must be a positive integer")
                updates[name] = value
        return replace(cls(), **updates)


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@dataclass
class _Entry(Generic[V]):
    value: V
    party: str
    nbytes: int


class TableCache(Generic[V]):
    """See the module docstring. ``size_of`` estimates a value's bytes."""

    def __init__(
        self,
        config: TableCacheConfig | None = None,
        *,
        size_of: Callable[[V], int],
        clock: Callable[[], float] = time.monotonic,
        limit_builds: bool = True,
    ) -> None:
        self.config = config or TableCacheConfig()
        self._size_of = size_of
        self._clock = clock
        self._limit_builds = limit_builds
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()
        self._bytes = 0
        self._building: dict[Hashable, _Pending] = {}
        self._party_building: dict[str, int] = {}
        self._tokens: dict[str, tuple[float, float]] = {}  # party -> (tokens, at)
        self._slots = threading.Semaphore(self.config.concurrent_builds)
        self.builds = 0
        self.refused = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def get(self, key: Hashable, party: str, build: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``build()``'s (charged to ``party``)."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit.value
            pending = self._building.get(key)
            owner = pending is None
            if pending is None:
                self._admit_build(party)
                pending = self._building[key] = _Pending()
                self._party_building[party] = self._party_building.get(party, 0) + 1
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            value: V = pending.value
            return value
        try:
            with self._slots:
                value = build()
        except BaseException as err:
            pending.error = err
            self._finish(key, party, pending)
            raise
        nbytes = int(self._size_of(value))
        with self._lock:
            self._insert(key, _Entry(value, party, nbytes))
        pending.value = value
        self._finish(key, party, pending)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    # -- internals (``_admit_build`` and ``_insert`` run under the lock) -------------------------
    def _admit_build(self, party: str) -> None:
        if not self._limit_builds:
            return
        cfg = self.config
        if self._party_building.get(party, 0) >= 1:
            self.refused += 1
            raise ResourceExhausted("a table for another date is being built for this party")
        now = self._clock()
        tokens, at = self._tokens.get(party, (float(cfg.build_burst), now))
        tokens = min(float(cfg.build_burst), tokens + (now - at) * cfg.builds_per_s)
        if tokens < 1.0:
            self._tokens[party] = (tokens, now)
            self.refused += 1
            raise ResourceExhausted("too many new scoring dates from this party; retry later")
        self._tokens[party] = (tokens - 1.0, now)

    def _insert(self, key: Hashable, entry: _Entry[V]) -> None:
        cfg = self.config
        if entry.nbytes > cfg.max_bytes:
            return  # served to the waiting requests, never cached
        self._entries[key] = entry
        self._bytes += entry.nbytes
        own = [k for k, e in self._entries.items() if e.party == entry.party]
        for k in own[: max(0, len(own) - cfg.max_tables_per_party)]:
            self._evict(k)
        while len(self._entries) > cfg.max_tables or self._bytes > cfg.max_bytes:
            self._evict(next(iter(self._entries)))

    def _evict(self, key: Hashable) -> None:
        gone = self._entries.pop(key)
        self._bytes -= gone.nbytes

    def _finish(self, key: Hashable, party: str, pending: _Pending) -> None:
        with self._lock:
            self._building.pop(key, None)
            left = self._party_building.get(party, 1) - 1
            if left:
                self._party_building[party] = left
            else:
                self._party_building.pop(party, None)
        pending.done.set()
