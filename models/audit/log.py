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

Group commit: threads of one process that append while another thread is writing queue their
entries, and the next writer seals and writes every queued entry in one go (one ``flock``, one
``write``, one signed head for the batch). Each entry is still validated by its own caller
first (a bad entry fails only its caller's append), hash-chained and signed on its own, and
every ``append`` returns only once its entries are written (and ``fsync``-ed when enabled).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.audit.entry import (
    GENESIS_HASH,
    Actor,
    ActorLike,
    Draft,
    LogEntry,
    prepare,
    seal_draft,
    utc_timestamp,
)
from models.audit.events import AUDIT_KEY_ROTATED
from models.audit.index import AuditIndex
from models.audit.keychain import KeyChain, rotation_details
from models.audit.keys import (
    PathLike,
    head_path,
    key_fingerprint,
    load_public_key,
    load_signing_key,
    public_key_path,
    public_key_pem,
    write_private_key,
)
from models.errors import DataLoss, FailedPrecondition, InvalidArgument

HEAD_CONTEXT = b"fedcredit-audit-head-v1\x00"
HEAD_SLOT = 256
_TAIL_CHUNK = 65536
_BAD_HEAD: dict[str, Any] = {"seq": -1, "hash": "", "signature": ""}


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of ``exc`` for another thread to raise (each raise sets its own traceback)."""
    try:
        dup = copy.copy(exc)
    except Exception:
        return exc
    dup.__cause__ = exc
    return dup


class _Ticket:
    """One caller's prepared entries waiting in the group-commit queue."""

    __slots__ = ("done", "drafts", "entries", "error")

    def __init__(self, drafts: list[Draft]) -> None:
        self.drafts = drafts
        self.entries: list[LogEntry] = []
        self.error: BaseException | None = None
        self.done = False

    def result(self) -> list[LogEntry]:
        if self.error is not None:
            raise self.error
        return self.entries


def _next_key_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".next")


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
        self._key_path = None if isinstance(signing_key, Ed25519PrivateKey) else Path(signing_key)
        self._key = (
            signing_key
            if isinstance(signing_key, Ed25519PrivateKey)
            else load_signing_key(signing_key)
        )
        self._key_stamp = self._stamp()
        self.actor = Actor.of(actor) if actor is not None else None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._fsync = fsync
        self._lock = threading.Lock()
        self._queue_cv = threading.Condition(threading.Lock())
        self._queue: list[_Ticket] = []
        self._committing = False
        self._head_path = head_path(self.path)
        self._size = -1  # log size after our last append (-1: unknown, re-read the tail)
        self._seq = 0
        self._hash = GENESIS_HASH
        self._head_fd = -1
        self._index: AuditIndex | None = None
        self.chain = self._install_public_key()

    @property
    def public_key_path(self) -> Path:
        return public_key_path(self.path)

    @property
    def root_key(self) -> Ed25519PublicKey:
        """The key the log started under (``audit.pub``): the one verifiers pin."""
        return self.chain.root

    @property
    def key_fingerprint(self) -> str:
        """Fingerprint of the root key (stable across rotations)."""
        return self.chain.root_fingerprint

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key that signs new entries (the root key until the first rotation)."""
        return self._key.public_key()

    def _stamp(self) -> tuple[int, int] | None:
        if self._key_path is None:
            return None
        try:
            st = os.stat(self._key_path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _install_public_key(self) -> KeyChain:
        """The root key (``audit.pub``, written for a new log) and the chain of rotations; the
        loaded signing key must be the chain's current key."""
        pub_path = self.public_key_path
        if not pub_path.exists():
            tmp = pub_path.with_name(pub_path.name + ".tmp")
            tmp.write_bytes(public_key_pem(self._key))
            os.replace(tmp, pub_path)
        chain = KeyChain(load_public_key(pub_path))
        if self.path.exists() and self.path.stat().st_size > 0:
            try:
                chain = KeyChain.of(chain.root, self.rotation_entries())
            except InvalidArgument:
                raise FailedPrecondition("the audit log's key rotations do not verify") from None
        if chain.current_fingerprint != key_fingerprint(self._key):
            self._finish_rotation(chain)
        return chain

    def _finish_rotation(self, chain: KeyChain) -> None:
        """Load the chain's current key: from the key file, or from a rotation that was cut
        short after its entry was written (``<key>.next``)."""
        if self._key_path is not None:
            pending = _next_key_path(self._key_path)
            for candidate in (self._key_path, pending):
                if not candidate.exists():
                    continue
                key = load_signing_key(candidate)
                if key_fingerprint(key) == chain.current_fingerprint:
                    if candidate == pending:
                        os.replace(pending, self._key_path)
                    self._key, self._key_stamp = key, self._stamp()
                    return
        raise FailedPrecondition("the audit signing key is not the log's current key")

    def rotation_entries(self) -> list[LogEntry]:
        """The ``audit_key_rotated`` entries, in log order (through the index)."""
        return self.index.query(event=AUDIT_KEY_ROTATED)

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
        return self._commit([prepare(event, who, details)])[0]

    def append_many(
        self, records: Sequence[tuple[str, ActorLike | None, Mapping[str, Any] | None]]
    ) -> list[LogEntry]:
        """Append several ``(event, actor, details)`` entries at once, in order.

        Each entry is validated, hash-chained and signed exactly as by :meth:`append`; they
        are written together under one lock (one write, one ``fsync`` when enabled) and the
        signed head names the last of them. Either every entry is sealed and written, or
        (invalid details, a missing actor) none is.
        """
        drafts: list[Draft] = []
        for event, actor, details in records:
            who = actor if actor is not None else self.actor
            if who is None:
                raise FailedPrecondition("an audit entry needs an actor")
            drafts.append(prepare(event, who, details))
        if not drafts:
            return []
        return self._commit(drafts)

    def _commit(self, drafts: list[Draft]) -> list[LogEntry]:
        """Queue validated entries and return them once written (see "Group commit" in the
        module docstring): the first caller to find no writer at work writes every queued
        ticket, in queue order; the others wait for it."""
        ticket = _Ticket(drafts)
        with self._queue_cv:
            self._queue.append(ticket)
            while self._committing and not ticket.done:
                self._queue_cv.wait()
            if ticket.done:
                return ticket.result()
            self._committing = True
            batch, self._queue = self._queue, []
        try:
            self._write_batch(batch)
        except BaseException as exc:  # nothing of the batch is acknowledged
            for t in batch:
                t.error = exc if t is ticket else _own_copy(exc)
        finally:
            with self._queue_cv:
                for t in batch:
                    t.done = True
                self._committing = False
                self._queue_cv.notify_all()
        return ticket.result()

    def _write_batch(self, batch: list[_Ticket]) -> None:
        """Seal every ticket's entries in order after the log's last entry and write them with
        one signed head."""
        with self._lock, self._locked_file() as (fd, size):
            seq, prev = self._seq, self._hash
            lines: list[str] = []
            for t in batch:
                entries: list[LogEntry] = []
                for draft in t.drafts:
                    ts = utc_timestamp(self._clock())
                    entry, line = seal_draft(draft, seq + 1, ts, prev, self._key)
                    entries.append(entry)
                    lines.append(line)
                    seq, prev = entry.seq, entry.hash
                t.entries = entries
            data = "".join(lines).encode("utf-8")
            self._write_all(fd, data)
            self._write_head(seq, prev)
            self._seq, self._hash, self._size = seq, prev, size + len(data)

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if self._fsync:
            os.fsync(fd)

    def rotate(self, actor: ActorLike | None = None, reason: str = "") -> LogEntry:
        """Retire the signing key: append an ``audit_key_rotated`` entry, signed by the current
        key and naming a new one, and sign everything after it with the new key.

        The new private key replaces the key file (the old one is gone: a key that leaks after
        its retirement cannot sign entries that verify). Needs the log to have been opened with
        the key's path. Crash-safe: the new key is written to ``<key>.next`` first, renamed
        over the key file after the entry is written, and a cut-short rotation is completed the
        next time the log is opened.
        """
        if self._key_path is None:
            raise FailedPrecondition("rotating the audit key needs the path of its file")
        who = actor if actor is not None else self.actor
        if who is None:
            raise FailedPrecondition("an audit entry needs an actor")
        new = Ed25519PrivateKey.generate()
        pending = _next_key_path(self._key_path)
        with self._lock, self._locked_file() as (fd, size):
            pending.unlink(missing_ok=True)
            write_private_key(pending, new)
            return self._append_locked(
                fd, size, AUDIT_KEY_ROTATED, who, rotation_details(new, reason), next_key=new
            )

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[tuple[int, int]]:
        """The log open for appending under an exclusive ``flock``, and its size, with the tail
        (and any key rotation by another process) caught up."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size != self._size:
                self._seq, self._hash = self._read_tail(fd, size)
                self._catch_up_rotations()
            yield fd, size
        finally:
            os.close(fd)  # also releases the flock

    def _catch_up_rotations(self) -> None:
        """Another process appended: follow any rotation it made (and load its new key)."""
        after = self.chain.steps[-1][0] if self.chain.steps else 0
        new = self.index.query(event=AUDIT_KEY_ROTATED, after_seq=after)
        if not new and self._stamp() == self._key_stamp:
            return
        try:
            chain = KeyChain.of(self.chain.root, self.rotation_entries())
        except InvalidArgument:
            raise FailedPrecondition("the audit log's key rotations do not verify") from None
        if chain.current_fingerprint != key_fingerprint(self._key):
            self._finish_rotation(chain)
        self.chain = chain

    def _append_locked(
        self,
        fd: int,
        size: int,
        event: str,
        who: ActorLike,
        details: Mapping[str, Any] | None,
        next_key: Ed25519PrivateKey | None = None,
    ) -> LogEntry:
        draft = prepare(event, who, details)
        ts = utc_timestamp(self._clock())
        entry, line = seal_draft(draft, self._seq + 1, ts, self._hash, self._key)
        data = line.encode("utf-8")
        self._write_all(fd, data)
        if next_key is not None:  # the rotation entry is written: hand over to the new key
            assert self._key_path is not None
            os.replace(_next_key_path(self._key_path), self._key_path)
            self._key, self._key_stamp = next_key, self._stamp()
            self.chain = self.chain.extended(entry)
        self._write_head(entry.seq, entry.hash)  # signed by the key in force after the entry
        self._seq, self._hash, self._size = entry.seq, entry.hash, size + len(data)
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
        record = f'{{"seq":{int(seq)},"hash":"{hash_hex}","signature":"{sig}"}}'
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
        path = self._head_path
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
