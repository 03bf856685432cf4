"""Assemble the platform node from its config: data, sessions, services."""

from __future__ import annotations

from models.federation.party import DataProvider
from platform_node.config import PlatformConfig
from platform_node.server import RunningServer, create_server


def data_provider(config: PlatformConfig) -> DataProvider:
    """The platform's data: the catalogue under the data dir plus configured served tables."""
    from platform_node.data_provider import PlatformDataProvider, ServedTable

    served = {
        name: ServedTable(path=t.path, id_column=t.id_column) for name, t in config.tables.items()
    }
    return PlatformDataProvider(config.data_dir, served)


def start_platform_node(config: PlatformConfig) -> RunningServer:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return create_server(
        listen=config.listen,
        data_dir=config.data_dir,
        data=data_provider(config),
        tls=config.tls,
        known_parties=config.known_parties,
        party=config.party,
        idle_timeout_s=config.idle_timeout_s,
        max_workers=config.max_workers,
        share_feature_names=config.share_feature_names,
    )
