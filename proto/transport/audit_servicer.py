"""AuditService for both nodes: the regulator reads everything, a bank only what concerns it.

The per-entry visibility rule lives in ``models/audit/query.py``; which roles may call the
service at all is the policy returned by :func:`install_audit_service`. Each read by a
regulator or a bank is itself audited (``audit_read``).

``VerifyLog`` is the regulator's alone (it describes the whole log) and is incremental
(:class:`models.audit.incremental.IncrementalVerifier`): a call verifies only the entries
appended since the last one and an unchanged log is answered from the cached report, so
repeated calls cost little.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import grpc

from models.audit.entry import Actor
from models.audit.events import AUDIT_READ
from models.audit.incremental import IncrementalVerifier
from models.audit.keys import load_or_create_signing_key
from models.audit.log import AuditLog
from models.audit.messages import ListAuditRequest, VerifyLogRequest
from models.audit.service import list_entries, verify_response
from proto.fedcredit.v1 import audit_pb2, audit_pb2_grpc

from .auth import current_caller
from .codec import from_proto, to_proto
from .status import guard

SERVICE_NAME = "fedcredit.v1.AuditService"
_PREFIX = f"/{SERVICE_NAME}/"


def open_node_audit_log(data_dir: Path, party: str, role: str, *, fsync: bool = False) -> AuditLog:
    """The node's audit log under ``<data_dir>/audit`` with its Ed25519 signing key (opened by
    path, so that a key rotation by another process is followed). Opening it also registers
    the node's model-signing key for ``data_dir`` (``models/part_signing.py``) and makes the
    data directory private (``proto/transport/node_files.py``): every process working on a
    node's data directory opens its audit log first."""
    from models.part_signing import register_node_key
    from proto.transport.node_files import secure_node_dir

    secure_node_dir(data_dir)  # 0600 files, 0700 directories
    register_node_key(data_dir)  # the node's model parts are signed with its key
    audit_dir = data_dir / "audit"
    key_path = audit_dir / "audit_signing_key.pem"
    if not key_path.exists() and not key_path.with_name(key_path.name + ".next").exists():
        load_or_create_signing_key(key_path)
    return AuditLog(audit_dir / "audit.jsonl", key_path, actor=Actor(party, role, ""), fsync=fsync)


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, log: AuditLog, node_party: str) -> None:
        self.log = log
        self.node_party = node_party
        self.verifier = IncrementalVerifier(log.path)

    def ListEntries(
        self, request: audit_pb2.ListAuditRequest, context: grpc.ServicerContext
    ) -> audit_pb2.ListAuditResponse:
        def run() -> audit_pb2.ListAuditResponse:
            caller = current_caller()
            req = from_proto(request, ListAuditRequest)
            reply = list_entries(self.log, req, caller.party, caller.role, self.node_party)
            self.log.append(
                AUDIT_READ,
                Actor(caller.party, caller.role, caller.cert_fingerprint),
                {"returned": len(reply.entries), "filter_event": req.event},
            )
            return to_proto(reply)  # type: ignore[return-value]

        return guard(context, run)

    def VerifyLog(
        self, request: audit_pb2.VerifyLogRequest, context: grpc.ServicerContext
    ) -> audit_pb2.VerifyLogResponse:
        def run() -> audit_pb2.VerifyLogResponse:
            req = from_proto(request, VerifyLogRequest)
            report = self.verifier.verify()
            return to_proto(verify_response(report, req, self.node_party))  # type: ignore[return-value]

        return guard(context, run)


def install_audit_service(
    server: grpc.Server, log: AuditLog, node_party: str
) -> Mapping[str, tuple[str, ...]]:
    audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(log, node_party), server)
    return {
        _PREFIX + "ListEntries": ("regulator", "bank"),
        _PREFIX + "VerifyLog": ("regulator",),
    }
