"""Point-in-time feature pipeline: (USCC, as-of date) pairs -> feature matrix.

For each query row the features of :mod:`platform_node.features.definitions` are computed only
from records dated strictly before that row's as-of date (one DuckDB aggregate query per table).
Interface-call categories are fetched through a provider adapter, only for enterprises that
have authorised the requesting bank; for all other rows their features are missing (NaN).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from models.dataset import PartyTable
from models.errors import InternalError, InvalidArgument
from models.uscc import valid_mask
from platform_node.catalogue.providers import AuthorisationRegistry, ProviderAdapter
from platform_node.catalogue.schema import SharingMode, category, table
from platform_node.catalogue.store import CatalogueStore, empty_view_sql
from platform_node.features.definitions import FEATURES, FeatureSpec


@dataclass
class FeatureMatrix:
    """Features for query rows in input order."""

    usccs: np.ndarray
    as_of: np.ndarray  # datetime64[D]
    X: np.ndarray
    feature_names: list[str]
    feature_groups: list[str]
    meta: dict[str, str] = field(default_factory=dict)

    def to_party_table(self) -> PartyTable:
        return PartyTable(
            ids=self.usccs,
            X=self.X,
            feature_names=list(self.feature_names),
            feature_groups=list(self.feature_groups),
            meta=dict(self.meta),
        )


def parse_as_of(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None


def select_features(categories: Sequence[str] | None = None) -> list[FeatureSpec]:
    """Features of the named categories (all when None), in dictionary order."""
    if categories is None:
        return list(FEATURES)
    keys = {category(c).key for c in categories}
    return [f for f in FEATURES if f.category in keys]


def _interface_tables(features: Sequence[FeatureSpec]) -> list[str]:
    return sorted(
        {f.table for f in features if category(f.category).sharing is SharingMode.INTERFACE_CALL}
    )


def compute_features(
    store: CatalogueStore,
    usccs: Sequence[str] | np.ndarray,
    as_of: Sequence[dt.date | str] | np.ndarray | dt.date | str,
    *,
    categories: Sequence[str] | None = None,
    bank_party: str | None = None,
    authorisations: AuthorisationRegistry | None = None,
    provider: ProviderAdapter | None = None,
    threads: int | None = None,
    exclude: Mapping[str, pa.Table] | None = None,
) -> FeatureMatrix:
    """Point-in-time features for (USCC, as-of) pairs.

    Parameters
    ----------
    store:
        The platform's catalogue store (physical-aggregation tables).
    usccs:
        Enterprise of each query row (every one must be a valid USCC).
    as_of:
        One date for all rows, or one per row (``datetime.date``, ISO strings or
        ``datetime64``): only records dated strictly before it are used.
    categories:
        Restrict to these categories (default: all fifteen).
    bank_party, authorisations, provider:
        Who is asking, the authorisation registry and the provider adapter. Interface-call
        categories are computed only for rows whose enterprise authorised ``bank_party``; when
        any of the three is missing, those categories are NaN for every row.
    threads:
        DuckDB threads (default: DuckDB's choice).
    exclude:
        Per physical table, rows to leave out (records a company disputes and asked to
        exclude, or corrected ones: :func:`platform_node.objections.exclusions.excluded_rows`).
    """
    codes = np.asarray(usccs, dtype=str)
    if codes.ndim != 1:
        raise InvalidArgument("usccs must be one-dimensional")
    if codes.size and not valid_mask(codes).all():
        raise InvalidArgument("feature request contains an invalid USCC")
    dates = _as_of_array(as_of, codes.size)
    features = select_features(categories)
    n = codes.size
    X = np.full((n, len(features)), np.nan)
    col = {f.name: j for j, f in enumerate(features)}

    query = pa.table(
        {
            "qid": pa.array(np.arange(n, dtype=np.int64)),
            "uscc": pa.array(codes, pa.string()),
            "as_of": pa.array(
                dates.astype("datetime64[D]").astype(np.int64).astype(np.int32), pa.date32()
            ),
        }
    )
    iface = _interface_tables(features)
    physical = sorted({f.table for f in features} - set(iface))
    con = store.connect(physical, threads=threads)
    try:
        con.register("q", query)
        authorised = np.zeros(n, dtype=bool)
        if iface and bank_party and authorisations is not None and provider is not None:
            unique = np.unique(codes)
            allowed = unique[authorisations.authorised(bank_party, unique)]
            authorised = np.isin(codes, allowed)
            for name in iface:
                con.register(name, provider.fetch(name, allowed))
        elif iface:
            for name in iface:
                con.execute(f"CREATE VIEW {name} AS {empty_view_sql(table(name))}")
        kept: set[str] = set()
        for name, rows in (exclude or {}).items():
            if name in physical and rows.num_rows:  # EXCEPT ALL: each listed row once
                kept.add(name)
                cols = ", ".join(f.name for f in table(name).all_fields)
                con.register(f"{name}__excluded", rows)
                con.execute(
                    f"CREATE VIEW {name}__kept AS SELECT {cols} FROM {name} "
                    f"EXCEPT ALL SELECT {cols} FROM {name}__excluded"
                )
        for name in physical + iface:
            specs = [f for f in features if f.table == name]
            exprs = ", ".join(f"CAST({f.sql} AS DOUBLE) AS {f.name}" for f in specs)
            source = f"{name}__kept" if name in kept else name
            sql = (
                f"SELECT q.qid, {exprs} FROM q LEFT JOIN {source} t "
                "ON t.uscc = q.uscc AND t.event_date < q.as_of GROUP BY q.qid, q.as_of"
            )
            result = con.sql(sql).to_arrow_table()
            if result is None:
                raise InternalError("feature query returned no result")
            qid = result.column("qid").to_numpy()
            for f in specs:
                values = result.column(f.name).to_numpy(zero_copy_only=False)
                X[qid, col[f.name]] = np.asarray(values, dtype=np.float64)
    finally:
        con.close()
    for name in iface:
        for f in features:
            if f.table == name:
                X[~authorised, col[f.name]] = np.nan
    meta = {
        "source": "catalogue",
        "as_of_rule": "records dated strictly before the as-of date",
        "interface_call_rows_authorised": str(int(authorised.sum())) if iface else "0",
    }
    return FeatureMatrix(
        usccs=codes,
        as_of=dates,
        X=X,
        feature_names=[f.name for f in features],
        feature_groups=[f.category for f in features],
        meta=meta,
    )


def _as_of_array(as_of: Sequence[dt.date | str] | np.ndarray | dt.date | str, n: int) -> np.ndarray:
    if isinstance(as_of, (str, dt.date)):
        return np.full(n, np.datetime64(parse_as_of(as_of), "D"))
    values = list(as_of) if not isinstance(as_of, np.ndarray) else as_of
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.datetime64):
        out = values.astype("datetime64[D]")
    else:
        out = np.array([np.datetime64(parse_as_of(v), "D") for v in values], dtype="datetime64[D]")
    if out.shape != (n,):
        raise InvalidArgument("one as-of date per query row is required")
    if np.isnat(out).any():
        raise InvalidArgument("as_of must be a date in YYYY-MM-DD form")
    return out
