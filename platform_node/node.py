"""Assemble the platform node from its config: data, audit, consent, sessions, services."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from models.federation.party import DataProvider
from platform_node.config import PlatformConfig
from platform_node.server import RunningServer, create_server
from proto.transport.audit_servicer import open_node_audit_log


def data_provider(config: PlatformConfig) -> DataProvider:
    """The platform's data: the catalogue under the data dir plus configured served tables."""
    from platform_node.data_provider import PlatformDataProvider, ServedTable

    served = {
        name: ServedTable(
            path=t.path, id_column=t.id_column, categorical_columns=t.categorical_columns
        )
        for name, t in config.tables.items()
    }
    return PlatformDataProvider(config.data_dir, served)


def start_platform_node(config: PlatformConfig) -> RunningServer:
    """Start the platform: federation (training), scoring (consent-checked), audit, health."""
    from platform_node.consent.registry import ConsentRegistry
    from platform_node.scoring import service as scoring

    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.compute.apply()  # local (default) or the platform's Ray cluster
    data = data_provider(config)
    audit = open_node_audit_log(config.data_dir, config.party, "platform")
    consent = ConsentRegistry.in_data_dir(config.data_dir, audit)

    def scoring_hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        return scoring.install(
            server,
            data_dir=config.data_dir,
            data_provider=data,
            consent_registry=consent,
            audit_log=audit,
            party=config.party,
            feature_tables=config.feature_tables,
        )

    return create_server(
        listen=config.listen,
        data_dir=config.data_dir,
        data=data,
        tls=config.tls,
        known_parties=config.known_parties,
        party=config.party,
        idle_timeout_s=config.idle_timeout_s,
        max_workers=config.max_workers,
        share_feature_names=config.share_feature_names,
        audit_log=audit,
        extra_services=[scoring_hook],
        limits=config.limits,
        context_extras={
            "consent_check": lambda uscc, bank: consent.check(uscc, bank, "scoring"),
            "secureboost_min_privacy": config.secureboost_min_privacy,
        },
    )
