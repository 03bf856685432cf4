"""Feeds in, risk events out: the ingestion path that raises events as records arrive.

:class:`AlertIngestor` wraps the catalogue store:

- a feed of a **physical-aggregation** table is ingested by
  :meth:`~platform_node.catalogue.store.CatalogueStore.ingest` (schema check, invalid USCCs and
  missing dates rejected and counted, accepted rows appended as a Parquet part); the new part
  is then turned into events and marked derived in the same SQLite transaction as the events.
  A crash between the Parquet part and the events leaves the part unmarked:
  :meth:`derive_pending` (run at start and periodically by the server) derives it again, and
  the deterministic event ids store each event once. So a feed written by another process
  (``CatalogueStore.ingest`` directly) also raises its events.
- a feed of an **interface-call** table (tax, social insurance, housing fund, utilities: the
  records stay at the agencies) is validated the same way and only its events are kept;
  the records themselves are not stored.

The first time alerts are enabled on a platform that already holds a catalogue, the parts
present are recorded as a baseline without raising events (history is not news).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.uscc import valid_mask
from platform_node.alerts.events import (
    DEFAULT_PENALTY_THRESHOLD,
    EVENT_TABLES,
    DerivedEvents,
    derive_events,
)
from platform_node.alerts.store import AlertStore, utc_iso
from platform_node.catalogue.schema import CATEGORY_OF_TABLE, SharingMode, category, table
from platform_node.catalogue.store import CatalogueStore, conform

log = logging.getLogger("fedcredit.platform.alerts")


@dataclass(frozen=True)
class FeedReport:
    """Counts for one feed (never a record value)."""

    table: str
    source: str
    received: int
    accepted: int
    rejected_invalid_code: int
    rejected_missing_date: int
    events: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class AlertIngestor:
    """Ingest feeds and derive their risk events (see the module docstring).

    Parameters
    ----------
    data_dir:
        The platform's data directory (catalogue under ``catalogue/``, alerts under
        ``alerts/``).
    store:
        The alert store (default: the one in ``data_dir``).
    penalty_threshold:
        Smallest fine (10k CNY) that raises a ``penalty`` event.
    on_events:
        Called after new events are committed (the server wakes its streams).
    """

    def __init__(
        self,
        data_dir: Path,
        store: AlertStore | None = None,
        *,
        penalty_threshold: float = DEFAULT_PENALTY_THRESHOLD,
        on_events: Callable[[], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.catalogue = CatalogueStore(self.data_dir)
        self.store = store or AlertStore.in_data_dir(self.data_dir)
        self.penalty_threshold = penalty_threshold
        self.on_events = on_events
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._baseline()

    def _baseline(self) -> None:
        """Mark every catalogue part present when alerts start on this platform (no events)."""
        with self.store.tx() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'baseline'").fetchone():
                return
            for name in self.catalogue.tables_present():
                for part in self.catalogue.parts(name):
                    AlertStore.mark_part(conn, name, part.name, "baseline")
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('baseline', ?)", (utc_iso(self._clock()),)
            )

    # ------------------------------------------------------------------ feeds

    def ingest(
        self, table_name: str, data: pa.Table | pd.DataFrame, source: str = ""
    ) -> FeedReport:
        """Ingest one feed and commit its events; invalid USCCs are rejected and counted."""
        spec = table(table_name)
        if category(CATEGORY_OF_TABLE[table_name]).sharing is SharingMode.PHYSICAL_AGGREGATION:
            return self._ingest_stored(table_name, data, source)
        records = conform(spec, data)
        codes = records.column("uscc").to_numpy(zero_copy_only=False)
        code_ok = valid_mask(codes)
        date_ok = ~np.asarray(records.column("event_date").is_null().to_numpy(zero_copy_only=False))
        keep = code_ok & date_ok
        accepted = records.filter(pa.array(keep))
        now = self._clock()
        events = self._derive(table_name, accepted)
        with self.store.tx() as conn:
            created = self.store.add_events(conn, table_name, events, now)
            self._remember_grades(conn, table_name, accepted)
            report = FeedReport(
                table=table_name,
                source=source or table_name,
                received=records.num_rows,
                accepted=int(keep.sum()),
                rejected_invalid_code=int((~code_ok).sum()),
                rejected_missing_date=int((code_ok & ~date_ok).sum()),
                events=created,
            )
            AlertStore.log_feed(
                conn, {**report.to_dict(), "table_name": table_name, "ingested_at": utc_iso(now)}
            )
        self._notify(created)
        return report

    def _ingest_stored(
        self, table_name: str, data: pa.Table | pd.DataFrame, source: str
    ) -> FeedReport:
        """A physical-aggregation feed: stored by the catalogue, then its part derived."""
        stored = self.catalogue.ingest(table_name, data, source=source)
        report = FeedReport(
            table=stored.table,
            source=stored.source,
            received=stored.received,
            accepted=stored.accepted,
            rejected_invalid_code=stored.rejected_invalid_code,
            rejected_missing_date=stored.rejected_missing_date,
            events=0,
        )
        done = self.store.derived_parts()
        created = 0
        feed: FeedReport | None = report
        for part in self.catalogue.parts(table_name):
            if (table_name, part.name) not in done:  # ours, or an earlier crash's
                created += self._derive_part(table_name, part, feed)
                feed = None
        if feed is not None:  # nothing accepted: no part, but the rejects are counted
            row = {
                **feed.to_dict(),
                "table_name": table_name,
                "ingested_at": utc_iso(self._clock()),
            }
            with self.store.tx() as conn:
                AlertStore.log_feed(conn, row)
        self._notify(created)
        return dataclasses.replace(report, events=created)

    def derive_pending(self, tables: list[str] | None = None) -> int:
        """Derive the events of catalogue parts not derived yet; returns the new events."""
        done = self.store.derived_parts()
        names = tables if tables is not None else self.catalogue.tables_present()
        created = 0
        for name in names:
            for part in self.catalogue.parts(name):
                if (name, part.name) in done:
                    continue
                created += self._derive_part(name, part)
        self._notify(created)
        return created

    def _derive_part(self, name: str, part: Path, feed: FeedReport | None = None) -> int:
        """Events of one stored part, committed with the part's mark and its feed's counts
        (``feed``; a part that arrived by another route logs its row count only).

        A part still being written (by another process) cannot be read yet: it is left for
        the next round. A part another process derived meanwhile is not counted again.
        """
        try:
            records = pq.read_table(part).cast(table(name).arrow_schema())
        except (pa.ArrowInvalid, OSError):
            log.debug("catalogue part not readable yet; retried later", extra={"table": name})
            return 0
        now = self._clock()
        events = self._derive(name, records)
        with self.store.tx() as conn:
            seen = conn.execute(
                "SELECT 1 FROM derived_parts WHERE table_name = ? AND part = ?", (name, part.name)
            ).fetchone()
            if seen:  # derived by another process; still count this feed's rejects
                if feed is not None:
                    AlertStore.log_feed(
                        conn, {**feed.to_dict(), "table_name": name, "ingested_at": utc_iso(now)}
                    )
                return 0
            created = self.store.add_events(conn, name, events, now)
            AlertStore.mark_part(conn, name, part.name, "derived")
            counts = (
                feed.to_dict()
                if feed is not None
                else {
                    "source": part.name,
                    "received": records.num_rows,
                    "accepted": records.num_rows,
                    "rejected_invalid_code": 0,
                    "rejected_missing_date": 0,
                }
            )
            AlertStore.log_feed(
                conn,
                {**counts, "table_name": name, "events": created, "ingested_at": utc_iso(now)},
            )
        return created

    def _derive(self, name: str, records: pa.Table) -> DerivedEvents:
        if name not in EVENT_TABLES:
            return DerivedEvents.empty()
        return derive_events(
            name, records, penalty_threshold=self.penalty_threshold, grades=self.store.grades
        )

    def _remember_grades(self, conn: object, name: str, records: pa.Table) -> None:
        if name != "tax_credit_grades" or records.num_rows == 0:
            return
        df = records.select(["uscc", "event_date", "grade"]).to_pandas()
        df = (
            df.dropna(subset=["grade"])
            .sort_values("event_date")
            .drop_duplicates("uscc", keep="last")
        )
        AlertStore.set_grades(conn, df["uscc"].tolist(), df["grade"].tolist())  # type: ignore[arg-type]

    def _notify(self, created: int) -> None:
        if created and self.on_events is not None:
            self.on_events()
