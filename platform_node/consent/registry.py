"""The platform's consent registry: which company authorised which bank, for what, until when.

Stored in SQLite (``<platform data dir>/consent/consent.db``, WAL mode, safe for the server
and the CLI to use at once). Every grant and revocation is appended to the platform's audit
log; :meth:`ConsentRegistry.check` is read-only and fast (one indexed query), the caller audits
the request it authorises (``consent_id`` in its score-request entry).

Scopes: ``scoring`` (the platform may compute its part of a score for the bank), ``training``
(the company's rows may be used in the bank's training jobs) and ``all`` (both);
``whitelist_listing`` (the company appears on the financing white list the bank reads) and
``post_loan_monitoring`` (the bank may monitor the company after lending) are granted on their
own: ``all`` does not cover them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from models.audit import ActorLike, AuditLog
from models.audit import events as ev
from models.errors import InvalidArgument, NotFound, PermissionDenied
from models.uscc import normalize_uscc

SCOPES = ("scoring", "training", "all", "whitelist_listing", "post_loan_monitoring")
#: Scopes that ``all`` covers (the others must be granted explicitly).
ALL_COVERS = ("scoring", "training")
DEFAULT_DB_NAME = "consent.db"
#: A consent in force: the asked scope (or "all" covering it), not revoked, not expired.
_IN_FORCE = " AND scope IN (?, ?) AND revoked_at IS NULL AND expires_at > ?"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consents (
    consent_id  TEXT PRIMARY KEY,
    uscc        TEXT NOT NULL,
    bank_party  TEXT NOT NULL,
    scope       TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
);
CREATE INDEX IF NOT EXISTS consents_by_company ON consents (uscc, bank_party);
"""


def _utc(when: dt.datetime | str) -> dt.datetime:
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument("times are ISO 8601 with a time zone") from None
    if when.tzinfo is None:
        raise InvalidArgument("times must carry a time zone")
    return when.astimezone(dt.UTC)


def _iso(when: dt.datetime) -> str:
    """Fixed-width UTC text, so that SQL string comparison is time comparison."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidArgument(
            "consent scope is one of scoring, training, all, whitelist_listing,"
            " post_loan_monitoring"
        )
    return scope


def _check_party(party: str) -> str:
    if not isinstance(party, str) or not party or len(party) > 64 or "/" in party:
        raise InvalidArgument("bank party must be a party name")
    return party


@dataclass(frozen=True)
class ConsentRecord:
    """One grant. Times are ISO 8601 UTC strings; ``revoked_at`` is empty while in force."""

    consent_id: str
    uscc: str
    bank_party: str
    scope: str
    granted_at: str
    expires_at: str
    granted_by: str
    revoked_at: str = ""
    revoked_by: str = ""

    def covers(self, scope: str) -> bool:
        return self.scope == scope or (self.scope == "all" and scope in ALL_COVERS)

    def active(self, now: dt.datetime) -> bool:
        return not self.revoked_at and _utc(self.expires_at) > _utc(now)


class ConsentRegistry:
    """Grant, revoke, list and check consents (one SQLite file).

    Parameters
    ----------
    path
        The database file; created with its directory.
    audit
        The platform's audit log; every grant and revocation is recorded there.
    actor
        Default actor of the audit entries (the platform node or its operator).
    clock
        Current aware datetime (tests inject one).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        audit: AuditLog,
        *,
        actor: ActorLike | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.audit = audit
        self.actor = actor
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.commit()

    @classmethod
    def in_data_dir(
        cls, data_dir: str | os.PathLike[str], audit: AuditLog, **kwargs: object
    ) -> ConsentRegistry:
        """The registry at ``<data_dir>/consent/consent.db``."""
        return cls(Path(data_dir) / "consent" / DEFAULT_DB_NAME, audit, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                raise

    def _who(self, actor: ActorLike | None) -> ActorLike:
        who = actor if actor is not None else self.actor or self.audit.actor
        if who is None:
            raise InvalidArgument("a consent change needs an actor")
        return who

    @staticmethod
    def _record(row: sqlite3.Row) -> ConsentRecord:
        return ConsentRecord(
            consent_id=row["consent_id"],
            uscc=row["uscc"],
            bank_party=row["bank_party"],
            scope=row["scope"],
            granted_at=row["granted_at"],
            expires_at=row["expires_at"],
            granted_by=row["granted_by"],
            revoked_at=row["revoked_at"] or "",
            revoked_by=row["revoked_by"] or "",
        )

    # -- changes (audited) ----------------------------------------------------------------------
    def grant(
        self,
        uscc: str,
        bank_party: str,
        scope: str,
        expires_at: dt.datetime | str,
        *,
        actor: ActorLike | None = None,
        evidence: str = "",
    ) -> ConsentRecord:
        """Record that company ``uscc`` authorises ``bank_party`` for ``scope`` until a time.

        ``evidence`` is a reference to the signed authorisation (a document id), not the
        document itself.
        """
        code = normalize_uscc(uscc)
        _check_party(bank_party)
        _check_scope(scope)
        now = _utc(self._clock())
        expires = _utc(expires_at)
        if expires <= now:
            raise InvalidArgument("a consent must expire in the future")
        who = self._who(actor)
        record = ConsentRecord(
            consent_id=f"cns-{uuid.uuid4().hex[:16]}",
            uscc=code,
            bank_party=bank_party,
            scope=scope,
            granted_at=_iso(now),
            expires_at=_iso(expires),
            granted_by=who.party,
        )
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO consents (consent_id, uscc, bank_party, scope, granted_at,"
                " expires_at, granted_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.consent_id,
                    record.uscc,
                    record.bank_party,
                    record.scope,
                    record.granted_at,
                    record.expires_at,
                    record.granted_by,
                ),
            )
            self.audit.append(
                ev.CONSENT_GRANTED,
                who,
                {
                    "consent_id": record.consent_id,
                    "uscc": record.uscc,
                    "bank_party": bank_party,
                    "scope": scope,
                    "expires_at": record.expires_at,
                    "evidence": evidence,
                },
            )
        return record

    def revoke(
        self,
        uscc: str,
        bank_party: str,
        scope: str | None = None,
        *,
        actor: ActorLike | None = None,
    ) -> list[ConsentRecord]:
        """Revoke the company's consents to the bank still in force (of one scope, or all).

        Raises :class:`NotFound` when there is none to revoke.
        """
        code = normalize_uscc(uscc)
        _check_party(bank_party)
        if scope is not None:
            _check_scope(scope)
        now = _iso(_utc(self._clock()))
        who = self._who(actor)
        with self._tx() as conn:
            sql = (
                "SELECT * FROM consents WHERE uscc = ? AND bank_party = ?"
                " AND revoked_at IS NULL AND expires_at > ?"
            )
            args: list[str] = [code, bank_party, now]
            if scope is not None:
                sql += " AND scope = ?"
                args.append(scope)
            rows = conn.execute(sql, args).fetchall()
            if not rows:
                raise NotFound("no consent in force for this company, bank and scope")
            ids = [r["consent_id"] for r in rows]
            conn.executemany(
                "UPDATE consents SET revoked_at = ?, revoked_by = ? WHERE consent_id = ?",
                [(now, who.party, cid) for cid in ids],
            )
            for r in rows:
                self.audit.append(
                    ev.CONSENT_REVOKED,
                    who,
                    {
                        "consent_id": r["consent_id"],
                        "uscc": code,
                        "bank_party": bank_party,
                        "scope": r["scope"],
                    },
                )
        return [
            dataclasses.replace(self._record(r), revoked_at=now, revoked_by=who.party) for r in rows
        ]

    # -- reads ------------------------------------------------------------------------------------
    def list(
        self,
        uscc: str | None = None,
        bank_party: str | None = None,
        *,
        active_only: bool = False,
        now: dt.datetime | None = None,
    ) -> list[ConsentRecord]:
        """Consents, oldest first, optionally for one company and/or one bank."""
        sql, args = "SELECT * FROM consents WHERE 1 = 1", []
        if uscc is not None:
            sql += " AND uscc = ?"
            args.append(normalize_uscc(uscc))
        if bank_party is not None:
            sql += " AND bank_party = ?"
            args.append(_check_party(bank_party))
        if active_only:
            sql += " AND revoked_at IS NULL AND expires_at > ?"
            args.append(_iso(_utc(now or self._clock())))
        sql += " ORDER BY granted_at, rowid"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._record(r) for r in rows]

    def check(
        self, uscc: str, bank_party: str, scope: str, now: dt.datetime | None = None
    ) -> ConsentRecord:
        """The consent in force that lets ``bank_party`` use company ``uscc`` for ``scope``.

        Returns the one expiring last; raises :class:`PermissionDenied` when there is none
        (never named, expired or revoked: the message does not say which, nor the company).
        """
        code = normalize_uscc(uscc)
        _check_party(bank_party)
        _check_scope(scope)
        at = _iso(_utc(now or self._clock()))
        covering = "all" if scope in ALL_COVERS else scope
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM consents WHERE uscc = ? AND bank_party = ?"
                + _IN_FORCE
                + " ORDER BY expires_at DESC LIMIT 1",
                (code, bank_party, scope, covering, at),
            ).fetchone()
        if row is None:
            raise PermissionDenied("the company has no consent in force for this bank and scope")
        return self._record(row)

    def check_many(
        self,
        usccs: Sequence[str],
        bank_party: str,
        scope: str,
        now: dt.datetime | None = None,
    ) -> tuple[ConsentRecord | PermissionDenied, ...]:
        """:meth:`check` for several companies at once (one query, at one time ``now``): per
        company, the consent in force expiring last, or the :class:`PermissionDenied` that
        :meth:`check` would raise. A malformed USCC raises :class:`InvalidArgument`."""
        codes = [normalize_uscc(u) for u in usccs]
        _check_party(bank_party)
        _check_scope(scope)
        if not codes:
            return ()
        at = _iso(_utc(now or self._clock()))
        covering = "all" if scope in ALL_COVERS else scope
        wanted = sorted(set(codes))
        best: dict[str, ConsentRecord] = {}
        for lo in range(0, len(wanted), 256):  # well below SQLite's bound on parameters
            chunk = wanted[lo : lo + 256]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT * FROM consents WHERE uscc IN ({marks}) AND bank_party = ?"
                    + _IN_FORCE
                    + " ORDER BY uscc, expires_at DESC",
                    (*chunk, bank_party, scope, covering, at),
                ).fetchall()
            for row in rows:
                if row["uscc"] not in best:
                    best[row["uscc"]] = self._record(row)
        denied = "the company has no consent in force for this bank and scope"
        return tuple(best.get(c) or PermissionDenied(denied) for c in codes)
