"""Interface-call categories: authorisations and provider adapters.

Records of an interface-call category (tax, housing fund, social insurance, utilities) stay at
the providing agency. The platform fetches them at use time through a :class:`ProviderAdapter`,
and only for enterprises that have authorised the requesting bank, as recorded in the
:class:`AuthorisationRegistry` (keyed by (USCC, bank party)).

:class:`ParquetProviderAdapter` stands in for the agencies' query interfaces: it answers from
``root/providers/<table>.parquet``. A real deployment implements the same protocol over the
agency's API; nothing else changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from models.errors import InvalidArgument
from models.uscc import valid_mask
from platform_node.catalogue.schema import (
    CATEGORY_OF_TABLE,
    SharingMode,
    TableSpec,
    category,
    table,
)

AUTH_SCHEMA = pa.schema(
    [
        pa.field("uscc", pa.string(), False),
        pa.field("bank_party", pa.string(), False),
        pa.field("granted_date", pa.date32(), False),
        pa.field("revoked_date", pa.date32(), True),
    ]
)


def _interface_spec(table_name: str) -> TableSpec:
    spec = table(table_name)
    if category(CATEGORY_OF_TABLE[table_name]).sharing is not SharingMode.INTERFACE_CALL:
        raise InvalidArgument("table is not shared by interface call")
    return spec


class AuthorisationRegistry:
    """Authorisations given by enterprises to banks (``root/authorisations.parquet``).

    An authorisation is in force from its grant until it is revoked; the platform checks it at
    use time, i.e. when a bank's job fetches interface-call records.
    """

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "authorisations.parquet"

    def _read(self) -> pa.Table:
        if not self.path.exists():
            return AUTH_SCHEMA.empty_table()
        return pq.read_table(self.path, schema=AUTH_SCHEMA)

    def record(
        self,
        usccs: Sequence[str] | np.ndarray,
        bank_party: str,
        granted: dt.date | Sequence[dt.date],
    ) -> int:
        """Record authorisations of ``usccs`` for ``bank_party``; returns how many were added.

        Raises
        ------
        InvalidArgument
            If any code is not a valid USCC (nothing is recorded then).
        """
        codes = np.asarray(usccs, dtype=str)
        if codes.size and not valid_mask(codes).all():
            raise InvalidArgument("authorisation for an invalid USCC")
        dates = [granted] * codes.size if isinstance(granted, dt.date) else list(granted)
        if len(dates) != codes.size:
            raise InvalidArgument("one grant date per authorisation is required")
        new = pa.Table.from_arrays(
            [
                pa.array(codes, pa.string()),
                pa.array([bank_party] * codes.size, pa.string()),
                pa.array(dates, pa.date32()),
                pa.nulls(codes.size, pa.date32()),
            ],
            schema=AUTH_SCHEMA,
        )
        self.write(pa.concat_tables([self._read(), new]))
        return int(codes.size)

    def revoke(self, uscc: str, bank_party: str, on: dt.date) -> None:
        data = self._read()
        hit = pc.and_(
            pc.and_(pc.equal(data["uscc"], uscc), pc.equal(data["bank_party"], bank_party)),
            pc.is_null(data["revoked_date"]),
        )
        revoked = pc.if_else(hit, pa.scalar(on, pa.date32()), data["revoked_date"])
        self.write(data.set_column(3, AUTH_SCHEMA.field("revoked_date"), revoked))

    def write(self, data: pa.Table) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data.cast(AUTH_SCHEMA), self.path)

    def authorised(self, bank_party: str, usccs: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``usccs`` have an authorisation in force for ``bank_party``."""
        codes = np.asarray(usccs, dtype=str)
        data = self._read()
        live = data.filter(
            pc.and_(pc.equal(data["bank_party"], bank_party), pc.is_null(data["revoked_date"]))
        )
        granted = np.asarray(live.column("uscc").to_numpy(zero_copy_only=False), dtype=str)
        return np.isin(codes, granted)


class ProviderAdapter(Protocol):
    """Fetches the records of one interface-call table for some enterprises."""

    def fetch(self, table_name: str, usccs: np.ndarray) -> pa.Table:
        """Records of ``table_name`` for exactly the requested ``usccs`` (schema of the table)."""
        ...


class ParquetProviderAdapter:
    """A provider adapter answering from ``root/providers/<table>.parquet``.

    Rows whose code is not a valid USCC are dropped and counted in :attr:`rejected`.
    """

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "providers"
        self.rejected: dict[str, int] = {}

    def path(self, table_name: str) -> Path:
        return self.dir / f"{table_name}.parquet"

    def fetch(self, table_name: str, usccs: np.ndarray) -> pa.Table:
        spec = _interface_spec(table_name)
        codes = np.asarray(usccs, dtype=str)
        if codes.size and not valid_mask(codes).all():
            raise InvalidArgument("provider request for an invalid USCC")
        path = self.path(table_name)
        if not path.exists() or codes.size == 0:
            return spec.arrow_schema().empty_table()
        dataset = ds.dataset(path, format="parquet", schema=spec.arrow_schema())
        data = dataset.to_table(filter=pc.field("uscc").isin(pa.array(codes, pa.string())))
        ok = valid_mask(data.column("uscc").to_numpy(zero_copy_only=False))
        if not ok.all():
            self.rejected[table_name] = self.rejected.get(table_name, 0) + int((~ok).sum())
            data = data.filter(pa.array(ok))
        return data

    def publish(self, table_name: str, data: pa.Table) -> None:
        """Write a provider's records (used by the synthetic city and tests)."""
        spec = _interface_spec(table_name)
        self.dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(data.cast(spec.arrow_schema()), self.path(table_name), compression="zstd")
