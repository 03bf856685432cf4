"""Bank node settings (``fedcredit bank serve --config FILE``, ``fedcredit train``).

Example::

    [bank]
    party = "bank-a"
    listen = "127.0.0.1:50061"          # the bank's own server (scoring, audit)
    data_dir = "var/bank-a"             # keys, models, checkpoints, MLflow store, audit log
    pki_dir = "var/pki"
    platform_target = "127.0.0.1:50051"
    platform_name = "platform"          # the name the platform's certificate must carry
    platform_audit_key = ""             # its audit key fingerprint (empty: pinned on first use)
    tracking_uri = ""                   # empty: sqlite:///<data_dir>/mlflow/mlflow.db
    log_level = "info"
    compute = "local"                   # or "ray" with ray_address = "head:6379"

    [bank.known_parties]                # who may call the bank's server
    bank-a = "bank"                     # its own officers (certificates with O = bank-a)
    regulator = "regulator"

Every top-level key of ``[bank]`` can be overridden by ``FEDCREDIT_BANK_<KEY>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proto.transport.config import load_node_section
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
from proto.transport.tls import TlsFiles
from proto.transport.web.config import ConsoleConfig

DEFAULTS: dict[str, Any] = {
    "party": "bank-a",
    "listen": "127.0.0.1:50061",
    "data_dir": "var/bank-a",
    "pki_dir": "var/pki",
    "platform_target": "127.0.0.1:50051",
    "platform_name": "platform",
    "platform_audit_key": "",
    "tracking_uri": "",
    "log_level": "info",
    "max_workers": 16,
    "grace_s": 10.0,
    "step_timeout_s": 900.0,
    **COMPUTE_DEFAULTS,
}


_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
_HOSTPORT = r"[^\s:]*:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5}"
LOG_LEVELS = ("debug", "info", "warning", "error")
_NAME_KEY: dict[str, Any] = {"pattern": _NAME, "form": "a lower-case party name"}
_ADDR_KEY: dict[str, Any] = {"pattern": _HOSTPORT, "form": "a host:port address"}
_FP_KEY: dict[str, Any] = {"pattern": "[0-9a-f]{64}|", "form": "a SHA-256 fingerprint or empty"}
DOCS: dict[str, tuple[str, dict[str, Any]]] = {
    "party": ("the bank's party name (its certificate's CN)", _NAME_KEY),
    "listen": ("address of the bank's own server (scoring, audit, lineage)",
               _ADDR_KEY),
    "data_dir": ("keys, models, checkpoints, MLflow store, audit log (relative to this file)",
                 {"kind": "path"}),
    "pki_dir": ("`ca.pem` and `<party>/cert.pem`, `key.pem`", {"kind": "path"}),
    "platform_target": ("the platform's `host:port`", _ADDR_KEY),
    "platform_name": ("the name the platform's certificate must carry", _NAME_KEY),
    "platform_audit_key": ("the platform's audit key fingerprint (empty: pinned on first use)",
                           _FP_KEY),
    "tracking_uri": ("MLflow tracking URI (empty: `sqlite:///<data_dir>/mlflow/mlflow.db`)", {}),
    "log_level": ("log level", {"choices": LOG_LEVELS}),
    "max_workers": ("gRPC server threads", {"minimum": 1, "maximum": 1024}),
    "grace_s": ("seconds to finish calls on SIGTERM", {"minimum": 0, "maximum": 3600}),
    "step_timeout_s": ("deadline of one training step on the platform",
                       {"minimum": 1, "maximum": 86400}),
    **COMPUTE_DOCS,
}  # fmt: skip
SCHEMA = FileSchema(
    title="Bank node: `bank.toml`",
    help="Read by `fedcredit bank serve|ping`, `train`, `score`, `model` and `audit` "
    "(`--config bank.toml`). Every key of `[bank]` can be overridden by the environment "
    "variable `FEDCREDIT_BANK_<KEY>` (checked the same way).",
    tables=(
        Table("bank", "The bank node.", keys_from_defaults(DEFAULTS, DOCS), required=True),
        Table(
            "bank.known_parties",
            "Who may call the bank's server: party name -> role (default: the bank's own "
            "officers and `regulator`).",
            entries=Key(
                "role",
                "str",
                help="the role a caller with that name must have",
                choices=("bank", "regulator", "officer"),
            ),
            entry_name="PARTY",
        ),
        console_table("bank", "127.0.0.1:8443"),
    ),
    example="""
[bank]
party = "bank-a"
listen = "127.0.0.1:50061"
data_dir = "var/bank-a"
pki_dir = "var/pki"
platform_target = "127.0.0.1:50051"
platform_name = "platform"

[bank.known_parties]
bank-a = "bank"
regulator = "regulator"
""",
)


@dataclass
class BankConfig:
    party: str
    listen: str
    data_dir: Path
    tls: TlsFiles | None
    platform_target: str
    platform_name: str
    tracking_uri: str
    log_level: str
    max_workers: int
    grace_s: float
    step_timeout_s: float
    known_parties: dict[str, str] = field(default_factory=dict)
    platform_audit_key: str = ""
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    @classmethod
    def load(cls, path: Path | None, *, plaintext: bool = False) -> BankConfig:
        node = load_node_section(path, "bank", DEFAULTS, SCHEMA)
        raw = node.settings
        known = dict(node.section.get("known_parties", {})) or {
            str(raw["party"]): "bank",
            "regulator": "regulator",
        }
        data_dir = node.path("data_dir")
        tls = node.tls(plaintext=plaintext)
        tracking = (
            str(raw["tracking_uri"]) or f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"
        )
        return cls(
            party=str(raw["party"]),
            listen=str(raw["listen"]),
            data_dir=data_dir,
            tls=tls,
            platform_target=str(raw["platform_target"]),
            platform_name=str(raw["platform_name"]),
            tracking_uri=tracking,
            log_level=str(raw["log_level"]),
            max_workers=int(raw["max_workers"]),
            grace_s=float(raw["grace_s"]),
            step_timeout_s=float(raw["step_timeout_s"]),
            known_parties=known,
            platform_audit_key=str(raw["platform_audit_key"]),
            console=ConsoleConfig.from_mapping(node.section.get("console")),
            compute=ComputeConfig.from_settings(raw),
        )

    def platform_peer(self) -> Any:
        """A gRPC peer to the platform with this bank's identity."""
        from bank_node.federation_client import GrpcPassivePeer

        return GrpcPassivePeer(
            self.platform_target,
            self.tls,
            server_name=self.platform_name,
            step_timeout_s=self.step_timeout_s,
            test_identity=(self.party, "bank") if self.tls is None else None,
        )
