"""The bank's alert store: alerts received from the platform and the durable cursor.

``<bank data dir>/alerts/alerts.db`` (SQLite, WAL, files 0600, directory 0700). An alert is
keyed by (event id, loan id): receiving it again (at-least-once delivery) changes nothing.
Alerts and the cursor are written in one transaction, so after a crash the cursor never
runs ahead of what is stored, and the platform resends anything after it.

The cursor is opaque (``stream_cursor.token``: sealed by the platform, meaningless to the
bank). ``alerts.seq`` is the bank's own receiving order (1, 2, ... in stream order, hence in
order per company), not a platform position.

Legacy state: a store written before sealed cursors holds an integer cursor (``cursor``
table, the platform's global log position). It is not sent any more: on open it is dropped
and the stream starts from an empty cursor, i.e. from each watch's registration. This is
safe (the platform resends what it still delivers and the store drops what it holds, by
event id and loan id), at the cost of one resend of the history; the alerts already stored
keep their old ``seq`` values and new ones are numbered after the largest.

Each alert is then *processed* (audited, the company re-scored, priority set, webhook sent)
by :class:`bank_node.alerts.processor.AlertProcessor`; ``processed = 0`` rows are picked up
again after a restart.

Webhook deliveries are kept here too, so retries survive a restart: ``webhook`` is ``""``
(no webhook configured), ``pending`` (queued or waiting for a retry at ``webhook_next_at``;
``webhook_attempts`` made so far, the last failure in ``webhook_error``), ``ok`` or ``dead``
(dead letter: ``max_attempts`` failed). ``webhook_body`` holds the exact bytes sent, so every
attempt is identical. Rows of an earlier version may hold ``failed:<reason>`` (not retried).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.errors import NotFound
from models.private_db import PrivateDb

log = logging.getLogger("fedcredit.bank.alerts")

DB_NAME = "alerts.db"
PRIORITIES = ("low", "normal", "high", "urgent")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    event_id      TEXT NOT NULL,
    loan_id       TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    uscc          TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    severity      INTEGER NOT NULL,
    ingested_at   TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    priority      TEXT NOT NULL DEFAULT 'normal',
    processed     INTEGER NOT NULL DEFAULT 0,
    rescore       TEXT NOT NULL DEFAULT '',
    pd            REAL,
    band_before   TEXT NOT NULL DEFAULT '',
    band_after    TEXT NOT NULL DEFAULT '',
    webhook       TEXT NOT NULL DEFAULT '',
    acked_at      TEXT NOT NULL DEFAULT '',
    acked_by      TEXT NOT NULL DEFAULT '',
    webhook_body     TEXT NOT NULL DEFAULT '',
    webhook_attempts INTEGER NOT NULL DEFAULT 0,
    webhook_next_at  TEXT NOT NULL DEFAULT '',
    webhook_error    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, loan_id)
);
CREATE INDEX IF NOT EXISTS alerts_by_seq ON alerts (seq);
-- alerts_webhook_due (webhook, webhook_next_at) is created after the columns (_migrate)
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (processed, seq);
CREATE TABLE IF NOT EXISTS stream_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1), token BLOB NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bands (
    uscc TEXT PRIMARY KEY, band TEXT NOT NULL, pd REAL NOT NULL, scored_at TEXT NOT NULL
);
"""


_WEBHOOK_COLUMNS = (
    ("webhook_body", "TEXT NOT NULL DEFAULT ''"),
    ("webhook_attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("webhook_next_at", "TEXT NOT NULL DEFAULT ''"),
    ("webhook_error", "TEXT NOT NULL DEFAULT ''"),
)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ReceivedAlert:
    """An alert as it arrives from the platform (type and severity, no record content)."""

    event_id: str
    loan_id: str
    uscc: str
    event_type: str
    severity: int
    ingested_at: str


@dataclass(frozen=True)
class StoredAlert(ReceivedAlert):
    seq: int  # the bank's own receiving order
    received_at: str
    priority: str
    processed: int
    rescore: str
    pd: float | None
    band_before: str
    band_after: str
    webhook: str
    acked_at: str
    acked_by: str
    webhook_body: str = ""
    webhook_attempts: int = 0
    webhook_next_at: str = ""
    webhook_error: str = ""


@dataclass(frozen=True)
class WebhookDue:
    """A webhook delivery to attempt now."""

    event_id: str
    loan_id: str
    body: str
    attempts: int


class BankAlertStore(PrivateDb):
    """Alerts, the cursor and each company's last band (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, _SCHEMA)
        self._migrate()
        self.legacy_cursor_dropped = self._drop_legacy_cursor()

    def _migrate(self) -> None:
        """Add the webhook retry columns to a store of an earlier version."""
        with self.tx() as conn:
            have = {r["name"] for r in conn.execute("PRAGMA table_info(alerts)")}
            for column, kind in _WEBHOOK_COLUMNS:
                if column not in have:
                    conn.execute(f"ALTER TABLE alerts ADD COLUMN {column} {kind}")
            conn.execute(
                "CREATE INDEX IF NOT EXISTS alerts_webhook_due ON alerts (webhook, webhook_next_at)"
            )

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> BankAlertStore:
        return cls(Path(data_dir) / "alerts" / DB_NAME)

    # ------------------------------------------------------------------ receiving

    def _drop_legacy_cursor(self) -> bool:
        """Drop an integer cursor of an earlier version (see the module docstring)."""
        with self.tx() as conn:
            legacy = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cursor'"
            ).fetchone()
            if legacy is None:
                return False
            conn.execute("DROP TABLE cursor")
        log.warning(
            "the alert store held a cursor of an earlier version (a global log position);"
            " it is dropped and the stream restarts from each watch's registration"
            " (alerts already stored are kept; resent ones are dropped)"
        )
        return True

    def cursor(self) -> bytes:
        """The platform's sealed cursor (empty: from the start of each watch)."""
        rows = self._read("SELECT token FROM stream_cursor WHERE id = 1")
        return bytes(rows[0]["token"]) if rows else b""

    def reset_cursor(self) -> None:
        """Start again from each watch's registration (safe: resent alerts are dropped)."""
        with self.tx() as conn:
            conn.execute("DELETE FROM stream_cursor")

    def receive(self, alerts: Sequence[ReceivedAlert], cursor: bytes) -> list[ReceivedAlert]:
        """Store alerts and the platform's new ``cursor`` in one transaction.

        Returns the alerts that were new (duplicates of stored ones are dropped); new ones
        are numbered in the order received.
        """
        at = now_iso()
        new: list[ReceivedAlert] = []
        with self.tx() as conn:
            for a in alerts:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO alerts (event_id, loan_id, seq, uscc, event_type,"
                    " severity, ingested_at, received_at) VALUES (?, ?,"
                    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM alerts), ?, ?, ?, ?, ?)",
                    (a.event_id, a.loan_id, a.uscc, a.event_type, a.severity,
                     a.ingested_at, at),
                )  # fmt: skip
                if cur.rowcount:
                    new.append(a)
            conn.execute(
                "INSERT INTO stream_cursor (id, token, updated_at) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET token = excluded.token,"
                " updated_at = excluded.updated_at",
                (cursor, at),
            )
        return new

    # ------------------------------------------------------------------ processing

    def pending(self, limit: int = 100) -> list[StoredAlert]:
        rows = self._read(
            "SELECT * FROM alerts WHERE processed = 0 ORDER BY seq, loan_id LIMIT ?", (limit,)
        )
        return [StoredAlert(**dict(r)) for r in rows]

    def finish(
        self,
        event_id: str,
        loan_id: str,
        *,
        priority: str,
        rescore: str,
        pd: float | None,
        band_before: str,
        band_after: str,
        webhook: str,
        webhook_body: str = "",
    ) -> None:
        """Mark an alert processed; with a ``webhook_body`` its delivery is queued
        (``pending``, due now) in the same transaction."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE alerts SET processed = 1, priority = ?, rescore = ?, pd = ?,"
                " band_before = ?, band_after = ?, webhook = ?, webhook_body = ?,"
                " webhook_attempts = 0, webhook_next_at = '', webhook_error = ''"
                " WHERE event_id = ? AND loan_id = ?",
                (priority, rescore, pd, band_before, band_after,
                 "pending" if webhook_body else webhook, webhook_body, event_id, loan_id),
            )  # fmt: skip

    def webhooks_due(self, now: str, limit: int = 100) -> list[WebhookDue]:
        """Pending webhook deliveries whose next attempt is due at ``now`` (ISO UTC)."""
        rows = self._read(
            "SELECT event_id, loan_id, webhook_body, webhook_attempts FROM alerts"
            " WHERE webhook = 'pending' AND webhook_next_at <= ?"
            " ORDER BY webhook_next_at, seq LIMIT ?",
            (now, limit),
        )
        return [
            WebhookDue(r["event_id"], r["loan_id"], r["webhook_body"], int(r["webhook_attempts"]))
            for r in rows
        ]

    def record_webhook(
        self, event_id: str, loan_id: str, *, state: str, attempts: int, next_at: str, error: str
    ) -> None:
        """The outcome of one attempt: ``ok``, ``pending`` (retry at ``next_at``) or ``dead``."""
        with self.tx() as conn:
            conn.execute(
                "UPDATE alerts SET webhook = ?, webhook_attempts = ?, webhook_next_at = ?,"
                " webhook_error = ? WHERE event_id = ? AND loan_id = ?",
                (state, attempts, next_at, error, event_id, loan_id),
            )

    def last_band(self, uscc: str) -> tuple[str, float] | None:
        rows = self._read("SELECT band, pd FROM bands WHERE uscc = ?", (uscc,))
        return (rows[0]["band"], float(rows[0]["pd"])) if rows else None

    def set_band(self, uscc: str, band: str, pd: float) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO bands (uscc, band, pd, scored_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (uscc) DO UPDATE SET band = excluded.band, pd = excluded.pd,"
                " scored_at = excluded.scored_at",
                (uscc, band, pd, now_iso()),
            )

    # ------------------------------------------------------------------ officers

    def list(
        self,
        *,
        uscc: str | None = None,
        unacked_only: bool = False,
        min_priority: str | None = None,
        webhook: str | None = None,
        limit: int = 1000,
    ) -> list[StoredAlert]:
        """Stored alerts in receiving order; ``webhook`` keeps one delivery state (e.g.
        ``dead``)."""
        sql = "SELECT * FROM alerts WHERE 1 = 1"
        args: list[object] = []
        if webhook is not None:
            sql += " AND webhook = ?"
            args.append(webhook)
        if uscc is not None:
            sql += " AND uscc = ?"
            args.append(uscc)
        if unacked_only:
            sql += " AND acked_at = ''"
        if min_priority is not None:
            wanted = PRIORITIES[PRIORITIES.index(min_priority) :]
            sql += f" AND priority IN ({','.join('?' * len(wanted))})"
            args.extend(wanted)
        sql += " ORDER BY seq, loan_id LIMIT ?"
        args.append(limit)
        return [StoredAlert(**dict(r)) for r in self._read(sql, args)]

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) AS n FROM alerts")[0]["n"])

    def ack(self, event_id: str, who: str) -> int:
        """Acknowledge an alert (all its loans); ``NotFound`` when there is none unacked."""
        with self.tx() as conn:
            n = conn.execute(
                "UPDATE alerts SET acked_at = ?, acked_by = ? WHERE event_id = ? AND acked_at = ''",
                (now_iso(), who, event_id),
            ).rowcount
        if not n:
            raise NotFound("no unacknowledged alert with this id")
        return n
