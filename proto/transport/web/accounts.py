"""Console accounts stored on their node: argon2id password hashes, lockout, password rules.

One SQLite file per node (``<data_dir>/console/accounts.db``, mode 0600). An account is a
person (or, on the platform, a company identified by its USCC) with one role:

=========== ======= =====================================================================
role        node    may
=========== ======= =====================================================================
officer     bank    find companies, score them, batch-score, print reports
approver    bank    see the model registry, promote a version (an audited approval)
regulator   both    read lineage, verify audit logs, privacy report, score counts
operator    platform served tables, consents, objections queue, audit verification
company     platform its own records, consents, uses of its data, objections
=========== ======= =====================================================================

``party`` is the name the audit log records as the actor: ``<bank>/<username>`` for a bank's
people, ``platform/<username>`` for the platform's operators, ``company/<USCC>`` for a company,
``regulator/<username>`` for a regulator's examiner.

Security rules: passwords of at least 12 characters with letters and digits, not containing
the username; argon2id hashes (argon2-cffi's defaults, rehashed on login when they change);
after ``max_failures`` wrong passwords in a row the account is locked for ``lockout_s``
seconds (a correct password during the lockout is refused too); an unknown username costs the
same hash verification as a known one, and both answer with the same error.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from models.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied

ROLES = ("officer", "approver", "regulator", "operator", "company")
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    party TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""


class BadCredentials(PermissionDenied):
    """Wrong username or password (the message never says which)."""


class AccountLocked(PermissionDenied):
    """Too many wrong passwords in a row: the account is locked for a while."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    party: str
    subject: str = ""  # the company's USCC for role "company"
    display_name: str = ""


def check_password_rules(password: str, username: str) -> None:
    """Refuse a weak password with a message naming the rule (never the password)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[0-9]", password):
        raise InvalidArgument("a password needs letters and digits")
    if username.lower() in password.lower():
        raise InvalidArgument("a password must not contain the username")
    if len(set(password)) < 6:
        raise InvalidArgument("a password needs at least 6 different characters")


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


class AccountStore:
    """The node's console accounts (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_failures: int = 5,
        lockout_s: float = 900.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash("not-a-real-password-0")
        self._lock = threading.Lock()
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.executescript(_SCHEMA)
            self._conn.commit()

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str], **kwargs: object) -> AccountStore:
        return cls(Path(data_dir) / "console" / "accounts.db", **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _account(row: sqlite3.Row) -> Account:
        return Account(
            row["username"], row["role"], row["party"], row["subject"], row["display_name"]
        )

    def create(
        self,
        username: str,
        password: str,
        role: str,
        party: str,
        *,
        subject: str = "",
        display_name: str = "",
    ) -> Account:
        """Add an account (the password is checked against the rules, then hashed)."""
        if not _USERNAME.fullmatch(username):
            raise InvalidArgument("a username is 2-64 letters, digits or ._@-")
        if role not in ROLES:
            raise InvalidArgument(f"unknown role (one of {', '.join(ROLES)})")
        check_password_rules(password, username)
        digest = self._hasher.hash(password)
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO accounts (username, role, party, subject, display_name,"
                    " password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (username, role, party, subject, display_name, digest, _iso(self._clock())),
                )
                self._conn.commit()
            except sqlite3.IntegrityError:
                raise AlreadyExists("an account with this username exists") from None
        return Account(username, role, party, subject, display_name)

    def get(self, username: str) -> Account:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM accounts WHERE username = ?", (username,)
            ).fetchone()
        if row is None:
            raise NotFound("no such account")
        return self._account(row)

    def list(self, role: str | None = None) -> list[Account]:
        sql, args = "SELECT * FROM accounts", []
        if role is not None:
            sql += " WHERE role = ?"
            args.append(role)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY username", args).fetchall()
        return [self._account(r) for r in rows]

    def locked(self, username: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT locked_until FROM accounts WHERE username = ?", (username,)
            ).fetchone()
        return bool(row and row[0] and row[0] > _iso(self._clock()))

    def authenticate(self, username: str, password: str) -> Account:
        """The account if the password is right; :class:`BadCredentials` or
        :class:`AccountLocked` otherwise (each failure counts towards the lockout)."""
        now = self._clock()
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM accounts WHERE username = ?", (username[:64],)
            ).fetchone()
        if row is None:
            self._verify(self._dummy, password)  # same cost as a known username
            raise BadCredentials("wrong username or password")
        if row["locked_until"] and row["locked_until"] > _iso(now):
            raise AccountLocked("the account is locked after repeated failures; try later")
        if not self._verify(row["password_hash"], password):
            failures = int(row["failures"]) + 1
            locked_until = ""
            if failures >= self.max_failures:
                locked_until = _iso(now + dt.timedelta(seconds=self.lockout_s))
                failures = 0
            with self._lock:
                self._conn.execute(
                    "UPDATE accounts SET failures = ?, locked_until = ? WHERE username = ?",
                    (failures, locked_until, username),
                )
                self._conn.commit()
            if locked_until:
                raise AccountLocked("the account is locked after repeated failures; try later")
            raise BadCredentials("wrong username or password")
        new_hash = row["password_hash"]
        if self._hasher.check_needs_rehash(new_hash):
            new_hash = self._hasher.hash(password)
        with self._lock:
            self._conn.execute(
                "UPDATE accounts SET failures = 0, locked_until = '', password_hash = ?"
                " WHERE username = ?",
                (new_hash, username),
            )
            self._conn.commit()
        return self._account(row)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(digest, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def set_password(self, username: str, password: str) -> None:
        self.get(username)
        check_password_rules(password, username)
        with self._lock:
            self._conn.execute(
                "UPDATE accounts SET password_hash = ?, failures = 0, locked_until = ''"
                " WHERE username = ?",
                (self._hasher.hash(password), username),
            )
            self._conn.commit()

    def unlock(self, username: str) -> None:
        self.get(username)
        with self._lock:
            self._conn.execute(
                "UPDATE accounts SET failures = 0, locked_until = '' WHERE username = ?",
                (username,),
            )
            self._conn.commit()
