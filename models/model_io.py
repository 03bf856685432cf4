"""Model part files shared by every algorithm: canonical JSON with a content digest, no pickle.

Each part is a JSON object ``{"format": ..., "format_version": 1, ..., "digest": "sha256:..."}``
where ``digest`` is the SHA-256 of the canonical JSON (sorted keys, no whitespace, ASCII, no
NaN/Infinity) of every other field. Loading recomputes it and refuses a modified file. Under a
node's data directory each part is also signed with the node's key and the signature checked
at load (``models/part_signing.py``), so a part edited and re-hashed is refused too. Floats
are written with Python's shortest round-trip repr, so a loaded model predicts bit-identically.
Each algorithm names its own ``format`` strings (``models/secureboost/model_io.py``,
``models/logreg/model_io.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from models.canonical import canonical_json, clean_json, content_digest
from models.errors import DataLoss, InvalidArgument, NotFound

FORMAT_VERSION = 1
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_model_id(model_id: str) -> None:
    if not _MODEL_ID.match(model_id or ""):
        raise InvalidArgument("model id must be 1-128 characters of letters, digits, '.', '_', '-'")


def ids_digest(ids: np.ndarray | list[str]) -> str:
    """Digest of an ordered id list (both parties compare their aligned row order)."""
    h = hashlib.sha256()
    h.update("\x1f".join(np.asarray(ids).astype(str).tolist()).encode("utf-8"))
    return h.hexdigest()


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to ``path`` via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = canonical_json(obj)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise NotFound("model or state file not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataLoss("model or state file is not valid JSON") from exc


def save_part(path: Path, body: dict[str, Any]) -> str:
    """Write one model part with its digest; returns the digest."""
    body = clean_json(body)
    if "digest" in body:
        raise InvalidArgument("a model body must not contain a digest field")
    digest = content_digest(body)
    write_json_atomic(path, {**body, "digest": digest})
    from models.part_signing import sign_part

    sign_part(path, digest)  # under a node's data directory: signed with the node's key
    return digest


def load_part(path: Path, expected_format: str) -> tuple[dict[str, Any], str]:
    """Read one model part, check its format, version and digest; returns (body, digest)."""
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != expected_format:
        raise DataLoss("file is not a model part of the expected kind")
    if doc.get("format_version") != FORMAT_VERSION:
        raise DataLoss("model part has an unsupported format version")
    digest = doc.pop("digest", None)
    if not isinstance(digest, str) or content_digest(doc) != digest:
        raise DataLoss("model part digest does not match its content")
    from models.part_signing import verify_part

    verify_part(path, digest)  # under a node's data directory: signed by the node's key
    return doc, digest
