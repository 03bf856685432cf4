"""The company's platform features for scoring: one row, from a cached point-in-time table.

The platform's data provider computes a whole table per (dataset, bank, as-of date) (the same
call a training session makes); the first score request of a day for a bank loads it, later
requests look the company up in a dictionary. Tables are kept in a bounded LRU cache
(:mod:`platform_node.scoring.table_cache`), so a day change or another bank's interface-call
view simply loads another table, without blocking requests for the dates already cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.dataset import PartyTable
from models.errors import FailedPrecondition, NotFound
from models.federation.party import Caller, DataProvider
from platform_node.scoring.table_cache import TableCache, TableCacheConfig


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

    A bounded :class:`~platform_node.scoring.table_cache.TableCache`: cached dates are served
    while other dates build (one build per key, no global lock), new dates are limited per bank,
    and memory is bounded by count and bytes.

    Parameters
    ----------
    data:
        The platform's data provider (``load(dataset, caller, params)``).
    config:
        The cache's bounds and build budget (``[platform.feature_tables]``).
    max_tables:
        Shorthand for ``config.max_tables``.
    """

    def __init__(
        self,
        data: DataProvider,
        *,
        config: TableCacheConfig | None = None,
        max_tables: int | None = None,
    ) -> None:
        self.data = data
        config = config or TableCacheConfig()
        if max_tables is not None:
            config = replace(config, max_tables=max_tables)
        self.cache: TableCache[IndexedTable] = TableCache(config, size_of=table_bytes)

    @property
    def loads(self) -> int:
        return self.cache.builds

    @property
    def max_tables(self) -> int:
        return self.cache.config.max_tables

    def table(self, dataset: str, caller: Caller, as_of: str) -> IndexedTable:
        """The indexed table the bank ``caller`` may use, as of ``as_of`` (YYYY-MM-DD)."""
        version = getattr(self.data, "data_version", None)  # records excluded since?
        key = (dataset, caller.party, as_of, version(dataset) if version is not None else "")

        def build() -> IndexedTable:
            table = IndexedTable.of(self.data.load(dataset, caller, {"as_of": as_of}))
            self.cache.builds += 1
            return table

        return self.cache.get(key, caller.party, build)

    def clear(self) -> None:
        self.cache.clear()


def table_bytes(t: IndexedTable) -> int:
    """Estimated memory of an indexed table (arrays plus its id and column dictionaries)."""
    X = np.asarray(t.table.X)
    return int(X.nbytes + np.asarray(t.table.ids).nbytes + 120 * (len(t.rows) + len(t.columns)))
