"""The company's platform features for scoring: one row, from a cached point-in-time table.

The platform's data provider computes a whole table per (dataset, bank, as-of date) (the same
call a training session makes); the first score request of a day for a bank loads it, later
requests look the company up in a dictionary. Tables are kept in a small LRU cache, so a day
change or another bank's interface-call view simply loads another table.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.dataset import PartyTable
from models.errors import FailedPrecondition, NotFound
from models.federation.party import Caller, DataProvider


@dataclass(frozen=True)
class IndexedTable:
    """A loaded table with its id and column indexes."""

    table: PartyTable
    rows: dict[str, int]
    columns: dict[str, int]

    @classmethod
    def of(cls, table: PartyTable) -> IndexedTable:
        rows = {str(i): k for k, i in enumerate(table.ids.tolist())}
        columns = {name: j for j, name in enumerate(table.feature_names)}
        return cls(table, rows, columns)

    def row(self, uscc: str) -> np.ndarray:
        """The company's raw feature values (NaN = missing); NotFound if it is not here."""
        k = self.rows.get(uscc)
        if k is None:
            raise NotFound("the company is not known to the platform")
        return np.asarray(self.table.X[k], dtype=np.float64)

    def columns_of(self, names: Sequence[str]) -> np.ndarray:
        """Column index of each named feature (``FailedPrecondition`` if one is missing)."""
        try:
            return np.asarray([self.columns[f] for f in names], dtype=np.int64)
        except KeyError:
            raise FailedPrecondition("a model feature is missing from the platform data") from None

    def values(self, uscc: str, names: Sequence[str]) -> np.ndarray:
        """The company's values of the named features, in that order."""
        try:
            cols = [self.columns[f] for f in names]
        except KeyError:
            raise FailedPrecondition("a model feature is missing from the platform data") from None
        return self.row(uscc)[np.asarray(cols, dtype=np.int64)]


class FeatureRows:
    """Cached point-in-time feature tables, per (dataset, bank party, as-of date).

    Parameters
    ----------
    data:
        The platform's data provider (``load(dataset, caller, params)``).
    max_tables:
        Tables kept in memory.
    """

    def __init__(self, data: DataProvider, *, max_tables: int = 4) -> None:
        self.data = data
        self.max_tables = max_tables
        self._cache: OrderedDict[tuple[str, str, str], IndexedTable] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self.loads = 0

    def table(self, dataset: str, caller: Caller, as_of: str) -> IndexedTable:
        """The indexed table the bank ``caller`` may use, as of ``as_of`` (YYYY-MM-DD)."""
        key = (dataset, caller.party, as_of)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        with self._load_lock:  # one load at a time; the others wait for its result
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
            loaded = IndexedTable.of(self.data.load(dataset, caller, {"as_of": as_of}))
            self.loads += 1
            with self._lock:
                self._cache[key] = loaded
                while len(self._cache) > self.max_tables:
                    self._cache.popitem(last=False)
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
