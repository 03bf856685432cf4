"""The append-only, hash-chained, signed audit log of one node.

Files, all in one directory (``audit.jsonl`` is the usual log name):

- ``audit.jsonl``: one entry per line (:mod:`models.audit.entry`), appended, never rewritten;
- ``audit.pub``: the node's Ed25519 public key (PEM) for verifiers;
- ``audit.head``: the signed sequence number and hash of the last entry; it lets
  :func:`models.audit.verify.verify` detect a log cut short. Two fixed-size slots of
  ``HEAD_SLOT`` bytes (a padded JSON line each); entry ``seq`` goes to slot ``seq % 2``,
  written in place (one ``pwrite`` under the log's lock, not a file rewrite per append), so a
  write torn by a crash leaves the other slot, one entry older, intact. The reader takes the
  newest slot that parses. (A single JSON object, the first format, is still read.)

Appends are serialised by a thread lock and an exclusive ``flock`` on the log file, so several
processes of one node (the server and its CLI) may append to the same log safely.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.audit.entry import (
    GENESIS_HASH,
    Actor,
    ActorLike,
    LogEntry,
    seal,
    utc_timestamp,
)
from models.audit.index import AuditIndex
from models.audit.keys import (
    PathLike,
    head_path,
    key_fingerprint,
    load_public_key,
    load_signing_key,
    public_key_path,
    public_key_pem,
)
from models.errors import DataLoss, FailedPrecondition

HEAD_CONTEXT = b"fedcredit-audit-head-v1\x00"
HEAD_SLOT = 256
_TAIL_CHUNK = 65536
_BAD_HEAD: dict[str, Any] = {"seq": -1, "hash": "", "signature": ""}


def _head_bytes(seq: int, hash_hex: str) -> bytes:
    return HEAD_CONTEXT + seq.to_bytes(8, "big") + bytes.fromhex(hash_hex)


def _parse_head(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(raw.decode("utf-8"))
        int(obj["seq"])
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        return None
    return obj if isinstance(obj, dict) else None


def read_head(log_path: PathLike) -> dict[str, Any] | None:
    """The newest head record ``{"seq", "hash", "signature"}``, or ``None`` if there is none.

    A head file that holds no readable record gives ``seq`` -1 (verification then fails).
    """
    try:
        data = head_path(log_path).read_bytes()
    except FileNotFoundError:
        return None
    if len(data) == 2 * HEAD_SLOT:
        slots = [_parse_head(data[i * HEAD_SLOT : (i + 1) * HEAD_SLOT]) for i in (0, 1)]
        found = [h for h in slots if h is not None]
        return max(found, key=lambda h: int(h["seq"])) if found else dict(_BAD_HEAD)
    return _parse_head(data) or dict(_BAD_HEAD)


def head_ok(head: Mapping[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when the head record is well formed and signed by ``public_key``."""
    try:
        seq, hash_hex, sig = int(head["seq"]), str(head["hash"]), str(head["signature"])
        public_key.verify(bytes.fromhex(sig), _head_bytes(seq, hash_hex))
    except (KeyError, TypeError, ValueError, OverflowError, InvalidSignature):
        return False
    return seq >= 0


def read_entries(path: PathLike) -> list[LogEntry]:
    """Parse every entry of a log file, without verifying it (use ``verify`` for that).

    Lines that do not parse are skipped; an absent file has no entries.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    out: list[LogEntry] = []
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            out.append(LogEntry.from_json_line(line))
        except ValueError:
            continue
    return out


class AuditLog:
    """Append signed entries to one node's audit log.

    Parameters
    ----------
    path
        The log file (``<node data dir>/audit/audit.jsonl``); created with its directory.
    signing_key
        The node's Ed25519 audit key, or the path of its PEM file (see
        :func:`models.audit.keys.load_or_create_signing_key`).
    actor
        Default actor for :meth:`append` (usually the node itself).
    clock
        Returns the current aware datetime (tests inject one).
    fsync
        ``fsync`` the log after each append (durable against power loss, slower).
    """

    def __init__(
        self,
        path: PathLike,
        signing_key: Ed25519PrivateKey | PathLike,
        *,
        actor: ActorLike | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = (
            signing_key
            if isinstance(signing_key, Ed25519PrivateKey)
            else load_signing_key(signing_key)
        )
        self._key = key
        self.public_key: Ed25519PublicKey = key.public_key()
        self.key_fingerprint = key_fingerprint(key)
        self.actor = Actor.of(actor) if actor is not None else None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._fsync = fsync
        self._lock = threading.Lock()
        self._size = -1  # log size after our last append (-1: unknown, re-read the tail)
        self._seq = 0
        self._hash = GENESIS_HASH
        self._head_fd = -1
        self._index: AuditIndex | None = None
        self._install_public_key()

    @property
    def public_key_path(self) -> Path:
        return public_key_path(self.path)

    def _install_public_key(self) -> None:
        pub_path = self.public_key_path
        pem = public_key_pem(self._key)
        if pub_path.exists():
            if key_fingerprint(load_public_key(pub_path)) == self.key_fingerprint:
                return
            if self.path.exists() and self.path.stat().st_size > 0:
                raise FailedPrecondition("the audit signing key does not match the log's key")
        tmp = pub_path.with_name(pub_path.name + ".tmp")
        tmp.write_bytes(pem)
        os.replace(tmp, pub_path)

    # -- appending ----------------------------------------------------------------------------
    def append(
        self,
        event: str,
        actor: ActorLike | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> LogEntry:
        """Append one signed entry and return it.

        ``details`` holds JSON values describing the event (ids, digests, counts, names),
        never rows of data; see :mod:`models.audit.events` for the conventional keys.
        """
        who = actor if actor is not None else self.actor
        if who is None:
            raise FailedPrecondition("an audit entry needs an actor")
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size != self._size:
                    self._seq, self._hash = self._read_tail(fd, size)
                entry = seal(
                    self._seq + 1,
                    utc_timestamp(self._clock()),
                    who,
                    event,
                    details,
                    self._hash,
                    self._key,
                )
                data = entry.to_json_line().encode("utf-8")
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self._fsync:
                    os.fsync(fd)
                self._write_head(entry.seq, entry.hash)
                self._seq, self._hash, self._size = entry.seq, entry.hash, size + len(data)
            finally:
                os.close(fd)  # also releases the flock
        return entry

    def _read_tail(self, fd: int, size: int) -> tuple[int, str]:
        """Sequence number and hash of the last entry in the file (0 and genesis if empty)."""
        if size == 0:
            return 0, GENESIS_HASH
        start = size
        buf = b""
        while start > 0:
            step = min(_TAIL_CHUNK, start)
            start -= step
            buf = os.pread(fd, step, start) + buf
            if buf.count(b"\n") >= 2 or start == 0:
                break
        if not buf.endswith(b"\n"):
            raise DataLoss("the audit log ends with an incomplete entry; run audit verify")
        last = buf[:-1].rsplit(b"\n", 1)[-1]
        try:
            entry = LogEntry.from_json_line(last)
        except ValueError:
            raise DataLoss("the audit log's last entry is unreadable; run audit verify") from None
        return entry.seq, entry.hash

    def _write_head(self, seq: int, hash_hex: str) -> None:
        """Sign the head and write it to slot ``seq % 2`` (caller holds the log's flock)."""
        sig = self._key.sign(_head_bytes(seq, hash_hex)).hex()
        record = json.dumps({"seq": seq, "hash": hash_hex, "signature": sig}, separators=(",", ":"))
        slot = record.encode("ascii").ljust(HEAD_SLOT - 1) + b"\n"
        if len(slot) != HEAD_SLOT:
            raise FailedPrecondition("audit head record does not fit its slot")
        fd = self._head_file(slot)
        os.pwrite(fd, slot, (seq % 2) * HEAD_SLOT)
        if self._fsync:
            os.fsync(fd)

    def _head_file(self, slot: bytes) -> int:
        """An open descriptor on a two-slot head file (created, or converted from the first
        format, atomically with ``slot`` in both slots)."""
        path = head_path(self.path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if self._head_fd >= 0:
            mine = os.fstat(self._head_fd)
            if st is not None and (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                return self._head_fd
            os.close(self._head_fd)
            self._head_fd = -1
        if st is None or st.st_size != 2 * HEAD_SLOT:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(slot + slot)
            os.replace(tmp, path)
        self._head_fd = os.open(path, os.O_RDWR)
        return self._head_fd

    def close(self) -> None:
        """Release the head file descriptor and the index (using the log again reopens them)."""
        with self._lock:
            if self._head_fd >= 0:
                os.close(self._head_fd)
                self._head_fd = -1
            if self._index is not None:
                self._index.close()

    def __del__(self) -> None:
        fd = getattr(self, "_head_fd", -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- reading ------------------------------------------------------------------------------
    def entries(self) -> list[LogEntry]:
        """Every entry currently in the log (unverified; see ``verify``)."""
        return read_entries(self.path)

    @property
    def index(self) -> AuditIndex:
        """The log's SQLite index (:mod:`models.audit.index`), brought up to date on use."""
        if self._index is None:
            self._index = AuditIndex(self.path)
        return self._index

    def query(self, **filters: Any) -> list[LogEntry]:
        """Entries matching :func:`models.audit.query.query` filters (through the index)."""
        return self.index.query(**filters)
