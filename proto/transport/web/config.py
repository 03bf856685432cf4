"""The ``[bank.console]`` / ``[platform.console]`` table of a node's config (off by default)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proto.transport.config_model import Key, Table

_HOSTPORT = r"[^\s:]*:[0-9]{1,5}|\[[0-9a-fA-F:]+\]:[0-9]{1,5}"


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = False
    listen: str = "127.0.0.1:8443"
    session_idle_s: float = 1800.0
    max_failures: int = 5
    lockout_s: float = 900.0

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> ConsoleConfig:
        raw = dict(raw or {})
        d = cls()
        return cls(
            enabled=bool(raw.get("enabled", d.enabled)),
            listen=str(raw.get("listen", d.listen)),
            session_idle_s=float(raw.get("session_idle_s", d.session_idle_s)),
            max_failures=int(raw.get("max_failures", d.max_failures)),
            lockout_s=float(raw.get("lockout_s", d.lockout_s)),
        )


def console_table(node: str, default_listen: str) -> Table:
    """The schema of ``[<node>.console]`` (documented in docs/configuration.md)."""
    d = ConsoleConfig()
    return Table(
        f"{node}.console",
        f"The web console this node serves over HTTPS with its own certificate "
        f"(`docs/console.md`); off unless `enabled`. Accounts live in "
        f"`<data_dir>/console/accounts.db`.",
        (
            Key("enabled", "bool", False, "serve the console"),
            Key("listen", "str", default_listen, "the console's HTTPS address",
                pattern=_HOSTPORT, form="a host:port address"),
            Key("session_idle_s", "float", d.session_idle_s,
                "a session idle this long ends", minimum=60, maximum=86400),
            Key("max_failures", "int", d.max_failures,
                "wrong passwords in a row that lock an account", minimum=1, maximum=100),
            Key("lockout_s", "float", d.lockout_s, "how long a locked account stays locked",
                minimum=1, maximum=86400),
        ),
    )  # fmt: skip
