"""SecureBoost's two model parts (bank and platform): the shared container of
``models/model_io.py`` with SecureBoost's format names. See ``docs/secureboost.md`` for the
fields of both parts.
"""

from __future__ import annotations

from models.model_io import (
    FORMAT_VERSION,
    canonical_json,
    check_model_id,
    clean_json,
    content_digest,
    ids_digest,
    load_part,
    read_json,
    save_part,
    write_json_atomic,
)

BANK_FORMAT = "fedcredit.secureboost.bank"
PLATFORM_FORMAT = "fedcredit.secureboost.platform"

__all__ = [
    "BANK_FORMAT",
    "FORMAT_VERSION",
    "PLATFORM_FORMAT",
    "canonical_json",
    "check_model_id",
    "clean_json",
    "content_digest",
    "ids_digest",
    "load_part",
    "read_json",
    "save_part",
    "write_json_atomic",
]
