"""Concurrent officer requests of one model share one platform call.

A request that finds fewer than ``max_in_flight`` platform calls of its model in flight sends
everything queued so far with the same batch key (scoring date, and whatever else must be
equal within one platform request), up to ``limit`` companies; the others wait for their
answer. A lone request is sent at once (no waiting for company). With ``full`` set, a second
(third, ...) call may leave while another is in flight only with whole batches of ``full``
items (for trees: whole ciphertext groups, so a pipelined call never pays a ciphertext for one
company); a partial batch waits until no call of its key is in flight. The platform sees the same
companies, request ids and per-company verdicts as with one call per company; each company
keeps its own answer (a refusal of one does not touch the others), and an error of the whole
call is every waiting request's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)  # identity: an item may hold arrays
class _Pending(Generic[T, R]):
    key: Hashable
    item: T
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
    """

    def __init__(
        self,
        send: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        limit: int,
        max_in_flight: int = 1,
        full: int | None = None,
    ) -> None:
        if limit < 1 or max_in_flight < 1 or (full is not None and full < 1):
            raise ValueError("a coalescer needs room for one call of one item")
        self._send = send
        self.limit = limit
        self.max_in_flight = max_in_flight
        self.full = full
        self._cond = threading.Condition()
        self._queue: list[_Pending[T, R]] = []
        self._in_flight = 0
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
        while True:
            batch: list[_Pending[T, R]] = []
            with self._cond:
                while not mine.done:
                    if self._in_flight < self.max_in_flight and mine in self._queue:
                        batch = self._take(key)
                    if batch:
                        for p in batch:
                            self._queue.remove(p)
                        self._in_flight += 1
                        self.calls += 1
                        break
                    self._cond.wait()
            if not batch:
                break
            self._run(batch)  # mine, or the oldest requests queued before it (then go on)
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

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
                self._cond.notify_all()
