"""The ``[bank.console]`` / ``[platform.console]`` settings of a node (off by default; the
schema is :func:`proto.transport.config_model.console_table`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
