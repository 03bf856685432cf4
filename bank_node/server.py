"""The bank's own gRPC server: scoring for credit officers, audit and lineage for regulators."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc

from bank_node.config import BankConfig
from models.optional_modules import import_optional
from proto.transport.server import NodeServer, ServiceHook, build_server

log = logging.getLogger("fedcredit.bank")

#: Modules offering ``install(server, config) -> policy`` for the bank's services.
SERVICE_MODULES = (
    "bank_node.scoring.service",
    "bank_node.audit_service",
    "bank_node.lineage_service",
)


def _hooks(config: BankConfig) -> tuple[list[ServiceHook], list[str]]:
    hooks: list[ServiceHook] = []
    names: list[str] = []
    for name in SERVICE_MODULES:
        module = import_optional(name)
        if module is None:
            continue

        def hook(server: grpc.Server, m=module) -> Mapping[str, tuple[str, ...]]:  # type: ignore[no-untyped-def]
            policy: Mapping[str, tuple[str, ...]] = m.install(server, config)
            return policy

        hooks.append(hook)
        names.append(getattr(module, "SERVICE_NAME", name))
    return hooks, names


def create_bank_server(config: BankConfig) -> NodeServer:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    hooks, names = _hooks(config)
    return build_server(
        listen=config.listen,
        tls=config.tls,
        known_parties=config.known_parties,
        services=hooks,
        service_names=names,
        max_workers=config.max_workers,
        node="bank",
    )
