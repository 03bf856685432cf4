"""Private keys at rest: PEM files readable only by their owner, encrypted with the node's
passphrase when one is configured.

The passphrase comes from the environment, never from a config file or the command line:

- ``FEDCREDIT_KEY_PASSPHRASE_FD=<n>``: read from file descriptor ``n`` (a pipe the service
  manager or a secrets agent opened; read once, then closed), or
- ``FEDCREDIT_KEY_PASSPHRASE``: the passphrase itself (for containers that inject secrets as
  environment variables).

With neither set, keys are written unencrypted (development only; ``docs/operations.md``).
A key written encrypted cannot be read without the passphrase (:class:`FailedPrecondition`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from models.errors import DataLoss, FailedPrecondition

ENV_PASSPHRASE = "FEDCREDIT_KEY_PASSPHRASE"
ENV_PASSPHRASE_FD = "FEDCREDIT_KEY_PASSPHRASE_FD"

_lock = threading.Lock()
_from_fd: dict[str, bytes] = {}


def node_passphrase() -> bytes | None:
    """The configured key passphrase, or None (see the module docstring)."""
    fd_text = os.environ.get(ENV_PASSPHRASE_FD, "").strip()
    if fd_text:
        with _lock:
            if fd_text not in _from_fd:
                try:
                    fd = int(fd_text)
                except ValueError:
                    raise FailedPrecondition(f"{ENV_PASSPHRASE_FD} is not a descriptor") from None
                chunks = []
                try:
                    while chunk := os.read(fd, 4096):
                        chunks.append(chunk)
                except OSError:
                    raise FailedPrecondition(f"{ENV_PASSPHRASE_FD} cannot be read") from None
                finally:
                    os.close(fd)
                _from_fd[fd_text] = b"".join(chunks).rstrip(b"\r\n")
            value = _from_fd[fd_text]
        return value or None
    text = os.environ.get(ENV_PASSPHRASE, "")
    return text.encode("utf-8") if text else None


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 (directory 0700), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def private_key_pem(key: Any, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted with ``passphrase`` (default: the node's) if any."""
    pw = node_passphrase() if passphrase is None else passphrase
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(pw) if pw else serialization.NoEncryption()
    )
    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )


def load_private_key(path: Path, passphrase: bytes | None = None) -> Any:
    """Load a PEM private key written by :func:`private_key_pem` (encrypted or not)."""
    data = Path(path).read_bytes()
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
    pw = node_passphrase() if passphrase is None else passphrase
    if encrypted and not pw:
        raise FailedPrecondition(
            f"the key is encrypted: set {ENV_PASSPHRASE_FD} or {ENV_PASSPHRASE}"
        )
    try:
        return serialization.load_pem_private_key(data, password=pw if encrypted else None)
    except ValueError:
        if encrypted:
            raise FailedPrecondition("the key passphrase is wrong") from None
        raise DataLoss("the key file is not a valid private key") from None


def unencrypted_pem(path: Path) -> bytes:
    """The key at ``path`` as unencrypted PKCS#8 PEM, in memory only (for libraries such as
    gRPC that take key bytes)."""
    data = Path(path).read_bytes()
    if b"ENCRYPTED" not in data.split(b"\n", 1)[0]:
        return data
    return private_key_pem(load_private_key(path), passphrase=b"")
