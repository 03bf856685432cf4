"""Cross-party messages as typed, frozen dataclasses.

Every message class subclasses :class:`WireMessage` and is a ``@dataclass(frozen=True)``. On the
wire it becomes the protobuf message of the same name in package ``fedcredit.v1`` whose fields
have the same names (``proto/transport/codec.py`` converts generically; a test checks that every
registered class has its protobuf twin). Allowed field types:

- ``int``, ``float``, ``bool``, ``str``, ``bytes`` and ``list`` of these (repeated scalars);
- ``numpy.ndarray`` (protobuf ``Tensor``: dtype, shape, raw little-endian bytes);
- another :class:`WireMessage` or a ``list`` of them (nested / repeated messages);
- ``dict[str, str | int | float]`` (protobuf ``map``);
- ``X | None`` for an optional nested message.

Ciphertexts are :class:`models.crypto.wire.CipherArray` messages: bytes with scheme, key
fingerprint, count and width, never Python objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

_REGISTRY: dict[str, type[WireMessage]] = {}

M = TypeVar("M", bound="WireMessage")


class WireMessage:
    """Base class of every message that crosses between the parties."""

    __wire_name__: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("__wire_name__", cls.__name__)
        cls.__wire_name__ = name
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(f"two wire messages are named {name}")
        _REGISTRY[name] = cls

    def replace(self: M, **changes: Any) -> M:
        """Return a copy with some fields changed (messages are immutable)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def message_type(name: str) -> type[WireMessage]:
    """Return the registered message class for a wire name (``KeyError`` if unknown)."""
    return _REGISTRY[name]


def registered_messages() -> dict[str, type[WireMessage]]:
    """A copy of the registry: wire name -> class."""
    return dict(_REGISTRY)
