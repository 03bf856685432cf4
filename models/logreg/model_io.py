"""Two-part LR and scorecard model files: canonical JSON with a content digest, no pickle.

Each part is ``{"format": ..., "format_version": 1, ..., "digest": "sha256:..."}`` where the
digest covers the canonical JSON of every other field (the shared container of
``models/model_io.py``). Loading checks format, version and digest and refuses a modified file.
"""

from __future__ import annotations

from models.model_io import (
    FORMAT_VERSION,
    canonical_json,
    check_model_id,
    ids_digest,
    load_part,
    read_json,
    save_part,
    write_json_atomic,
)

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
