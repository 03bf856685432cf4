"""AuditService messages (twins of ``proto/fedcredit/v1/audit.proto``).

Entries travel with their details as canonical JSON (``details_json``) so that the receiver
can recompute each entry's hash and check the node's signature (the public key comes with
every :class:`ListAuditResponse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.federation.messages import WireMessage


@dataclass(frozen=True)
class AuditActor(WireMessage):
    party: str = ""
    role: str = ""
    cert_fingerprint: str = ""


@dataclass(frozen=True)
class AuditEntry(WireMessage):
    """One signed log entry, exactly as stored (see ``models/audit/entry.py``)."""

    seq: int
    ts: str
    actor: AuditActor | None
    event: str
    details_json: str
    prev_hash: str
    hash: str
    signature: str


@dataclass(frozen=True)
class ListAuditRequest(WireMessage):
    """Ask a node for audit entries; empty filters match everything, ``limit`` 0 = default.

    Reveals to the node: which entries the caller is interested in.
    """

    event: str = ""
    model_id: str = ""
    job_id: str = ""
    limit: int = 0
    after_seq: int = 0
    party: str = ""


@dataclass(frozen=True)
class ListAuditResponse(WireMessage):
    """The entries the caller may see, in log order.

    Reveals to caller: the entries its role allows (regulator: all; others: the entries about
    their own party), the node's root audit public key, its key rotation entries (each naming
    only the next public key) and ``head_seq``: for the regulator the sequence number of the
    log's last entry, for a party that of the last entry concerning it (not the node's total
    volume). Over time a party still sees the sequence numbers of its own entries, whose gaps
    bound how many entries the node wrote for others in between.
    """

    entries: list[AuditEntry] = field(default_factory=list)
    node_party: str = ""
    public_key_pem: str = ""
    head_seq: int = 0
    has_more: bool = False
    key_rotations: list[AuditEntry] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyLogRequest(WireMessage):
    """Ask a node to verify its own log; optionally pin the key fingerprint expected."""

    expected_key_fingerprint: str = ""


@dataclass(frozen=True)
class VerifyLogResponse(WireMessage):
    """Outcome of verifying the whole log (``problem`` empty and ``first_bad_seq`` 0 when ok).

    Reveals to caller: the number of entries, the head hash and where the log is broken.
    """

    ok: bool
    n_entries: int
    first_bad_seq: int = 0
    problem: str = ""
    detail: str = ""
    head_seq: int = 0
    head_hash: str = ""
    key_fingerprint: str = ""
    node_party: str = ""
    current_key_fingerprint: str = ""
    rotations: int = 0
