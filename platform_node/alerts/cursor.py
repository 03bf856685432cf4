"""Opaque alert-stream cursors: a log position sealed for one bank.

The platform's event log is global (every company's events, in one ``seq`` order). A bank
must resume its stream from where it stopped, but the position itself would tell it how many
events the platform derived city-wide between two of its own alerts (other companies'
data). So the bank only ever holds a *sealed* cursor::

    token = version (1 byte) || nonce (12 bytes) || AES-256-GCM(key, nonce, position (8 bytes),
                                                           aad = "fedcredit-alert-cursor" || bank)

The key is a platform secret (``meta`` table of the alert store, 0600). The nonce is fresh for
every token, so two tokens for the same position differ, and every token has the same length:
the bank cannot tell whether the log moved between two progress marks, nor by how much. The
bank name is authenticated, so a cursor of one bank is refused for another, and a modified
token is refused (``FAILED_PRECONDITION``; the bank then starts again from an empty cursor,
which is safe: the platform resends every event since each watch's registration and the bank
drops the ones it holds).

Reveals to bank: nothing but a fixed-length random-looking string per progress mark.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.errors import FailedPrecondition

VERSION = 1
NONCE_BYTES = 12
TOKEN_BYTES = 1 + NONCE_BYTES + 8 + 16
_AAD = b"fedcredit-alert-cursor\0"
INVALID = "the alert cursor is not valid for this platform and bank"


class CursorSealer:
    """Seal and open cursors under a 32-byte platform secret."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the cursor key is 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, bank: str, position: int) -> bytes:
        """A fresh token for ``position`` (a different one on every call)."""
        nonce = os.urandom(NONCE_BYTES)
        body = self._aead.encrypt(nonce, struct.pack(">Q", position), _AAD + bank.encode())
        return bytes([VERSION]) + nonce + body

    def open(self, bank: str, token: bytes, *, top: int | None = None) -> int:
        """The position in ``token`` (0 for an empty token: from the start).

        Raises ``FailedPrecondition`` for a token not sealed by this platform for ``bank``, or
        one ahead of the log's end ``top`` (a platform restored from an older copy).
        """
        if not token:
            return 0
        if len(token) != TOKEN_BYTES or token[0] != VERSION:
            raise FailedPrecondition(INVALID)
        nonce, body = token[1 : 1 + NONCE_BYTES], token[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, _AAD + bank.encode())
        except InvalidTag:
            raise FailedPrecondition(INVALID) from None
        position = int(struct.unpack(">Q", plain)[0])
        if top is not None and position > top:
            raise FailedPrecondition(INVALID)
        return position
