"""The bank's ``LineageService``: the lineage of a model version, for the regulator.

``bank_node/server.py`` imports this module and calls :func:`install`. The lineage is
assembled on each call by :func:`bank_node.lineage_fetch.bank_lineage` (the bank's MLflow
store and audit log, and the platform's entries about the job read with the bank's own
certificate). Regulator and bank only; every call is recorded in the bank's audit log.
Nothing here changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from bank_node.config import BankConfig
from models.audit.entry import Actor
from models.audit.events import AUDIT_READ
from models.audit.log import AuditLog
from proto.fedcredit.v1 import lineage_pb2, lineage_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.status import guard

SERVICE_NAME = "fedcredit.v1.LineageService"
_PREFIX = f"/{SERVICE_NAME}/"

#: The regulator reads lineage; so may the bank's own node identity. Officers may not.
POLICY: dict[str, tuple[str, ...]] = {_PREFIX + "GetLineage": ("regulator", "bank")}


class LineageServicer(lineage_pb2_grpc.LineageServiceServicer):
    def __init__(self, config: BankConfig, audit: AuditLog) -> None:
        self.config = config
        self.audit = audit

    def GetLineage(
        self, request: lineage_pb2.LineageRequest, context: grpc.ServicerContext
    ) -> lineage_pb2.LineageResponse:
        def run() -> lineage_pb2.LineageResponse:
            from bank_node.lineage import render_lineage
            from bank_node.lineage_fetch import bank_lineage

            caller = current_caller()
            lineage = bank_lineage(self.config, request.model)
            self.audit.append(
                AUDIT_READ,
                Actor(caller.party, caller.role, caller.cert_fingerprint),
                {
                    "what": "lineage",
                    "model_name": lineage.model["name"],
                    "model_version": lineage.model["version"],
                },
            )
            return lineage_pb2.LineageResponse(
                lineage_json=render_lineage(lineage, as_json=True),
                bank_party=self.config.party,
            )

        return guard(context, run)


def install(server: grpc.Server, config: BankConfig) -> Mapping[str, tuple[str, ...]]:
    """Add the lineage service to the bank's server; returns its role policy."""
    from bank_node.audit_service import bank_audit_log

    lineage_pb2_grpc.add_LineageServiceServicer_to_server(
        LineageServicer(config, bank_audit_log(config)), server
    )
    return POLICY
