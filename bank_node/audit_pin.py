"""Which audit key the bank expects the platform to sign with.

The platform presents its Ed25519 audit key with every page of entries. Trusting whatever it
presents would let a platform that rewrote its log re-sign it with a new key. The bank pins the
key's fingerprint instead:

- ``platform_audit_key`` in ``bank.toml`` (or ``FEDCREDIT_BANK_PLATFORM_AUDIT_KEY``), as
  published by the platform operator (``fedcredit audit verify --config platform.toml`` prints
  it), takes precedence;
- otherwise the first fingerprint the bank sees is kept in ``<data_dir>/audit/
  platform_audit_key`` (trust on first use, like SSH's known hosts) and every later read is
  checked against it.

Replacing a pinned key is an operator's decision: edit the config or delete the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bank_node.config import BankConfig
from models.errors import InvalidArgument

_FINGERPRINT = re.compile(r"^[0-9a-f]{16,128}$")


def pin_file(config: BankConfig) -> Path:
    return config.data_dir / "audit" / "platform_audit_key"


def pinned_platform_key(config: BankConfig) -> str:
    """The fingerprint the platform's audit key must have, or "" when none is pinned yet."""
    configured = config.platform_audit_key.strip().lower()
    if configured:
        if not _FINGERPRINT.match(configured):
            raise InvalidArgument("platform_audit_key must be a hex key fingerprint")
        return configured
    path = pin_file(config)
    if not path.is_file():
        return ""
    stored = path.read_text(encoding="ascii").strip()
    if not _FINGERPRINT.match(stored):
        raise InvalidArgument(f"{path} does not hold a key fingerprint")
    return stored


def remember_platform_key(config: BankConfig, fingerprint: str) -> bool:
    """Pin ``fingerprint`` on first use (no configured or stored pin); True if it was written."""
    if config.platform_audit_key.strip() or not fingerprint:
        return False
    path = pin_file(config)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(fingerprint + "\n", encoding="ascii")
    os.replace(tmp, path)
    return True
