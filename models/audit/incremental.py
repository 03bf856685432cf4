"""Verify a growing audit log incrementally: from the last verified checkpoint, cached per head.

:func:`models.audit.verify.verify` re-reads, re-hashes and re-checks the signature of every
entry on every call (seconds of CPU and the whole log in memory for a large log).
:class:`IncrementalVerifier` keeps a checkpoint of what it verified (byte offset, a SHA-256 of
those bytes, the next sequence number, the chain hash and the key in force) and on the next
call:

1. returns the previous report unchanged when the log and its head are unchanged (same inode,
   size, modification and change times, and head bytes);
2. otherwise checks that the verified prefix is byte for byte what it verified (one SHA-256 over
   the prefix: no parsing, no signatures) and hashes and signature-checks only the entries
   appended since, streaming them (memory does not grow with the log);
3. falls back to the full :func:`~models.audit.verify.verify` whenever anything is unusual
   (the prefix changed, a bad entry, a head it cannot place): the report on a damaged log is
   always the full verifier's, so the two never disagree.

The log size and its signed head are read together under a shared ``flock`` on the log (the
appender holds it exclusively), so a concurrent append is never mistaken for a torn line or a
cut log; the entries themselves are read outside the lock (the log is append-only).

One verification runs at a time per verifier: concurrent callers wait and share the result.
``entries_checked`` counts the entries hashed and signature-checked so far (tests and
benchmarks read it instead of timing).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import models.audit.events as ev
from models.audit.entry import GENESIS_HASH, LogEntry, hash_ok, signature_ok
from models.audit.keychain import rotated_key
from models.audit.keys import (
    PathLike,
    head_path,
    key_fingerprint,
    load_public_key,
    public_key_path,
)
from models.audit.log import _BAD_HEAD, HEAD_SLOT, _parse_head, head_ok  # one head format
from models.audit.verify import VerifyReport, verify
from models.errors import InvalidArgument, Unavailable

_CHUNK = 1 << 20
#: Hashes of the last entries kept to place a head that lags the log (crash between writes).
RECENT = 1024


class _Anomaly(Exception):
    """Something the incremental path does not judge: the full verifier reports it."""


@dataclass
class _Checkpoint:
    root_fp: str
    ino: int
    offset: int = 0
    digest: Any = field(default_factory=hashlib.sha256)  # SHA-256 of the verified bytes
    n_lines: int = 0
    expected: int = 1
    prev_hash: str = GENESIS_HASH
    key: Ed25519PublicKey | None = None
    steps: list[tuple[int, Ed25519PublicKey]] = field(default_factory=list)
    recent: OrderedDict[int, str] = field(default_factory=OrderedDict)

    def copy(self) -> _Checkpoint:
        return replace(
            self, digest=self.digest.copy(), steps=list(self.steps), recent=OrderedDict(self.recent)
        )


class IncrementalVerifier:
    """Verify the log at ``path`` (root key: ``public_key`` or the ``.pub`` next to the log).

    Attributes
    ----------
    entries_checked:
        Entries hashed and signature-checked so far (incremental and full runs).
    full_runs:
        How many times the full verifier was run (a damaged or rewritten log).
    """

    def __init__(self, path: PathLike, public_key: Ed25519PublicKey | None = None) -> None:
        self.path = Path(path)
        self.public_key = public_key
        self.entries_checked = 0
        self.full_runs = 0
        self._lock = threading.Lock()
        self._state: _Checkpoint | None = None
        self._cached: tuple[tuple[Any, ...], VerifyReport] | None = None

    def verify(self, wait_s: float = 30.0) -> VerifyReport:
        """The report :func:`~models.audit.verify.verify` would give for the log now.

        A caller that finds another verification running waits up to ``wait_s`` seconds for
        it (and usually gets its cached result), then gets :class:`Unavailable`.
        """
        if not self._lock.acquire(timeout=wait_s):
            raise Unavailable("the audit log is being verified; retry later")
        try:
            return self._verify_locked()
        finally:
            self._lock.release()

    def _verify_locked(self) -> VerifyReport:
        root = self.public_key or load_public_key(public_key_path(self.path))
        fp = key_fingerprint(root)
        snap = self._snapshot()
        if snap is None:  # no log yet
            return verify(self.path, root)
        ino, size, stamp = snap
        key = (fp, *stamp)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        try:
            report = self._advance(root, fp, ino, size, _head_from_bytes(stamp[-1]))
        except _Anomaly:
            self._state = None
            self.full_runs += 1
            report = verify(self.path, root)
            self.entries_checked += report.n_entries
        self._cached = (key, report)
        return report

    # -- internals -----------------------------------------------------------------------------
    def _snapshot(self) -> tuple[int, int, tuple[Any, ...]] | None:
        """(inode, size, cache key) of the log and its head, read under a shared flock."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            st = os.fstat(fd)
            try:
                head: bytes | None = head_path(self.path).read_bytes()
            except FileNotFoundError:
                head = None
        finally:
            os.close(fd)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, head)
        return st.st_ino, st.st_size, stamp

    def _advance(
        self,
        root: Ed25519PublicKey,
        fp: str,
        ino: int,
        size: int,
        head: dict[str, Any] | None,
    ) -> VerifyReport:
        state = self._state
        if state is None or state.ino != ino or state.root_fp != fp or size < state.offset:
            state = _Checkpoint(fp, ino, key=root)
        with open(self.path, "rb") as fh:
            if state.offset and not _prefix_matches(fh, state):
                state = _Checkpoint(fp, ino, key=root)
            new = state.copy()
            fh.seek(new.offset)
            tail = b""
            for line in _lines(fh, size - new.offset):
                if not line.endswith(b"\n"):
                    tail = line
                    break
                self._check(new, line)
        if tail:
            raise _Anomaly
        report = self._head_report(new, root, fp, head)
        self._state = new
        return report

    def _check(self, st: _Checkpoint, line: bytes) -> None:
        try:
            entry = LogEntry.from_json_line(line[:-1])
        except ValueError:
            raise _Anomaly from None
        self.entries_checked += 1
        assert st.key is not None
        if not hash_ok(entry) or not signature_ok(entry, st.key):
            raise _Anomaly
        if entry.seq != st.expected or entry.prev_hash != st.prev_hash:
            raise _Anomaly
        if entry.event == ev.AUDIT_KEY_ROTATED:
            try:
                st.key = rotated_key(entry)
            except InvalidArgument:
                raise _Anomaly from None
            st.steps.append((entry.seq, st.key))
        st.expected, st.prev_hash = entry.seq + 1, entry.hash
        st.offset += len(line)
        st.digest.update(line)
        st.n_lines += 1
        st.recent[entry.seq] = entry.hash
        if len(st.recent) > RECENT:
            st.recent.popitem(last=False)

    def _head_report(
        self, st: _Checkpoint, root: Ed25519PublicKey, fp: str, head: dict[str, Any] | None
    ) -> VerifyReport:
        """The end-of-log checks of the full verifier, on the checkpoint and the head read
        with the log's size (see :mod:`models.audit.verify`)."""
        last_seq = st.expected - 1
        if head is None:
            if last_seq == 0:
                return VerifyReport(True, st.n_lines, key_fingerprint=fp)
            raise _Anomaly
        claim = head.get("seq")
        head_claim = claim if isinstance(claim, int) else -1
        head_key = next((k for at, k in reversed(st.steps) if at <= head_claim), None)
        if not head_ok(head, head_key or root):
            raise _Anomaly
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
        if head_seq > last_seq:
            raise _Anomaly
        if head_seq == last_seq and head_hash != st.prev_hash:
            raise _Anomaly
        if 0 < head_seq < last_seq and st.recent.get(head_seq) != head_hash:
            raise _Anomaly  # not among the recent entries: the full verifier decides
        assert st.key is not None
        return VerifyReport(
            True,
            st.n_lines,
            head_seq=last_seq,
            head_hash=st.prev_hash,
            key_fingerprint=fp,
            current_key_fingerprint=key_fingerprint(st.key),
            rotations=len(st.steps),
        )


def _head_from_bytes(data: bytes | None) -> dict[str, Any] | None:
    """:func:`models.audit.log.read_head` on the head file's bytes read earlier."""
    if data is None:
        return None
    if len(data) == 2 * HEAD_SLOT:
        slots = [_parse_head(data[i * HEAD_SLOT : (i + 1) * HEAD_SLOT]) for i in (0, 1)]
        found = [h for h in slots if h is not None]
        return max(found, key=lambda h: int(h["seq"])) if found else dict(_BAD_HEAD)
    return _parse_head(data) or dict(_BAD_HEAD)


def _prefix_matches(fh: Any, st: _Checkpoint) -> bool:
    """The first ``st.offset`` bytes of the file are the ones verified (one SHA-256)."""
    digest = hashlib.sha256()
    remaining = st.offset
    fh.seek(0)
    while remaining:
        chunk = fh.read(min(_CHUNK, remaining))
        if not chunk:
            return False
        digest.update(chunk)
        remaining -= len(chunk)
    return bool(digest.digest() == st.digest.digest())


def _lines(fh: Any, limit: int) -> Iterator[bytes]:
    """The lines in the next ``limit`` bytes of ``fh`` (the last one may lack its newline)."""
    while limit > 0:
        line = fh.readline(limit)
        if not line:
            return
        limit -= len(line)
        yield line
