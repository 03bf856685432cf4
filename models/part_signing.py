"""Model parts signed with the node's key.

A content digest alone does not stop someone who can write a node's files: they edit a part
and recompute its digest with :func:`models.model_io.save_part`. A node therefore signs every
part it saves under its data directory with its own Ed25519 model-signing key
(``<data_dir>/keys/model_signing.key``, 0600, encrypted with the node's passphrase when one is
configured: :mod:`models.keystore`), and refuses at load, with :class:`DataLoss`, a part there
whose signature is missing, made by another key, or over another digest.

The signature sits beside the part in ``<part>.sig`` (JSON: algorithm, public key, signature
over ``fedcredit-model-part/v1\\0<digest>``), so the part's format and digest are unchanged.
A node registers its key for its data directory (:func:`register_node_key`, done when the
node opens its data directory, see ``proto/transport/audit_servicer.py``); parts outside every
registered directory (a bare library use, tests) are neither signed nor checked. Parts that
were already in the directory when it first got its key are adopted (signed) once.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from models.errors import DataLoss
from models.keystore import load_private_key, private_key_pem, write_private_file

SIG_SUFFIX = ".sig"
ALGORITHM = "ed25519"
KEY_FILE = Path("keys") / "model_signing.key"
ADOPTED_MARKER = Path("keys") / ".parts-adopted-v1"
_ADOPT_MAX = 256 << 20
_CONTEXT = b"fedcredit-model-part/v1\x00"

_lock = threading.Lock()
_keys: dict[Path, Ed25519PrivateKey] = {}


def signed_message(digest: str) -> bytes:
    return _CONTEXT + digest.encode("ascii")


def public_hex(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_or_create_node_key(data_dir: Path) -> Ed25519PrivateKey:
    """The node's model-signing key, created on first use."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        write_private_file(path, private_key_pem(Ed25519PrivateKey.generate()))
    key = load_private_key(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise DataLoss("the model-signing key is not an Ed25519 key")
    return key


def register_node_key(data_dir: Path, key: Ed25519PrivateKey | None = None) -> Ed25519PrivateKey:
    """Sign and require signatures for every part saved or loaded under ``data_dir``.

    The first time a data directory gets its key, the parts already there (saved by a version
    without signatures, or by a library use before the node first started) are adopted: each
    one whose content digest verifies is signed (:func:`adopt_parts`). From then on an
    unsigned part is refused.
    """
    root = Path(data_dir).resolve()
    key = key or load_or_create_node_key(root)
    with _lock:
        _keys[root] = key
    marker = root / ADOPTED_MARKER
    if not marker.exists():
        adopt_parts(root)
        write_private_file(marker, b"")
    return key


def adopt_parts(root: Path) -> list[Path]:
    """Sign the unsigned model parts under ``root`` whose digest matches their content
    (parts that do not verify stay unsigned, hence refused); returns the parts signed."""
    from models.canonical import content_digest

    signed: list[Path] = []
    for path in sorted(Path(root).rglob("*.json")):
        if sig_path(path).exists() or not path.is_file() or path.stat().st_size > _ADOPT_MAX:
            continue
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        if not isinstance(doc, dict) or not str(doc.get("format", "")).startswith("fedcredit."):
            continue
        digest = doc.pop("digest", None)
        try:
            ok = isinstance(digest, str) and content_digest(doc) == digest
        except (TypeError, ValueError):
            ok = False
        if ok and sign_part(path, str(digest)):
            signed.append(path)
    return signed


def unregister_node_key(data_dir: Path) -> None:
    with _lock:
        _keys.pop(Path(data_dir).resolve(), None)


def key_for(path: Path) -> Ed25519PrivateKey | None:
    """The key of the innermost registered directory holding ``path``."""
    target = Path(path).resolve()
    with _lock:
        roots = sorted(_keys, key=lambda p: len(p.parts), reverse=True)
        for root in roots:
            if target.is_relative_to(root):
                return _keys[root]
    return None


def sig_path(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + SIG_SUFFIX)


def sign_part(path: Path, digest: str) -> bool:
    """Write ``<path>.sig`` when ``path`` lies under a registered node directory."""
    key = key_for(path)
    if key is None:
        return False
    doc = {
        "algorithm": ALGORITHM,
        "public_key": public_hex(key.public_key()),
        "digest": digest,
        "signature": key.sign(signed_message(digest)).hex(),
    }
    write_private_file(sig_path(path), json.dumps(doc, sort_keys=True).encode("ascii"))
    return True


def part_signature(path: Path) -> str:
    """The hex signature of a saved part ("" when it is not signed)."""
    p = sig_path(path)
    if not p.exists():
        return ""
    try:
        return str(json.loads(p.read_bytes())["signature"])
    except (ValueError, KeyError, TypeError):
        return ""


def signature_fields(path: Path) -> dict[str, str]:
    """``platform_signature`` and ``platform_key`` of a saved part, for a finalize answer
    (empty strings when the part is not signed)."""
    p = sig_path(path)
    try:
        doc = json.loads(p.read_bytes())
        return {"platform_signature": str(doc["signature"]), "platform_key": str(doc["public_key"])}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return {"platform_signature": "", "platform_key": ""}


def verified_platform_signature(response: object) -> tuple[str, str]:
    """The bank's check of a finalize answer: when the platform signed its part, the
    signature must be valid over the digest it sent (:class:`DataLoss` if not). Returns
    ``(signature, public key)`` (empty when unsigned); whether the key is the platform's is
    the bank node's decision (it pins the key, ``bank_node/jobs/runner.py``)."""
    digest = str(getattr(response, "platform_digest", ""))
    signature = str(getattr(response, "platform_signature", ""))
    key = str(getattr(response, "platform_key", ""))
    if not signature and not key:
        return "", ""
    verify_signature(key, digest, signature)
    return signature, key


def verify_signature(public_key_hex: str, digest: str, signature_hex: str) -> None:
    """Check an Ed25519 signature over a part digest (raises :class:`DataLoss`)."""
    try:
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        pub.verify(bytes.fromhex(signature_hex), signed_message(digest))
    except (ValueError, InvalidSignature):
        raise DataLoss("model part signature is not valid") from None


def verify_part(path: Path, digest: str) -> None:
    """Refuse a part under a registered node directory unless that node signed its digest."""
    key = key_for(path)
    if key is None:
        return
    p = sig_path(path)
    try:
        doc = json.loads(p.read_bytes())
        public, signature = str(doc["public_key"]), str(doc["signature"])
    except FileNotFoundError:
        raise DataLoss("model part is not signed by this node") from None
    except (ValueError, KeyError, TypeError):
        raise DataLoss("model part signature file is unreadable") from None
    if public != public_hex(key.public_key()):
        raise DataLoss("model part is signed by another key than this node's")
    verify_signature(public, digest, signature)
