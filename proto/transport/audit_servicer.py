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

import grpc

from models.audit.entry import Actor
from models.audit.events import AUDIT_READ
from models.audit.incremental import IncrementalVerifier
from models.audit.log import AuditLog
from models.audit.messages import ListAuditRequest, VerifyLogRequest
from models.audit.service import list_entries, verify_response
from proto.fedcredit.v1 import audit_pb2, audit_pb2_grpc

from .auth import current_caller
from .codec import from_proto, to_proto
from .node_audit import open_node_audit_log as open_node_audit_log  # re-exported
from .status import guard

SERVICE_NAME = "fedcredit.v1.AuditService"
_PREFIX = f"/{SERVICE_NAME}/"


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
