"""Issue 14 row 3: feature tables per as-of date, bounded and built without a global lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import numpy as np
import pytest

from models.dataset import PartyTable
from models.errors import ResourceExhausted
from models.federation.party import Caller
from platform_node.scoring.features import FeatureRows, table_bytes
from platform_node.scoring.table_cache import TableCache, TableCacheConfig

BANK_A = Caller("bank-a", "bank")
BANK_B = Caller("bank-b", "bank")


class SlowDates:
    """A provider whose table for ``slow_date`` builds until ``release`` is set."""

    def __init__(self, slow_date: str) -> None:
        self.slow_date = slow_date
        self.release = threading.Event()
        self.building = threading.Event()
        self.loads: list[str] = []

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        as_of = params["as_of"]
        self.loads.append(as_of)
        if as_of == self.slow_date:
            self.building.set()
            assert self.release.wait(20)
        return PartyTable(
            ids=np.asarray(["c1", "c2"]),
            X=np.asarray([[1.0, 2.0], [3.0, 4.0]]),
            feature_names=["f", "g"],
            feature_groups=["tax", "tax"],
        )


def test_a_cached_date_is_served_while_another_date_builds() -> None:
    provider = SlowDates("2025-02-02")
    rows = FeatureRows(provider)
    cached = rows.table("catalogue", BANK_A, "2025-01-01")
    slow = threading.Thread(target=rows.table, args=("catalogue", BANK_B, "2025-02-02"))
    slow.start()
    try:
        assert provider.building.wait(10)
        t0 = time.monotonic()
        assert rows.table("catalogue", BANK_A, "2025-01-01") is cached  # not blocked
        # another new date of another bank builds meanwhile too
        rows.table("catalogue", BANK_A, "2025-03-03")
        assert time.monotonic() - t0 < 5.0
        assert slow.is_alive()
    finally:
        provider.release.set()
        slow.join(20)
    assert provider.loads.count("2025-02-02") == 1


def test_concurrent_requests_for_one_new_date_share_one_build() -> None:
    provider = SlowDates("2025-02-02")
    rows = FeatureRows(provider)
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(rows.table("c", BANK_A, "2025-02-02")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    assert provider.building.wait(10)
    time.sleep(0.1)
    provider.release.set()
    for t in threads:
        t.join(20)
    assert len(got) == 4 and all(g is got[0] for g in got)
    assert provider.loads == ["2025-02-02"]


def test_new_dates_are_budgeted_per_bank() -> None:
    now = [0.0]
    provider = SlowDates("never")
    config = TableCacheConfig(build_burst=3, builds_per_s=0.5)
    rows = FeatureRows(provider, config=config)
    rows.cache._clock = lambda: now[0]  # deterministic refill
    for day in range(1, 4):
        rows.table("c", BANK_A, f"2025-01-0{day}")
    with pytest.raises(ResourceExhausted):
        rows.table("c", BANK_A, "2025-01-05")
    rows.table("c", BANK_A, "2025-01-02")  # a cached date is still served
    rows.table("c", BANK_B, "2025-01-05")  # another bank has its own budget
    now[0] = 2.0  # one more build after 1 / builds_per_s seconds
    rows.table("c", BANK_A, "2025-01-05")
    assert len(provider.loads) == 5


def test_cache_is_bounded_in_count_bytes_and_per_bank() -> None:
    provider = SlowDates("never")
    one = table_bytes(FeatureRows(provider).table("c", BANK_A, "2025-01-01"))
    config = TableCacheConfig(
        max_tables=4, max_tables_per_party=2, max_bytes=3 * one, build_burst=100
    )
    rows = FeatureRows(provider, config=config)
    rows.table("c", BANK_B, "2025-01-01")
    for day in range(1, 8):  # bank-a asks for many dates: only its own tables are evicted
        rows.table("c", BANK_A, f"2025-01-0{day}")
    assert len(rows.cache) <= 3 and rows.cache.nbytes <= 3 * one
    n = len(provider.loads)
    rows.table("c", BANK_B, "2025-01-01")  # bank-b's table survived bank-a's dates
    assert len(provider.loads) == n


def test_a_failed_build_reaches_every_waiter_and_is_not_cached() -> None:
    cache: TableCache[int] = TableCache(size_of=lambda v: 8)
    calls = []

    def boom() -> int:
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError):
        cache.get("k", "bank-a", boom)
    assert cache.get("k", "bank-a", lambda: 7) == 7 and len(calls) == 1
