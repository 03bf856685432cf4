"""The bank's AuditService: its own audit log, readable by the regulator (and the bank itself)."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from bank_node.config import BankConfig
from models.audit.log import AuditLog
from proto.transport.audit_servicer import SERVICE_NAME, install_audit_service, open_node_audit_log

__all__ = ["SERVICE_NAME", "bank_audit_log", "install"]


def bank_audit_log(config: BankConfig) -> AuditLog:
    return open_node_audit_log(config.data_dir, config.party, "bank")


def install(server: grpc.Server, config: BankConfig) -> Mapping[str, tuple[str, ...]]:
    return install_audit_service(server, bank_audit_log(config), config.party)
