"""Node configuration: a TOML file, then ``FEDCREDIT_<NODE>_<KEY>`` environment overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument


def load_toml(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidArgument("config file not found") from None
    except tomllib.TOMLDecodeError:
        raise InvalidArgument("config file is not valid TOML") from None


def apply_env(
    section: dict[str, Any], prefix: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Override top-level scalar keys of ``section`` from ``<PREFIX>_<KEY>`` variables."""
    env = os.environ if env is None else env
    out = dict(section)
    for key, value in env.items():
        if not key.startswith(prefix + "_"):
            continue
        name = key[len(prefix) + 1 :].lower()
        current = out.get(name)
        if isinstance(current, bool):
            out[name] = value.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            out[name] = int(value)
        elif isinstance(current, float):
            out[name] = float(value)
        else:
            out[name] = value
    return out


def resolve(base: Path, value: str | Path) -> Path:
    """A path from the config, relative to the config file's directory."""
    p = Path(value)
    return p if p.is_absolute() else (base / p)
