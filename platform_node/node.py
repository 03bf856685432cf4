"""Assemble the platform node from its config: data, audit, consent, sessions, services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import grpc

from models.audit import Actor, AuditLog
from models.federation.party import DataProvider
from platform_node.config import PlatformConfig
from platform_node.server import RunningServer, create_server
from proto.transport.audit_servicer import open_node_audit_log

if TYPE_CHECKING:
    from platform_node.data_provider import ServedTable


def configured_tables(config: PlatformConfig) -> dict[str, ServedTable]:
    """The tables ``[platform.tables]`` names, as the data provider loads them."""
    from platform_node.data_provider import ServedTable

    return {
        name: ServedTable(
            path=t.path, id_column=t.id_column, categorical_columns=t.categorical_columns
        )
        for name, t in config.tables.items()
    }


def data_provider(config: PlatformConfig, audit: AuditLog | None = None) -> DataProvider:
    """The platform's data: the catalogue under the data dir plus its served tables, as
    registered versions (:mod:`platform_node.tables`). At startup every table of
    ``[platform.tables]`` is validated, and registered as a new version if its file changed;
    tables added with ``fedcredit platform tables add`` are served as well."""
    from platform_node.data_provider import PlatformDataProvider
    from platform_node.tables import ServedTableRegistry

    registry = ServedTableRegistry(config.data_dir, audit, Actor(config.party, "platform", ""))
    registry.sync(configured_tables(config))
    return PlatformDataProvider(config.data_dir, registry=registry)


def start_platform_node(config: PlatformConfig) -> RunningServer:
    """Start the platform: federation (training), scoring (consent-checked), white list,
    feature monitoring, post-loan alerts, audit, health."""
    from platform_node.consent.registry import ConsentRegistry
    from platform_node.scoring import service as scoring

    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.compute.apply()  # local (default) or the platform's Ray cluster
    audit = open_node_audit_log(config.data_dir, config.party, "platform")
    data = data_provider(config, audit)
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

    def whitelist_hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        from platform_node.whitelist import service as whitelist

        return whitelist.install(
            server, data_dir=config.data_dir, consent_registry=consent, audit_log=audit
        )

    def monitoring_hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        from platform_node.alerts.store import AlertStore
        from platform_node.monitoring import service as monitoring
        from platform_node.monitoring.watched import watched_population

        return monitoring.install(
            server,
            data_provider=data,
            consent_registry=consent,
            audit_log=audit,
            share_feature_names=config.share_feature_names,
            in_population=watched_population(consent, AlertStore.in_data_dir(config.data_dir)),
            data_dir=config.data_dir,
        )

    def alerts_hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        from platform_node.alerts import service as alerts

        return alerts.install(
            server,
            data_dir=config.data_dir,
            consent_registry=consent,
            audit_log=audit,
            party=config.party,
        )

    running = create_server(
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
        extra_services=[scoring_hook, whitelist_hook, monitoring_hook, alerts_hook],
        limits=config.limits,
        context_extras={
            "consent_check": lambda uscc, bank: consent.check(uscc, bank, "scoring"),
            "secureboost_min_privacy": config.secureboost_min_privacy,
            **{f"psi_{key}": value for key, value in config.psi.items()},
        },
    )
    if config.console.enabled:  # the web console (issue 18) shares the registry and the log
        from platform_node.console.app import start_platform_console

        running.extras["console"] = start_platform_console(config, audit, consent)
    return running
