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
    compute = "local"             # or "ray" with ray_address = "head:6379" (docs/deployment.md)

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
    # categorical_columns = ["x1"]  # numeric columns to encode as categories (strings always are)

Every top-level key of ``[platform]`` can be overridden by ``FEDCREDIT_PLATFORM_<KEY>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument
from platform_node.scoring.table_cache import TableCacheConfig
from proto.transport.config import load_node_section, resolve
from proto.transport.config_model import (
    COMPUTE_DEFAULTS,
    COMPUTE_DOCS,
    ComputeConfig,
    FileSchema,
    Key,
    Table,
    console_table,
    keys_from_defaults,
)
from proto.transport.limits_config import LimitsConfig
from proto.transport.tls import TlsFiles
from proto.transport.web.config import ConsoleConfig

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
    **COMPUTE_DEFAULTS,
}


PSI_DEFAULTS: dict[str, Any] = {
    "unbalanced": True,
    "unbalanced_min_ratio": 10.0,
    "unbalanced_min_passive": 100_000,
    "key_rotation_days": 30.0,
    "cache_inline_build_max": 2_000_000,
    "eval_budget_per_key": 0,
}
"""``[platform.psi]``: handed to PSI sessions as ``context.extras["psi_<key>"]``."""

_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
_HOSTPORT = r"[^\s:]*:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5}"
_NAME_KEY: dict[str, Any] = {"pattern": _NAME, "form": "a lower-case party name"}
_ADDR_KEY: dict[str, Any] = {"pattern": _HOSTPORT, "form": "a host:port address"}
DOCS: dict[str, tuple[str, dict[str, Any]]] = {
    "party": ("the platform's party name (its certificate's CN)", _NAME_KEY),
    "listen": ("address the platform's server binds", _ADDR_KEY),
    "data_dir": ("sessions, caches, consent database, audit log (relative to this file)",
                 {"kind": "path"}),
    "pki_dir": ("`ca.pem` and `<party>/cert.pem`, `key.pem`", {"kind": "path"}),
    "idle_timeout_s": ("a training session idle this long expires",
                       {"minimum": 1, "maximum": 7 * 86400}),
    "max_workers": ("gRPC server threads", {"minimum": 1, "maximum": 1024}),
    "share_feature_names": ("tell banks the catalogue's feature names (else only categories)",
                            {}),
    "secureboost_min_privacy": ("refuse SecureBoost sessions weaker than this mode",
                                {"choices": ("standard", "hardened", "strict")}),
    "log_level": ("log level", {"choices": ("debug", "info", "warning", "error")}),
    "grace_s": ("seconds to finish calls on SIGTERM", {"minimum": 0, "maximum": 3600}),
    **COMPUTE_DOCS,
}  # fmt: skip
SCHEMA = FileSchema(
    title="Platform node: `platform.toml`",
    help="Read by `fedcredit platform serve`, `consent`, `company report` and `audit` "
    "(`--config platform.toml`). Every key of `[platform]` can be overridden by the "
    "environment variable `FEDCREDIT_PLATFORM_<KEY>`.",
    tables=(
        Table("platform", "The platform node.", keys_from_defaults(DEFAULTS, DOCS),
              required=True),
        Table(
            "platform.known_parties",
            "Party name -> role; callers not listed are refused (required, not empty).",
            entries=Key("role", "str", help="the role that party's certificate must carry",
                        choices=("bank", "regulator", "platform", "recommender")),
            entry_name="PARTY",
        ),
        Table(
            "platform.tables",
            "Tables the platform serves besides its catalogue (CSV or Parquet).",
            entries=Table("platform.tables.NAME", "", (
                Key("path", "path", None, "the file (relative to this file)", required=True),
                Key("id_column", "str", "id", "the column of company ids"),
                Key("categorical_columns", "list[str]", [], "numeric columns to encode as "
                    "categories (string columns always are)"),
            )),
        ),
        Table("platform.limits", "Per-party resource limits (`proto/transport/limits.py`); "
              "exceeding one is RESOURCE_EXHAUSTED.", (
            Key("max_body_bytes", "int", LimitsConfig.max_body_bytes,
                "largest Exchange body", minimum=1),
            Key("party_bytes_in_flight", "int", LimitsConfig.party_bytes_in_flight,
                "bytes of one party's requests being received or processed", minimum=1),
            Key("bytes_in_flight", "int", LimitsConfig.bytes_in_flight,
                "the same for all parties together", minimum=1),
            Key("party_streams", "int", LimitsConfig.party_streams,
                "concurrent Exchange streams per party", minimum=1),
            Key("party_bytes_per_s", "float", LimitsConfig.party_bytes_per_s,
                "byte rate per party (the server reads slower beyond it)", minimum=1),
            Key("spill_threshold_bytes", "int", LimitsConfig.spill_threshold_bytes,
                "bodies larger than this are spilled to a private file", minimum=1),
            Key("reserve_wait_s", "float", LimitsConfig.reserve_wait_s,
                "how long a stream over budget waits before it is refused", minimum=0,
                maximum=600),
            Key("default_rate", "list[float]", None,
                "[calls per second, burst] for every method without its own rule"),
        ), entries=None),
        Table("platform.limits.rates", "Per-method call rates: `Method = [per second, burst]` "
              "(e.g. `VerifyLog = [1, 5]`). Health checks are limited per party too: "
              "`Check` under `default_rate`, `Watch = [1, 5]` by default and at most 2 "
              "watches open per party.",
              entries=Key("rule", "list[float]", help="[calls per second, burst]"),
              entry_name="METHOD"),
        Table("platform.psi", "PSI protocol choice and the unbalanced-PSI cache "
              "(`docs/psi.md`, unbalanced section).", (
            Key("unbalanced", "bool", PSI_DEFAULTS["unbalanced"],
                "allow unbalanced PSI (OPRF against a cached population)"),
            Key("unbalanced_min_ratio", "float", PSI_DEFAULTS["unbalanced_min_ratio"],
                "auto picks unbalanced from this platform/bank size ratio", minimum=1),
            Key("unbalanced_min_passive", "int", PSI_DEFAULTS["unbalanced_min_passive"],
                "... and from this many platform ids", minimum=0),
            Key("key_rotation_days", "float", PSI_DEFAULTS["key_rotation_days"],
                "age at which the OPRF key is replaced (old key and caches erased)",
                minimum=0.001, maximum=3660),
            Key("cache_inline_build_max", "int", PSI_DEFAULTS["cache_inline_build_max"],
                "populations up to this size get their cache built inside a job; larger ones "
                "by `python -m platform_node.psi_cache build`", minimum=0),
            Key("eval_budget_per_key", "int", PSI_DEFAULTS["eval_budget_per_key"],
                "OPRF evaluations one bank may run under one key (0: unlimited; see "
                "`docs/psi.md` on offline re-testing)", minimum=0),
        )),
        Table("platform.feature_tables", "Scoring's point-in-time feature tables "
              "(`platform_node/scoring/table_cache.py`).", (
            Key("max_tables", "int", TableCacheConfig.max_tables, "tables kept", minimum=1),
            Key("max_bytes", "int", TableCacheConfig.max_bytes, "bytes kept", minimum=1),
            Key("max_tables_per_party", "int", TableCacheConfig.max_tables_per_party,
                "tables one bank may hold in the cache", minimum=1),
            Key("builds_per_s", "float", TableCacheConfig.builds_per_s,
                "new dates a bank may ask for per second (after the burst)", minimum=0.0001),
            Key("build_burst", "int", TableCacheConfig.build_burst,
                "new dates a bank may ask for at once", minimum=1),
            Key("concurrent_builds", "int", TableCacheConfig.concurrent_builds,
                "tables built at the same time on the node", minimum=1),
        )),
        console_table("platform", "127.0.0.1:8444"),
    ),
    example="""
[platform]
party = "platform"
listen = "127.0.0.1:50051"
data_dir = "var/platform"
pki_dir = "var/pki"
secureboost_min_privacy = "hardened"

[platform.known_parties]
bank-a = "bank"
regulator = "regulator"

[platform.tables.default_credit]
path = "../shared/data/default_credit_hetero_host.csv"
id_column = "id"
""",
)  # fmt: skip


@dataclass
class ServedTableConfig:
    path: Path
    id_column: str = "id"
    categorical_columns: tuple[str, ...] = ()


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
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    psi: dict[str, Any] = field(default_factory=lambda: dict(PSI_DEFAULTS))
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    @classmethod
    def load(cls, path: Path | None, *, plaintext: bool = False) -> PlatformConfig:
        node = load_node_section(path, "platform", DEFAULTS, SCHEMA)
        raw = node.settings
        known = dict(node.section.get("known_parties", {}))
        if not known:
            raise InvalidArgument("config lists no known parties")
        from models.secureboost.privacy import policy_for

        min_privacy = policy_for(str(raw["secureboost_min_privacy"])).mode
        tables = {
            name: ServedTableConfig(
                resolve(node.base, t["path"]),
                str(t.get("id_column", "id")),
                tuple(str(c) for c in t.get("categorical_columns", [])),
            )
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
            console=ConsoleConfig.from_mapping(node.section.get("console")),
            psi={**PSI_DEFAULTS, **dict(node.section.get("psi", {}))},
            compute=ComputeConfig.from_settings(raw),
        )
