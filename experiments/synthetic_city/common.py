"""Shared helpers of the synthetic city generator: timeline, random streams, vectorised events."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from platform_node.catalogue.schema import FieldType, TableSpec

NULL_DAY = -(10**6)
"""Sentinel for a missing date in int day arrays (days since 1970-01-01)."""

DAYS_PER_YEAR = 365.25


def day(value: dt.date | str) -> int:
    """Days since 1970-01-01 of a date or ISO string."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return (value - dt.date(1970, 1, 1)).days


def to_date(days: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


@dataclass(frozen=True)
class Timeline:
    """The city's calendar: history starts 5 years before as-of, data ends 2 years after it.

    Loans applied in ``[as_of, as_of + 12 months)`` are the modelling window; their outcome
    (90+ days past due within 12 months of application) is fully observed by ``end``.
    """

    as_of: dt.date

    @property
    def as_of_day(self) -> int:
        return day(self.as_of)

    @property
    def history_start(self) -> int:
        return day(add_years(self.as_of, -5))

    @property
    def series_start(self) -> int:
        """First day of the quarterly series (two years before as-of)."""
        return day(add_years(self.as_of, -2))

    @property
    def window_end(self) -> int:
        """First day after the loan application window (as-of + 12 months)."""
        return day(add_years(self.as_of, 1))

    @property
    def end(self) -> int:
        """Last day of data (as-of + 24 months - 1 day)."""
        return day(add_years(self.as_of, 2)) - 1

    def quarter_ends(self) -> np.ndarray:
        """Quarter-end days from the series start to the end of data."""
        start = to_date(self.series_start)
        out = []
        y, q = start.year, (start.month - 1) // 3
        while True:
            month = 3 * q + 3
            last = dt.date(y + (month // 12), month % 12 + 1, 1) - dt.timedelta(days=1)
            if day(last) > self.end:
                break
            if day(last) >= self.series_start:
                out.append(day(last))
            q += 1
            if q == 4:
                y, q = y + 1, 0
        return np.array(out, dtype=np.int64)

    def years(self) -> range:
        """Calendar years with history (for annual records)."""
        return range(to_date(self.history_start).year - 1, to_date(self.end).year)


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent, deterministic random stream per (seed, purpose)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def choose(rng: np.random.Generator, options: list[str], p: list[float], n: int) -> np.ndarray:
    pr = np.asarray(p, dtype=np.float64)
    return np.asarray(options)[rng.choice(len(options), size=n, p=pr / pr.sum())]


def events(
    rng: np.random.Generator,
    rate_per_year: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events per enterprise over ``[start, end]`` days: (enterprise index, day)."""
    span = np.maximum(end - start, 0)
    counts = rng.poisson(np.maximum(rate_per_year, 0) * span / DAYS_PER_YEAR)
    ent = np.repeat(np.arange(rate_per_year.shape[0]), counts)
    days = start[ent] + np.floor(rng.random(ent.shape[0]) * (span[ent] + 1)).astype(np.int64)
    return ent, days


def quarterly_rows(
    covered: np.ndarray, start: np.ndarray, end: np.ndarray, quarter_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a quarterly series: (enterprise, quarter index) for quarters in [start, end]."""
    qe = quarter_ends[None, :]
    alive = covered[:, None] & (qe >= start[:, None] + 30) & (qe <= end[:, None])
    ent, q = np.nonzero(alive)
    return ent.astype(np.int64), q.astype(np.int64)


def to_arrow(spec: TableSpec, columns: Mapping[str, np.ndarray]) -> pa.Table:
    """Build a table in the schema of ``spec``: NaN, "" and NULL_DAY become nulls."""
    arrays = []
    n = columns["uscc"].shape[0]
    for f in spec.all_fields:
        values = columns.get(f.name)
        if values is None:
            arrays.append(pa.nulls(n, type=f.type.arrow()))
            continue
        if f.type is FieldType.DATE:
            v = np.asarray(values, dtype=np.int64)
            arrays.append(pa.array(v.astype(np.int32), type=pa.date32(), mask=v == NULL_DAY))
        elif f.type is FieldType.STR:
            v = np.asarray(values).astype(str)
            arrays.append(pa.array(v, type=pa.string(), mask=v == ""))
        elif f.type is FieldType.FLOAT:
            v = np.asarray(values, dtype=np.float64)
            arrays.append(pa.array(v, type=pa.float64(), mask=np.isnan(v)))
        elif f.type is FieldType.INT:
            arrays.append(pa.array(np.asarray(values, dtype=np.int64), type=pa.int64()))
        else:
            arrays.append(pa.array(np.asarray(values, dtype=bool), type=pa.bool_()))
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema())
