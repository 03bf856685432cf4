"""The platform's data provider: catalogue features or a served table.

Datasets
--------
``"catalogue"``
    The point-in-time feature table of every enterprise registered before the as-of date.
    Params: ``as_of`` (YYYY-MM-DD, required) and ``categories`` (optional comma-separated
    category keys, e.g. ``"judicial,tax"``). ``ids`` are USCCs, ``feature_groups`` are the
    category keys. Interface-call categories are filled only for enterprises that authorised
    the calling bank (``caller.party``), NaN elsewhere.
any other name
    A served table, configured as ``{name: ServedTable(path, id_column)}``: a CSV or Parquet
    file with an id column and feature columns (``feature_groups`` = ``"served"``); string
    columns are categories, encoded on the platform (their categories never leave it).
    This is how every algorithm runs on real data, e.g. the default_credit host file.

Personal fields never leave the platform: catalogue features never read them (checked when
the feature definitions load), and a served table's ``exclude_columns`` are dropped on load.

Example
-------
>>> provider = PlatformDataProvider(
...     Path("city/platform"),
...     {"default_credit": ServedTable(Path("data/default_credit_hetero_host.csv"), "id")},
... )  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from models.categorical import encode_frame
from models.dataset import PartyTable
from models.errors import InvalidArgument, NotFound
from models.federation.party import Caller
from platform_node.catalogue.providers import AuthorisationRegistry, ParquetProviderAdapter
from platform_node.catalogue.store import CatalogueStore
from platform_node.features.pipeline import compute_features, parse_as_of
from platform_node.refusals import refusal
from platform_node.scoring.table_cache import TableCache, TableCacheConfig

if TYPE_CHECKING:
    from platform_node.tables.registry import ServedTableRegistry

CATALOGUE = "catalogue"


@dataclass(frozen=True)
class ServedTable:
    """A CSV/Parquet table served instead of the catalogue.

    Attributes
    ----------
    path:
        The file (``.csv`` or ``.parquet``).
    id_column:
        Column with the row ids (the PSI join key).
    exclude_columns:
        Columns never served (e.g. personal data, or a label that must stay with its owner).
    categorical_columns:
        Numeric columns to encode as categories (string columns always are); the categories
        stay on the platform (:mod:`models.categorical`).
    """

    path: Path
    id_column: str
    exclude_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, spec: Mapping[str, object]) -> ServedTable:
        """From a config entry ``{"path": ..., "id_column": ..., "exclude_columns": [...]}``."""
        try:
            path = Path(str(spec["path"]))
            id_column = str(spec["id_column"])
        except KeyError:
            raise InvalidArgument("served table config needs path and id_column") from None
        exclude = spec.get("exclude_columns", ())
        categorical = spec.get("categorical_columns", ())
        if not isinstance(exclude, (list, tuple)) or not isinstance(categorical, (list, tuple)):
            raise InvalidArgument("exclude_columns and categorical_columns must be lists")
        return cls(
            path, id_column, tuple(str(c) for c in exclude), tuple(str(c) for c in categorical)
        )


def load_served_table(spec: ServedTable) -> PartyTable:
    """Read a served table; string columns (and declared ones) are encoded as categories.

    Every refusal is a rule plus an opaque reference (:mod:`platform_node.refusals`): the bank
    that asked for the table never sees its file name, column names or values; the platform log
    holds the full reason under the reference.
    """
    path = Path(spec.path)
    if not path.exists():
        raise refusal(
            NotFound, "the platform cannot find the served table's file", f"{path}: no such file"
        )
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise refusal(
            InvalidArgument, "served tables must be .csv or .parquet files", f"{path}: suffix"
        )
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as err:
        raise refusal(
            InvalidArgument, "the platform cannot parse the served table", f"{path}: {err!r}"
        ) from None
    if spec.id_column not in frame.columns:
        raise refusal(
            InvalidArgument,
            "the served table lacks its configured id column",
            f"{path}: no id column {spec.id_column!r}",
        )
    duplicated = frame[spec.id_column].duplicated()
    if duplicated.any():
        raise refusal(
            InvalidArgument,
            "the served table has duplicate ids",
            f"{path}: {int(duplicated.sum())} duplicate id(s) in {spec.id_column!r}",
        )
    features = [c for c in frame.columns if c != spec.id_column and c not in spec.exclude_columns]
    try:
        X, categories = encode_frame(frame, features, spec.categorical_columns)
    except InvalidArgument as err:
        raise refusal(
            InvalidArgument,
            "the served table has a categorical column the platform cannot encode",
            f"{path}: {err.message}",
        ) from None
    return PartyTable(
        ids=frame[spec.id_column].astype(str).to_numpy(),
        X=X,
        feature_names=[str(f) for f in features],
        feature_groups=["served"] * len(features),
        meta={"source": path.name, "id_column": spec.id_column},
        categories=categories,
    )


class PlatformDataProvider:
    """Serves the catalogue's point-in-time features and configured tables.

    Parameters
    ----------
    data_dir:
        The platform's data directory (``catalogue/``, ``providers/``,
        ``authorisations.parquet``), e.g. ``DIR/platform`` of a synthetic city.
    served_tables:
        Extra datasets by name.
    threads:
        DuckDB threads for feature queries (default: DuckDB's choice).
    cache_size:
        How many loaded tables to keep in memory (a session loads its table once per step
        handler instance; jobs with the same parameters share the result).
    cache_bytes:
        At most this many bytes of loaded tables are kept. Tables are built one per key,
        without a global lock: a cached table is served while another one is being built.
    registry:
        The versioned served tables (:mod:`platform_node.tables`), read per request: a version
        added or retired while the node runs is served (or refused) from the next request on.
    """

    def __init__(
        self,
        data_dir: Path,
        served_tables: Mapping[str, ServedTable] | None = None,
        threads: int | None = None,
        cache_size: int = 4,
        cache_bytes: int = 1 << 30,
        registry: ServedTableRegistry | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.registry = registry
        self.served_tables = dict(served_tables or {})
        if CATALOGUE in self.served_tables:
            raise InvalidArgument("a served table cannot be named 'catalogue'")
        self.store = CatalogueStore(self.data_dir)
        self.authorisations = AuthorisationRegistry(self.data_dir)
        self.provider = ParquetProviderAdapter(self.data_dir)
        self.threads = threads
        self._cache: TableCache[PartyTable] = TableCache(
            TableCacheConfig(
                max_tables=cache_size, max_tables_per_party=cache_size, max_bytes=cache_bytes
            ),
            size_of=lambda t: int(np.asarray(t.X).nbytes + np.asarray(t.ids).nbytes),
            limit_builds=False,
        )

    def datasets(self) -> list[str]:
        names = set(self.served_tables)
        if self.registry is not None:
            names.update(self.registry.active_names())
        return [CATALOGUE, *sorted(names)]

    def dataset_version(self, dataset: str, table_digest: str) -> int | None:
        """The registered version of served table ``dataset`` with this digest (lineage)."""
        if self.registry is None or dataset == CATALOGUE:
            return None
        found = self.registry.version_for(dataset, table_digest)
        return None if found is None else found.version

    def data_version(self, dataset: str) -> str:
        """Changes when the catalogue's usable records change (objections excluding or
        correcting records, issue 18; a feed ingested, e.g. the record behind a risk alert
        that a re-score must see, docs/alerts.md); part of every cache key built on the
        catalogue."""
        if dataset != CATALOGUE:
            return ""
        from platform_node.objections.exclusions import exclusions_stamp

        try:
            st = (self.store.dir / "ingest_log.jsonl").stat()
            ingested = f"{st.st_mtime_ns}:{st.st_size}"
        except OSError:
            ingested = ""
        return f"{exclusions_stamp(self.store.root)}|{ingested}"

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        """Return the table named ``dataset`` as ``caller`` may use it (see the module doc)."""
        key: tuple[str, ...]
        if dataset == CATALOGUE:
            as_of = parse_as_of(params.get("as_of", ""))
            raw = params.get("categories", "")
            categories = [c.strip() for c in raw.split(",") if c.strip()] or None
            key = (dataset, caller.party, as_of.isoformat(), ",".join(categories or []),
                   self.data_version(dataset))  # fmt: skip
        elif dataset in self.served_tables:
            key = (dataset,)
            spec = self.served_tables[dataset]
        else:
            version = None if self.registry is None else self.registry.active(dataset)
            if version is None:
                raise NotFound("unknown dataset")
            key = (dataset, f"v{version.version}")
            spec = version.spec()

        def build() -> PartyTable:
            if dataset == CATALOGUE:
                return self._catalogue(caller, as_of.isoformat(), categories)
            return load_served_table(spec)

        result = self._cache.get(key, caller.party, build)  # one build per key, others go on
        return result.take(np.arange(result.n_rows))

    def _catalogue(self, caller: Caller, as_of: str, categories: list[str] | None) -> PartyTable:
        from platform_node.objections.exclusions import excluded_rows

        licences = self.store.read("licence", columns=["uscc", "event_date"])
        known = licences.filter(pc.less(licences.column("event_date"), parse_as_of(as_of)))
        usccs = np.unique(np.asarray(known.column("uscc").to_numpy(zero_copy_only=False), str))
        features = compute_features(
            self.store,
            usccs,
            as_of,
            categories=categories,
            bank_party=caller.party,
            authorisations=self.authorisations,
            provider=self.provider,
            threads=self.threads,
            exclude=excluded_rows(self.store.root),  # records disputed or corrected (issue 18)
        )
        table = features.to_party_table()
        table.meta.update({"dataset": CATALOGUE, "as_of": as_of})
        return table
