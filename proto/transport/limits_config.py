"""The platform's resource limits as configured (``[platform.limits]``): plain data, no gRPC,
so that reading a node config does not import the transport (see :mod:`.limits` for how they
are enforced)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from models.errors import InvalidArgument

MiB = 1 << 20


@dataclass(frozen=True)
class RateRule:
    """A token bucket: ``rate_per_s`` tokens a second, at most ``burst`` saved up."""

    rate_per_s: float
    burst: float

    @classmethod
    def parse(cls, value: Any) -> RateRule:
        if isinstance(value, RateRule):
            return value
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise InvalidArgument("a rate limit is [calls per second, burst]")
        rule = cls(float(value[0]), float(value[1]))
        if not (rule.rate_per_s > 0 and rule.burst >= 1):
            raise InvalidArgument("a rate limit needs a positive rate and a burst of at least 1")
        return rule


#: Per-method call rates (short method names); the rest use ``default_rate``.
DEFAULT_RATES: dict[str, RateRule] = {
    "VerifyLog": RateRule(1.0, 5.0),
    "ListEntries": RateRule(20.0, 50.0),
    "OpenSession": RateRule(5.0, 20.0),
    "Watch": RateRule(1.0, 5.0),  # health watch streams hold a server thread each
}


@dataclass(frozen=True)
class LimitsConfig:
    """A node's resource limits (defaults suit one platform serving a handful of banks)."""

    max_body_bytes: int = 512 * MiB
    party_bytes_in_flight: int = 512 * MiB
    bytes_in_flight: int = 1024 * MiB
    party_streams: int = 4
    party_bytes_per_s: float = 256.0 * MiB
    spill_threshold_bytes: int = 4 * MiB
    reserve_wait_s: float = 5.0
    default_rate: RateRule = RateRule(1000.0, 2000.0)
    rates: Mapping[str, RateRule] = field(default_factory=lambda: dict(DEFAULT_RATES))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> LimitsConfig:
        """Validate a ``[<node>.limits]`` table (unknown keys and bad values are refused)."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidArgument(f"unknown limits settings: {', '.join(unknown)}")
        out = cls()
        updates: dict[str, Any] = {}
        for name in ("max_body_bytes", "party_bytes_in_flight", "bytes_in_flight"):
            if name in raw:
                updates[name] = _positive_int(name, raw[name])
        if "party_streams" in raw:
            updates["party_streams"] = _positive_int("party_streams", raw["party_streams"])
        if "spill_threshold_bytes" in raw:
            updates["spill_threshold_bytes"] = _positive_int(
                "spill_threshold_bytes", raw["spill_threshold_bytes"]
            )
        if "reserve_wait_s" in raw:
            v = raw["reserve_wait_s"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 600:
                raise InvalidArgument("limits.reserve_wait_s must be between 0 and 600 seconds")
            updates["reserve_wait_s"] = float(v)
        if "party_bytes_per_s" in raw:
            v = raw["party_bytes_per_s"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise InvalidArgument("limits.party_bytes_per_s must be a positive number")
            updates["party_bytes_per_s"] = float(v)
        if "default_rate" in raw:
            updates["default_rate"] = RateRule.parse(raw["default_rate"])
        if "rates" in raw:
            if not isinstance(raw["rates"], Mapping):
                raise InvalidArgument("limits.rates is a table of method = [rate, burst]")
            rates = dict(out.rates)
            rates.update({str(k): RateRule.parse(v) for k, v in raw["rates"].items()})
            updates["rates"] = rates
        cfg = replace(out, **updates)
        if cfg.max_body_bytes > cfg.party_bytes_in_flight:
            raise InvalidArgument("limits.max_body_bytes exceeds limits.party_bytes_in_flight")
        if cfg.party_bytes_in_flight > cfg.bytes_in_flight:
            raise InvalidArgument("limits.party_bytes_in_flight exceeds limits.bytes_in_flight")
        return cfg

    def rate_for(self, method: str) -> RateRule:
        """The rule of a full method name (``/pkg.Service/Method``) or short name."""
        return self.rates.get(method.rsplit("/", 1)[-1], self.default_rate)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"limits.{name} must be a positive integer")
    return value
