"""Objections and credit-repair applications: a state machine, stored and audited.

A company files an **objection** (异议申诉) against any record the platform holds about it, or
a **credit repair** application (信用修复) for a penalty or dishonesty record
(:data:`REPAIRABLE_TABLES`), with its reason and optionally an attachment (PDF, PNG or JPEG,
at most 5 MiB). The platform's operator works the queue::

    submitted --review--> in_review
    submitted | in_review --correct--> corrected   (accepted: the record is corrected/removed
                                                    from use; it no longer counts in scoring)
    submitted | in_review --flag-----> flagged     (accepted: the record stays, marked with the
                                                    company's statement)
    submitted | in_review --reject---> rejected    (a reason is required)
    submitted | in_review --withdraw-> withdrawn   (the company)

While an objection is open (``submitted`` or ``in_review``) its record is **disputed**, and the
company may ask that the record be left out of scoring until the objection is decided
(``request_exclusion``). :meth:`ObjectionStore.excluded_records` lists the records to leave
out: open objections with that request, and corrected records.

Every step is stored with who did it, when and the note, shown to the company and the
operator, and appended to the platform's audit log (``objection_submitted`` /
``objection_step``, actor = the person, details: ids, table, states; never the reason text,
which stays in the store).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.audit import ActorLike, AuditLog
from models.audit.entry import Actor
from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.private_db import PrivateDb
from models.uscc import normalize_uscc

KINDS = ("objection", "repair")
#: Tables whose records a credit-repair application may concern (penalties, dishonesty lists).
REPAIRABLE_TABLES = (
    "abnormal_operations", "serious_violations", "dishonest_debtors", "admin_actions",
    "tax_abnormal", "tax_arrears", "environmental_ratings", "customs_records",
)  # fmt: skip
OPEN_STATES = ("submitted", "in_review")
#: action -> (states it applies to, resulting state, who may take it)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "review": (("submitted",), "in_review", "operator"),
    "correct": (OPEN_STATES, "corrected", "operator"),
    "flag": (OPEN_STATES, "flagged", "operator"),
    "reject": (OPEN_STATES, "rejected", "operator"),
    "withdraw": (OPEN_STATES, "withdrawn", "company"),
}
MAX_REASON = 2000
MAX_ATTACHMENT = 5 * 1024 * 1024
_MAGIC = {b"%PDF": ("pdf", "application/pdf"), b"\x89PNG": ("png", "image/png"),
          b"\xff\xd8\xff": ("jpg", "image/jpeg")}  # fmt: skip

OBJECTION_SUBMITTED = "objection_submitted"
OBJECTION_STEP = "objection_step"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objections (
    objection_id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL,
    kind TEXT NOT NULL,
    table_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    record_date TEXT NOT NULL,
    reason TEXT NOT NULL,
    attachment TEXT NOT NULL DEFAULT '',
    attachment_type TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    exclude_requested INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objections_uscc ON objections (uscc);
CREATE TABLE IF NOT EXISTS steps (
    objection_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (objection_id, n)
);
"""


@dataclass(frozen=True)
class Objection:
    objection_id: str
    uscc: str
    kind: str
    table_name: str
    record_id: str
    record_date: str
    reason: str
    attachment: str
    attachment_type: str
    state: str
    exclude_requested: bool
    created_at: str
    updated_at: str

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class Step:
    n: int
    at: str
    actor: str
    role: str
    action: str
    from_state: str
    to_state: str
    note: str


def attachment_kind(data: bytes) -> tuple[str, str]:
    """``(extension, media type)`` of an accepted attachment, from its first bytes."""
    if len(data) > MAX_ATTACHMENT:
        raise InvalidArgument("an attachment is at most 5 MiB")
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    raise InvalidArgument("an attachment is a PDF, PNG or JPEG file")


class ObjectionStore(PrivateDb):
    """The platform's objections (``<data_dir>/objections/objections.db``; files beside)."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        audit: AuditLog,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.root = Path(data_dir) / "objections"
        super().__init__(self.root / "objections.db", _SCHEMA)
        (self.root / "files").mkdir(parents=True, exist_ok=True, mode=0o700)
        self.audit = audit
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _now(self) -> str:
        return self._clock().astimezone(dt.UTC).isoformat(timespec="seconds")

    @staticmethod
    def _obj(row: sqlite3.Row) -> Objection:
        return Objection(
            row["objection_id"], row["uscc"], row["kind"], row["table_name"], row["record_id"],
            row["record_date"], row["reason"], row["attachment"], row["attachment_type"],
            row["state"], bool(row["exclude_requested"]), row["created_at"], row["updated_at"],
        )  # fmt: skip

    # -- changes --------------------------------------------------------------------------------
    def submit(
        self,
        uscc: str,
        kind: str,
        table_name: str,
        record_id: str,
        record_date: str,
        reason: str,
        actor: ActorLike,
        *,
        attachment: bytes | None = None,
    ) -> Objection:
        """File an objection or a repair application (state ``submitted``)."""
        code = normalize_uscc(uscc)
        if kind not in KINDS:
            raise InvalidArgument("kind is objection or repair")
        if kind == "repair" and table_name not in REPAIRABLE_TABLES:
            raise InvalidArgument("credit repair concerns penalty or dishonesty records only")
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidArgument(f"a reason of 1 to {MAX_REASON} characters is required")
        if not record_id or len(record_id) > 64 or len(table_name) > 64:
            raise InvalidArgument("name the record the objection concerns")
        if self.open_for(code, table_name, record_id) is not None:
            raise FailedPrecondition("an objection on this record is already open")
        who = Actor.of(actor)
        oid = f"obj-{uuid.uuid4().hex[:12]}"
        now = self._now()
        stored, media = "", ""
        if attachment:
            ext, media = attachment_kind(attachment)
            stored = f"{oid}.{ext}"
            path = self.root / "files" / stored
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(attachment)
        try:
            with self.tx() as conn:
                conn.execute(
                    "INSERT INTO objections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (oid, code, kind, table_name, record_id, record_date, reason, stored, media,
                     "submitted", now, now),
                )  # fmt: skip
                self._step(conn, oid, who, "submit", "", "submitted", "", now)
                self.audit.append(
                    OBJECTION_SUBMITTED,
                    who,
                    {"objection_id": oid, "uscc": code, "kind": kind, "table": table_name,
                     "record_id": record_id, "attachment": bool(stored),
                     "reason_sha256": hashlib.sha256(reason.encode()).hexdigest()},
                )  # fmt: skip
        except BaseException:
            if stored:
                (self.root / "files" / stored).unlink(missing_ok=True)
            raise
        return self.get(oid)

    def act(self, objection_id: str, action: str, actor: ActorLike, note: str = "") -> Objection:
        """Take ``action`` (:data:`ACTIONS`) on an objection; refused if the state or the role
        does not allow it. ``reject`` needs a reason (``note``)."""
        if action not in ACTIONS:
            raise InvalidArgument("unknown action")
        allowed, target, role = ACTIONS[action]
        who = Actor.of(actor)
        if who.role != role:
            raise PermissionDenied("this step is not yours to take")
        note = note.strip()
        if len(note) > MAX_REASON:
            raise InvalidArgument(f"a note is at most {MAX_REASON} characters")
        if action == "reject" and not note:
            raise InvalidArgument("a rejection needs a reason")
        current = self.get(objection_id)
        if role == "company" and who.party != f"company/{current.uscc}":
            raise NotFound("no such objection")
        if current.state not in allowed:
            raise FailedPrecondition(f"an objection in state {current.state} cannot be {action}ed")
        now = self._now()
        with self.tx() as conn:
            updated = conn.execute(
                "UPDATE objections SET state = ?, updated_at = ? WHERE objection_id = ?"
                " AND state = ?",
                (target, now, objection_id, current.state),
            ).rowcount
            if updated != 1:
                raise FailedPrecondition("the objection changed meanwhile; reload")
            self._step(conn, objection_id, who, action, current.state, target, note, now)
            self.audit.append(
                OBJECTION_STEP,
                who,
                {"objection_id": objection_id, "uscc": current.uscc, "kind": current.kind,
                 "table": current.table_name, "record_id": current.record_id, "action": action,
                 "from": current.state, "to": target},
            )  # fmt: skip
        return self.get(objection_id)

    def request_exclusion(self, objection_id: str, actor: ActorLike) -> Objection:
        """The company asks that the disputed record be left out of scoring while open."""
        who = Actor.of(actor)
        current = self.get(objection_id)
        if who.role != "company" or who.party != f"company/{current.uscc}":
            raise NotFound("no such objection")
        if not current.open:
            raise FailedPrecondition("only an open objection's record can be excluded")
        if current.exclude_requested:
            return current
        now = self._now()
        with self.tx() as conn:
            conn.execute(
                "UPDATE objections SET exclude_requested = 1, updated_at = ?"
                " WHERE objection_id = ?",
                (now, objection_id),
            )
            self._step(conn, objection_id, who, "exclude", current.state, current.state, "", now)
            self.audit.append(
                OBJECTION_STEP,
                who,
                {"objection_id": objection_id, "uscc": current.uscc, "kind": current.kind,
                 "table": current.table_name, "record_id": current.record_id,
                 "action": "exclude_from_scoring", "from": current.state, "to": current.state},
            )  # fmt: skip
        return self.get(objection_id)

    def _step(
        self, conn: sqlite3.Connection, oid: str, who: Actor, action: str, frm: str, to: str,
        note: str, now: str,
    ) -> None:  # fmt: skip
        n = conn.execute("SELECT COUNT(*) FROM steps WHERE objection_id = ?", (oid,)).fetchone()[0]
        conn.execute(
            "INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (oid, n + 1, now, who.party, who.role, action, frm, to, note),
        )

    # -- reads ----------------------------------------------------------------------------------
    def get(self, objection_id: str) -> Objection:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM objections WHERE objection_id = ?", (objection_id,)
            ).fetchone()
        if row is None:
            raise NotFound("no such objection")
        return self._obj(row)

    def get_for(self, objection_id: str, uscc: str) -> Objection:
        """The objection if it is this company's (another company's does not exist for it)."""
        obj = self.get(objection_id)
        if obj.uscc != uscc:
            raise NotFound("no such objection")
        return obj

    def steps(self, objection_id: str) -> list[Step]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM steps WHERE objection_id = ? ORDER BY n", (objection_id,)
            ).fetchall()
        return [Step(r["n"], r["at"], r["actor"], r["role"], r["action"], r["from_state"],
                     r["to_state"], r["note"]) for r in rows]  # fmt: skip

    def list(self, uscc: str | None = None, *, open_only: bool = False) -> list[Objection]:
        sql, args = "SELECT * FROM objections WHERE 1 = 1", []
        if uscc is not None:
            sql += " AND uscc = ?"
            args.append(normalize_uscc(uscc))
        if open_only:
            sql += " AND state IN ('submitted', 'in_review')"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
        return [self._obj(r) for r in rows]

    def open_for(self, uscc: str, table_name: str, record_id: str) -> Objection | None:
        for obj in self.list(uscc, open_only=True):
            if obj.table_name == table_name and obj.record_id == record_id:
                return obj
        return None

    def record_marks(self, uscc: str) -> dict[tuple[str, str], Objection]:
        """``{(table, record id): latest objection}`` for the company's records."""
        return {(o.table_name, o.record_id): o for o in self.list(uscc)}

    def excluded_records(self, uscc: str) -> set[tuple[str, str]]:
        """Records to leave out of scoring: disputed with an exclusion request, or corrected."""
        return {
            (o.table_name, o.record_id)
            for o in self.list(uscc)
            if (o.open and o.exclude_requested) or o.state == "corrected"
        }

    def attachment_path(self, obj: Objection) -> Path:
        if not obj.attachment:
            raise NotFound("no attachment")
        return self.root / "files" / obj.attachment
