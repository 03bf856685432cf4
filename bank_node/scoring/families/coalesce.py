"""Concurrent officer requests of one model share one platform call.

A request that finds fewer than ``max_in_flight`` platform calls of its model in flight sends
everything queued so far with the same batch key (scoring date, and whatever else must be
equal within one platform request), up to ``limit`` companies; the others wait for their
answer. A lone request is sent at once (no waiting for company). With ``full`` set, a second
(third, ...) call may leave while another is in flight only with whole batches of ``full``
items (for trees: whole ciphertext groups, so a pipelined call never pays a ciphertext for one
company); a partial batch waits until no call of its key is in flight. With ``linger_s`` set, a
call that could leave lingers while it is smaller than the concurrency seen lately (the most
requests inside :meth:`Coalescer.submit` at once over the last quarter to half second, less
the companies already in flight), for at most ``linger_s`` after its slot came free (the
previous call answered) or its oldest request queued, whichever is later: with 8 officers
the requests that just got their answers are on their way back, and a call that waits a few
milliseconds for them carries up to twice the companies, so the per-call work of both nodes
(transport, audit flush, consent query, the family's crypto per call) is paid less often. A
lone officer's request never lingers (the concurrency seen is one), nor does a call after one
that went alone (when the officers leave, one call waits in vain, the next one does not). The
platform sees the same companies, request ids and per-company verdicts as with one call per
company; each company keeps its own answer (a refusal of one does not touch the others), and
an error of the whole call is every waiting request's error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)  # identity: an item may hold arrays
class _Pending(Generic[T, R]):
    key: Hashable
    item: T
    queued_at: float = field(default_factory=time.monotonic)
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class Coalescer(Generic[T, R]):
    """Batches concurrent calls of one model into few platform calls.

    Parameters
    ----------
    send:
        Sends one batch (items with one key) and returns, per item in order, its result or
        the exception of that item alone; raising fails the whole batch.
    limit:
        Most items per call.
    max_in_flight:
        Calls in flight at once (each carries every request queued when it leaves).
    full:
        With a call already in flight, another leaves only with a multiple of ``full``
        items (None: with whatever is queued).
    linger_s:
        Longest a call that could leave waits for the requests the recent concurrency says
        are coming, counted from when its slot came free or its oldest request queued,
        whichever is later (0: never waits).
    """

    #: Seconds over which the concurrency seen is remembered (two such windows).
    WINDOW_S = 0.25

    def __init__(
        self,
        send: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        limit: int,
        max_in_flight: int = 1,
        full: int | None = None,
        linger_s: float = 0.0,
    ) -> None:
        if limit < 1 or max_in_flight < 1 or (full is not None and full < 1) or linger_s < 0:
            raise ValueError("a coalescer needs room for one call of one item")
        self._send = send
        self.limit = limit
        self.max_in_flight = max_in_flight
        self.full = full
        self._cond = threading.Condition()
        self._queue: list[_Pending[T, R]] = []
        self._in_flight = 0
        self.linger_s = linger_s
        self._flying = 0  # requests in the calls in flight
        self._active = 0  # requests inside submit()
        self._seen = 0  # most requests inside submit() at once, this window
        self._seen_before = 0  # ... the window before
        self._window_end = 0.0
        self._free_since = 0.0  # when a call slot last came free
        self._last_size = 0  # companies in the last call that left
        #: Platform calls made (for tests and benchmarks).
        self.calls = 0

    @property
    def queued(self) -> int:
        """Requests waiting for a call."""
        with self._cond:
            return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Calls in flight now."""
        with self._cond:
            return self._in_flight

    def submit(self, key: Hashable, item: T) -> R:
        """The result of ``item``, sent alone or with the requests queued beside it."""
        mine: _Pending[T, R] = _Pending(key, item)
        with self._cond:
            self._queue.append(mine)
            self._arrive(mine.queued_at)
            if self.linger_s:
                self._cond.notify_all()  # a lingering call may be waiting for this request
        try:
            while True:
                batch: list[_Pending[T, R]] = []
                with self._cond:
                    while not mine.done:
                        timeout: float | None = None
                        if self._in_flight < self.max_in_flight and mine in self._queue:
                            batch = self._take(key)
                            timeout = self._linger(batch)
                            if timeout is not None:
                                batch = []
                        if batch:
                            for p in batch:
                                self._queue.remove(p)
                            self._in_flight += 1
                            self._flying += len(batch)
                            self._last_size = len(batch)
                            self.calls += 1
                            break
                        self._cond.wait(timeout)
                if not batch:
                    break
                self._run(batch)  # mine, or the oldest requests queued before it (then go on)
        finally:
            with self._cond:
                self._active -= 1
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _arrive(self, now: float) -> None:
        """Count one more request inside submit(). Caller holds the lock."""
        self._active += 1
        if now >= self._window_end:
            stale = now >= self._window_end + self.WINDOW_S  # a whole window without requests
            self._seen_before, self._seen = (0 if stale else self._seen), 0
            self._window_end = now + self.WINDOW_S
        self._seen = max(self._seen, self._active)

    def _linger(self, batch: list[_Pending[T, R]]) -> float | None:
        """Seconds the call of ``batch`` waits for more requests (None: it leaves now).
        Caller holds the lock."""
        if not self.linger_s or not batch or self._last_size < 2:
            return None  # the last call went alone: the concurrency has gone
        expected = max(self._seen, self._seen_before) - self._flying
        if len(batch) >= min(self.limit, expected):
            return None
        start = max(batch[0].queued_at, self._free_since)
        left = start + self.linger_s - time.monotonic()
        return left if left > 0 else None

    def _take(self, key: Hashable) -> list[_Pending[T, R]]:
        """The items the next call of ``key`` carries (empty: wait). Caller holds the lock."""
        same = [p for p in self._queue if p.key == key][: self.limit]
        if self._in_flight and self.full is not None:
            same = same[: len(same) // self.full * self.full]  # whole batches only
        return same

    def _run(self, batch: list[_Pending[T, R]]) -> None:
        try:
            outcomes = list(self._send([p.item for p in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError("a batch answered for another number of requests")
            for p, out in zip(batch, outcomes, strict=True):
                if isinstance(out, BaseException):
                    p.error = out
                else:
                    p.result = out
        except BaseException as exc:
            for p in batch:
                p.error = exc
        finally:
            with self._cond:
                for p in batch:
                    p.done = True
                self._in_flight -= 1
                self._flying -= len(batch)
                self._free_since = time.monotonic()
                self._cond.notify_all()
