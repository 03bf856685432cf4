"""The AuditService logic without transport: the node's gRPC servicer calls these.

Authorisation of the RPC itself (which roles may call it) is the node's job; these functions
apply the per-entry visibility rule of :func:`models.audit.query.visible_entries`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.audit.entry import Actor, LogEntry, canonical_json
from models.audit.keychain import KeyChain
from models.audit.keys import PathLike, key_fingerprint, load_public_key, public_key_pem
from models.audit.log import AuditLog, read_entries
from models.audit.messages import (
    AuditActor,
    AuditEntry,
    ListAuditRequest,
    ListAuditResponse,
    VerifyLogRequest,
    VerifyLogResponse,
)
from models.audit.query import REGULATOR_ROLE, query, visible_entries
from models.audit.verify import VerifyReport, verify
from models.errors import InvalidArgument, PermissionDenied

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


def entry_to_wire(entry: LogEntry) -> AuditEntry:
    a = entry.actor
    return AuditEntry(
        seq=entry.seq,
        ts=entry.ts,
        actor=AuditActor(a.party, a.role, a.cert_fingerprint),
        event=entry.event,
        details_json=canonical_json(entry.details),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        signature=entry.signature,
    )


def entry_from_wire(msg: AuditEntry) -> LogEntry:
    """Rebuild a log entry (check it with :func:`models.audit.entry.entry_authentic`)."""
    try:
        details = json.loads(msg.details_json) if msg.details_json else {}
    except ValueError:
        raise InvalidArgument("audit entry details are not valid JSON") from None
    if not isinstance(details, dict):
        raise InvalidArgument("audit entry details are not a JSON object")
    a = msg.actor or AuditActor()
    return LogEntry(
        seq=msg.seq,
        ts=msg.ts,
        actor=Actor(a.party, a.role, a.cert_fingerprint),
        event=msg.event,
        details=details,
        prev_hash=msg.prev_hash,
        hash=msg.hash,
        signature=msg.signature,
    )


def key_chain_of(
    response: ListAuditResponse, root: Ed25519PublicKey | None = None
) -> KeyChain | None:
    """The node's keys: ``root`` (pinned) or the root key it sent, and the rotations it sent
    (each checked against the key before it; :class:`InvalidArgument` if one is not)."""
    if root is None and response.public_key_pem:
        root = load_public_key(response.public_key_pem.encode())
    if root is None:
        return None
    return KeyChain.of(root, [entry_from_wire(m) for m in response.key_rotations])


def entries_from_response(
    response: ListAuditResponse, public_key: Ed25519PublicKey | None = None
) -> list[LogEntry]:
    """Entries of a response, each checked against the key in force when it was signed (from
    ``public_key``, the pinned root key, or the one the node sent, through its rotations)."""
    entries = [entry_from_wire(m) for m in response.entries]
    chain = key_chain_of(response, public_key)
    if chain is not None and not all(chain.authentic(e) for e in entries):
        raise InvalidArgument("an audit entry does not carry the node's valid signature")
    return entries


def list_entries(
    log: AuditLog,
    request: ListAuditRequest,
    caller_party: str,
    caller_role: str,
    node_party: str,
    entries: Iterable[LogEntry] | None = None,
) -> ListAuditResponse:
    """Answer ``ListEntries``: filter, apply visibility, page with ``after_seq``/``limit``."""
    if request.limit < 0 or request.after_seq < 0:
        raise InvalidArgument("limit and after_seq must not be negative")
    limit = min(request.limit or DEFAULT_LIMIT, MAX_LIMIT)
    filters: dict[str, Any] = {
        "event": request.event,
        "party": request.party,
        "model_id": request.model_id,
        "job_id": request.job_id,
        "after_seq": request.after_seq,
        "limit": limit + 1,
    }
    # head_seq: the regulator gets the log's; a party only its own last entry's, so the
    # answer does not tell a bank how much the node did for others
    if entries is None:  # the log's index: reads only the matching lines
        visible_to = None if caller_role == REGULATOR_ROLE else caller_party
        head_seq = log.index.last_seq(visible_to=visible_to)
        matched = log.index.query(**filters, visible_to=visible_to)
    else:
        visible = visible_entries(list(entries), caller_party, caller_role)
        head_seq = visible[-1].seq if visible else 0
        matched = query(visible, **filters)
    return ListAuditResponse(
        entries=[entry_to_wire(e) for e in matched[:limit]],
        node_party=node_party,
        public_key_pem=public_key_pem(log.root_key).decode(),
        head_seq=head_seq,
        has_more=len(matched) > limit,
        key_rotations=[entry_to_wire(e) for e in log.rotation_entries()],
    )


def verify_log(
    path: PathLike,
    request: VerifyLogRequest,
    node_party: str,
    public_key: Ed25519PublicKey | None = None,
) -> VerifyLogResponse:
    """Answer ``VerifyLog`` for the node's log at ``path`` (a full verification)."""
    return verify_response(verify(path, public_key), request, node_party)


def verify_response(
    report: VerifyReport, request: VerifyLogRequest, node_party: str
) -> VerifyLogResponse:
    """The ``VerifyLog`` answer for a verification ``report`` (e.g. an incremental one)."""
    if request.expected_key_fingerprint and (
        request.expected_key_fingerprint != report.key_fingerprint
    ):
        raise PermissionDenied("the node's audit key is not the one the caller pinned")
    return VerifyLogResponse(
        ok=report.ok,
        n_entries=report.n_entries,
        first_bad_seq=report.first_bad_seq or 0,
        problem=report.problem or "",
        detail=report.detail,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        key_fingerprint=report.key_fingerprint,
        node_party=node_party,
        current_key_fingerprint=report.current_key_fingerprint,
        rotations=report.rotations,
    )


__all__ = [
    "entries_from_response",
    "entry_from_wire",
    "entry_to_wire",
    "key_fingerprint",
    "list_entries",
    "read_entries",
    "verify_log",
    "verify_response",
]
