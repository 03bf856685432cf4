"""The serialisation seam: models never import protobuf, the transport provides a codec."""

from __future__ import annotations

import hashlib
from typing import Protocol, TypeVar

from models.federation.messages import WireMessage

M = TypeVar("M", bound=WireMessage)


class MessageCodec(Protocol):
    """Turns messages into bytes and back (``proto/transport/codec.py`` is the protobuf one)."""

    def encode(self, message: WireMessage) -> bytes: ...

    def decode(self, data: bytes, message_type: type[M]) -> M: ...


def digest_bytes(data: bytes) -> str:
    """The digest the step cache compares to detect a reused step id."""
    return hashlib.sha256(data).hexdigest()
