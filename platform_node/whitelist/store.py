"""The white list's recommendations: one SQLite file under the platform's data directory.

``<platform data dir>/whitelist/whitelist.db`` (directory 0700, file 0600, WAL mode, safe for
the server and a local reader at once) holds

- ``recommendations``: one row per (company, recommender), with the reason, the criteria and
  when; a second recommendation of the same company by the same recommender is a duplicate
  and changes nothing (another recommender's is recorded beside it: who recommended whom);
- ``uploads``: one row per upload with its counts (received, accepted, duplicates, rejected
  for an invalid USCC, rejected otherwise).

Nothing here decides who sees what: listing needs the company's ``whitelist_listing`` consent
to the bank, checked by :mod:`platform_node.whitelist.service` on every query.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import InvalidArgument
from models.private_db import PrivateDb

DB_NAME = "whitelist.db"
MAX_REASON = 500
MAX_CRITERIA = 20
MAX_CRITERION = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recommendations (
    uscc            TEXT NOT NULL,
    recommender     TEXT NOT NULL,
    reason          TEXT NOT NULL,
    criteria        TEXT NOT NULL,
    recommended_at  TEXT NOT NULL,
    upload_id       TEXT NOT NULL,
    PRIMARY KEY (uscc, recommender)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id              TEXT PRIMARY KEY,
    recommender            TEXT NOT NULL,
    uploaded_at            TEXT NOT NULL,
    batch_ref              TEXT NOT NULL,
    received               INTEGER NOT NULL,
    accepted               INTEGER NOT NULL,
    duplicates             INTEGER NOT NULL,
    rejected_invalid_uscc  INTEGER NOT NULL,
    rejected_other         INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Recommendation:
    """A recommender's recommendation of one company (times are ISO 8601 UTC)."""

    uscc: str
    recommender: str
    reason: str
    criteria: tuple[str, ...]
    recommended_at: str
    upload_id: str = ""


@dataclass
class UploadReport:
    """What one upload did; ``rejected`` holds ``(index, kind, message)`` per refused row."""

    upload_id: str
    recommender: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_invalid_uscc: int = 0
    rejected_other: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    accepted_usccs: list[str] = field(default_factory=list)


def clean_text(value: str, limit: int, what: str) -> str:
    """Stripped text of at most ``limit`` characters without control characters."""
    text = str(value).strip()
    if len(text) > limit or any(ord(c) < 32 for c in text):
        raise InvalidArgument(f"{what} must be at most {limit} printable characters")
    return text


def clean_criteria(values: Iterable[str]) -> tuple[str, ...]:
    out = tuple(c for c in (clean_text(v, MAX_CRITERION, "a criterion") for v in values) if c)
    if len(out) > MAX_CRITERIA:
        raise InvalidArgument(f"at most {MAX_CRITERIA} criteria per candidate")
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class WhitelistStore(PrivateDb):
    """Recommendations and uploads (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path, _SCHEMA, timeout=10.0)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str]) -> WhitelistStore:
        """The store at ``<data_dir>/whitelist/whitelist.db``."""
        return cls(Path(data_dir) / "whitelist" / DB_NAME)

    def record_upload(
        self,
        recommender: str,
        rows: Sequence[tuple[str, str, tuple[str, ...]]],
        report: UploadReport,
        batch_ref: str = "",
        *,
        on_commit: Callable[[UploadReport], None] | None = None,
    ) -> UploadReport:
        """Record validated ``(uscc, reason, criteria)`` rows of one upload, in one transaction.

        ``report`` already counts the rows refused before (invalid codes and others);
        duplicates (already recommended by ``recommender``, or twice in ``rows``) are counted
        here. ``on_commit(report)`` runs inside the transaction, last (the audit entry): if it
        fails, nothing of the upload is recorded. Returns ``report`` completed.
        """
        now = _now()
        with self.tx() as conn:
            seen: set[str] = set()
            existing = {
                r["uscc"]
                for r in conn.execute(
                    "SELECT uscc FROM recommendations WHERE recommender = ?", (recommender,)
                )
            }
            for uscc, reason, criteria in rows:
                if uscc in seen or uscc in existing:
                    report.duplicates += 1
                    continue
                seen.add(uscc)
                conn.execute(
                    "INSERT INTO recommendations (uscc, recommender, reason, criteria,"
                    " recommended_at, upload_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (uscc, recommender, reason, json.dumps(list(criteria)), now, report.upload_id),
                )
                report.accepted += 1
                report.accepted_usccs.append(uscc)
            conn.execute(
                "INSERT INTO uploads (upload_id, recommender, uploaded_at, batch_ref, received,"
                " accepted, duplicates, rejected_invalid_uscc, rejected_other)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report.upload_id,
                    recommender,
                    now,
                    batch_ref,
                    report.received,
                    report.accepted,
                    report.duplicates,
                    report.rejected_invalid_uscc,
                    report.rejected_other,
                ),
            )
            if on_commit is not None:
                on_commit(report)
        return report

    @staticmethod
    def new_upload_id() -> str:
        return f"wlu-{uuid.uuid4().hex[:16]}"

    def recommendations(self, usccs: Iterable[str] | None = None) -> list[Recommendation]:
        """Every recommendation (of the given companies only, if named), by company then time."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM recommendations ORDER BY uscc, recommended_at, recommender"
            ).fetchall()
        wanted = set(usccs) if usccs is not None else None
        return [
            Recommendation(
                uscc=r["uscc"],
                recommender=r["recommender"],
                reason=r["reason"],
                criteria=tuple(json.loads(r["criteria"])),
                recommended_at=r["recommended_at"],
                upload_id=r["upload_id"],
            )
            for r in rows
            if wanted is None or r["uscc"] in wanted
        ]

    def uploads(self) -> list[dict[str, object]]:
        """Every upload with its counts, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM uploads ORDER BY uploaded_at").fetchall()
        return [dict(r) for r in rows]
