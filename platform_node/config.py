"""Platform node settings (``fedcredit platform serve --config FILE``).

Example::

    [platform]
    party = "platform"
    listen = "127.0.0.1:50051"
    data_dir = "var/platform"
    pki_dir = "var/pki"            # ca.pem and <party>/cert.pem, key.pem
    idle_timeout_s = 900
    max_workers = 16
    share_feature_names = false
    secureboost_min_privacy = "standard"   # or "hardened" / "strict": refuse weaker SecureBoost
    log_level = "info"

    [platform.known_parties]       # party name -> role; others are refused
    bank-a = "bank"
    regulator = "regulator"

    [platform.limits]              # per-party resource limits (proto/transport/limits.py)
    party_bytes_in_flight = 536870912
    party_streams = 4

    [platform.feature_tables]      # scoring's point-in-time tables (scoring/features.py)
    max_tables = 16
    builds_per_s = 0.2

    [platform.tables.default_credit]   # a served CSV/Parquet table
    path = "../shared/data/default_credit_hetero_host.csv"
    id_column = "id"

Every top-level key of ``[platform]`` can be overridden by ``FEDCREDIT_PLATFORM_<KEY>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument
from platform_node.scoring.table_cache import TableCacheConfig
from proto.transport.config import load_node_section, resolve
from proto.transport.limits import LimitsConfig
from proto.transport.tls import TlsFiles

DEFAULTS: dict[str, Any] = {
    "party": "platform",
    "listen": "127.0.0.1:50051",
    "data_dir": "var/platform",
    "pki_dir": "var/pki",
    "idle_timeout_s": 900.0,
    "max_workers": 16,
    "share_feature_names": False,
    "secureboost_min_privacy": "standard",
    "log_level": "info",
    "grace_s": 10.0,
}


@dataclass
class ServedTableConfig:
    path: Path
    id_column: str = "id"


@dataclass
class PlatformConfig:
    party: str
    listen: str
    data_dir: Path
    tls: TlsFiles | None
    idle_timeout_s: float
    max_workers: int
    share_feature_names: bool
    log_level: str
    grace_s: float
    secureboost_min_privacy: str = "standard"
    known_parties: dict[str, str] = field(default_factory=dict)
    tables: dict[str, ServedTableConfig] = field(default_factory=dict)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    feature_tables: TableCacheConfig = field(default_factory=TableCacheConfig)

    @classmethod
    def load(cls, path: Path | None, *, plaintext: bool = False) -> PlatformConfig:
        node = load_node_section(path, "platform", DEFAULTS)
        raw = node.settings
        known = dict(node.section.get("known_parties", {}))
        if not known:
            raise InvalidArgument("config lists no known parties")
        from models.secureboost.privacy import policy_for

        min_privacy = policy_for(str(raw["secureboost_min_privacy"])).mode
        tables = {
            name: ServedTableConfig(resolve(node.base, t["path"]), str(t.get("id_column", "id")))
            for name, t in node.section.get("tables", {}).items()
        }
        return cls(
            party=str(raw["party"]),
            listen=str(raw["listen"]),
            data_dir=node.path("data_dir"),
            tls=node.tls(plaintext=plaintext),
            idle_timeout_s=float(raw["idle_timeout_s"]),
            max_workers=int(raw["max_workers"]),
            share_feature_names=bool(raw["share_feature_names"]),
            log_level=str(raw["log_level"]),
            grace_s=float(raw["grace_s"]),
            secureboost_min_privacy=min_privacy,
            known_parties=known,
            tables=tables,
            limits=LimitsConfig.from_mapping(node.section.get("limits")),
            feature_tables=TableCacheConfig.from_mapping(node.section.get("feature_tables")),
        )
