"""Ed25519 audit signing keys: one per node, separate from its TLS key.

The private key is a PKCS#8 PEM file readable only by its owner; the public key lives next to
the audit log (``<log>.pub``) so that anyone holding the log can verify it. A regulator should
pin the key fingerprint it expects (:func:`key_fingerprint`) rather than trust the file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.errors import AlreadyExists, CryptoError, NotFound
from models.keystore import load_private_key, private_key_pem

PathLike = str | os.PathLike[str]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_private_key(path: PathLike, key: Ed25519PrivateKey) -> None:
    """Write ``key`` to a new file at ``path`` (PKCS#8 PEM, mode 0600); refuses to overwrite."""
    pem = private_key_pem(key)  # encrypted with the node's passphrase when one is set
    try:
        _write_private(Path(path), pem)
    except FileExistsError:
        raise AlreadyExists("an audit signing key already exists at that path") from None


def generate_signing_key(path: PathLike) -> Ed25519PrivateKey:
    """Create a new Ed25519 key at ``path`` (mode 0600); refuses to overwrite one."""
    key = Ed25519PrivateKey.generate()
    write_private_key(path, key)
    return key


def load_signing_key(path: PathLike) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, PKCS#8; encrypted ones with the node's passphrase,
    :mod:`models.keystore`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("audit signing key file not found") from None
    if b"ENCRYPTED" in data.split(b"\n", 1)[0]:
        key = load_private_key(path)  # FailedPrecondition without the right passphrase
    else:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise CryptoError("audit signing key file could not be read") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CryptoError("audit signing key is not an Ed25519 key")
    return key


def load_or_create_signing_key(path: PathLike) -> Ed25519PrivateKey:
    """The node's audit key at ``path``, generated on first use."""
    try:
        return load_signing_key(path)
    except NotFound:
        try:
            return generate_signing_key(path)
        except AlreadyExists:  # another process created it meanwhile
            return load_signing_key(path)


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(source: PathLike | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes or a PEM file."""
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise NotFound("audit public key file not found") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise CryptoError("audit public key could not be read") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CryptoError("audit public key is not an Ed25519 key")
    return key


def key_fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_path(log_path: PathLike) -> Path:
    """Where the log's public key is kept (``audit.jsonl`` -> ``audit.pub``)."""
    return Path(log_path).with_suffix(".pub")


def head_path(log_path: PathLike) -> Path:
    """Where the signed head (last seq and hash) of the log is kept (``audit.head``)."""
    return Path(log_path).with_suffix(".head")
