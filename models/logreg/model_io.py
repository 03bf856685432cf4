"""Two-part LR and scorecard model files: canonical JSON with a content digest, no pickle.

Each part is ``{"format": ..., "format_version": 1, ..., "digest": "sha256:..."}`` where the
digest covers the canonical JSON of every other field (the same container as SecureBoost's
parts, ``models/secureboost/model_io.py``, whose generic helpers are reused). Loading checks
format, version and digest and refuses a modified file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import DataLoss
from models.secureboost.model_io import (
    canonical_json,
    check_model_id,
    clean_json,
    content_digest,
    ids_digest,
    read_json,
    write_json_atomic,
)

FORMAT_VERSION = 1
BANK_FORMAT = "fedcredit.logreg.bank"
PLATFORM_FORMAT = "fedcredit.logreg.platform"
SCORECARD_BANK_FORMAT = "fedcredit.scorecard.bank"
SCORECARD_PLATFORM_FORMAT = "fedcredit.scorecard.platform"

__all__ = [
    "BANK_FORMAT",
    "FORMAT_VERSION",
    "PLATFORM_FORMAT",
    "SCORECARD_BANK_FORMAT",
    "SCORECARD_PLATFORM_FORMAT",
    "canonical_json",
    "check_model_id",
    "ids_digest",
    "load_part",
    "read_json",
    "save_part",
    "write_json_atomic",
]


def save_part(path: Path, body: dict[str, Any]) -> str:
    """Write one model part with its digest; returns the digest."""
    body = clean_json(body)
    if "digest" in body:
        raise DataLoss("a model body must not contain a digest field")
    digest = content_digest(body)
    write_json_atomic(path, {**body, "digest": digest})
    return digest


def load_part(path: Path, expected_format: str) -> tuple[dict[str, Any], str]:
    """Read one part, check its format, version and digest; returns (body, digest)."""
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != expected_format:
        raise DataLoss("file is not a model part of the expected kind")
    if doc.get("format_version") != FORMAT_VERSION:
        raise DataLoss("model part has an unsupported format version")
    digest = doc.pop("digest", None)
    if not isinstance(digest, str) or content_digest(doc) != digest:
        raise DataLoss("model part digest does not match its content")
    return doc, digest
