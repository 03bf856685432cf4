"""Check a node's audit log and name the first entry that was modified, deleted or reordered.

Problems reported (the first one in file order wins):

``modified``
    a line is not a valid entry, its hash is not the hash of its content, or it does not chain
    to the entry before it;
``bad_signature``
    the content matches its hash but the signature is not the node key's (the root key, or the
    key named by the last ``audit_key_rotated`` entry before it, see
    :mod:`models.audit.keychain`), or a rotation entry names an unreadable key;
``deleted``
    one or more sequence numbers are missing at this point (``first_bad_seq`` is the first);
``reordered``
    the entry expected here appears later in the file, or an entry repeats an earlier number;
``truncated``
    the log ends early: an incomplete last line, or fewer entries than the signed head
    (``audit.head``) records, or a missing or unsigned head.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import models.audit.events as ev
from models.audit.entry import GENESIS_HASH, LogEntry, hash_ok, signature_ok
from models.audit.keychain import rotated_key
from models.audit.keys import PathLike, key_fingerprint, load_public_key, public_key_path
from models.audit.log import head_ok, read_head
from models.errors import InvalidArgument

PROBLEMS = ("modified", "deleted", "reordered", "bad_signature", "truncated")


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`.

    ``first_bad_seq`` is the sequence number of the first bad entry (the position's expected
    number when the entry itself cannot be trusted); ``None`` when ``ok``. ``n_entries`` counts
    the complete lines of the log. ``key_fingerprint`` is the root key's (the one to pin);
    ``current_key_fingerprint`` the key in force at the end of the log, after ``rotations``.
    """

    ok: bool
    n_entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    detail: str = ""
    head_seq: int = 0
    head_hash: str = ""
    key_fingerprint: str = ""
    current_key_fingerprint: str = ""
    rotations: int = 0

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: {self.n_entries} entries, chain and signatures intact (head {self.head_seq})"
            )
        return f"FAILED: entry {self.first_bad_seq} {self.problem}: {self.detail}"


def _resolve_key(
    path: Path, public_key: Ed25519PublicKey | PathLike | bytes | None
) -> Ed25519PublicKey:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    if public_key is None:
        return load_public_key(public_key_path(path))
    return load_public_key(public_key)


def verify(
    path: PathLike, public_key: Ed25519PublicKey | PathLike | bytes | None = None
) -> VerifyReport:
    """Verify the log at ``path`` against its root ``public_key`` (default: the ``.pub`` next to
    it), following key rotations.

    A verifier that does not trust the directory should pass the public key it pinned.
    """
    path = Path(path)
    key = _resolve_key(path, public_key)
    fp = key_fingerprint(key)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    lines = data.split(b"\n")
    complete, partial = lines[:-1], lines[-1]
    n = len(complete)

    def bad(seq: int | None, problem: str, detail: str) -> VerifyReport:
        return VerifyReport(False, n, seq, problem, detail, key_fingerprint=fp)

    parsed: list[LogEntry | None] = []
    for raw in complete:
        try:
            parsed.append(LogEntry.from_json_line(raw))
        except ValueError:
            parsed.append(None)
    later_seqs: dict[int, int] = {}  # claimed seq -> last line index holding it
    for i, e in enumerate(parsed):
        if e is not None:
            later_seqs[e.seq] = i

    root = key
    steps: list[tuple[int, Ed25519PublicKey]] = []  # (rotation seq, key in force after it)
    expected, prev_hash = 1, GENESIS_HASH
    for i, entry in enumerate(parsed):
        line = i + 1
        if entry is None:
            return bad(expected, "modified", f"line {line} is not a valid audit entry")
        if not hash_ok(entry):
            return bad(expected, "modified", f"line {line}: content does not match its hash")
        if not signature_ok(entry, key):
            return bad(expected, "bad_signature", f"line {line}: signature is not the node's")
        if entry.seq > expected:
            if later_seqs.get(expected, -1) > i:
                return bad(
                    expected,
                    "reordered",
                    f"line {line} holds entry {entry.seq}, entry {expected} appears later",
                )
            missing = f"{expected}" if entry.seq == expected + 1 else f"{expected}-{entry.seq - 1}"
            return bad(expected, "deleted", f"entries {missing} are missing before line {line}")
        if entry.seq < expected:
            return bad(
                entry.seq,
                "reordered",
                f"line {line} repeats or moves entry {entry.seq} after entry {expected - 1}",
            )
        if entry.prev_hash != prev_hash:
            return bad(expected, "modified", f"line {line} does not chain to the entry before")
        if entry.event == ev.AUDIT_KEY_ROTATED:
            try:
                key = rotated_key(entry)
            except InvalidArgument:
                return bad(entry.seq, "bad_signature", f"line {line} hands over to no valid key")
            steps.append((entry.seq, key))
        expected, prev_hash = entry.seq + 1, entry.hash

    last_seq = expected - 1
    if partial:
        return bad(expected, "truncated", "the last line is an incomplete entry")
    head = read_head(path)
    if head is None:
        if last_seq == 0:
            return VerifyReport(True, n, key_fingerprint=fp)
        return bad(last_seq + 1, "truncated", "the signed head record is missing")
    # the head of entry s is signed by the key in force after s
    claim = head.get("seq")
    head_claim = claim if isinstance(claim, int) else -1
    head_key = next((k for at, k in reversed(steps) if at <= head_claim), None)
    if not head_ok(head, head_key or root):
        return bad(last_seq + 1, "bad_signature", "the head record is not signed by the node")
    head_seq, head_hash = int(head["seq"]), str(head["hash"])
    if head_seq > last_seq:
        return bad(
            last_seq + 1, "truncated", f"the log ends at entry {last_seq}, its head says {head_seq}"
        )
    if head_seq == last_seq and head_hash != prev_hash:
        return bad(last_seq, "modified", "the last entry differs from the one the head signed")
    if head_seq < last_seq:
        # A crash between writing an entry and its head; fine if the head names a chain entry.
        at_head = next((e for e in parsed if e is not None and e.seq == head_seq), None)
        if head_seq > 0 and (at_head is None or at_head.hash != head_hash):
            return bad(head_seq, "modified", "the entry the head signed is not in the chain")
    return VerifyReport(
        True,
        n,
        head_seq=last_seq,
        head_hash=prev_hash,
        key_fingerprint=fp,
        current_key_fingerprint=key_fingerprint(key),
        rotations=len(steps),
    )
