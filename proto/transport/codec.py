"""Generic conversion between :class:`WireMessage` dataclasses and protobuf messages.

A dataclass ``Foo`` in ``models`` corresponds to ``fedcredit.v1.Foo`` with fields of the same
names. ``numpy.ndarray`` fields map to ``Tensor``; nested messages recurse; ``dict`` fields map
to protobuf maps. ``tests/test_codec.py`` checks that every registered dataclass has its twin.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from typing import Any, TypeVar

import numpy as np
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf import message_factory, symbol_database

import proto.fedcredit.v1 as _v1
from models.errors import InvalidArgument
from models.federation.messages import WireMessage, message_type

PACKAGE = "fedcredit.v1"
M = TypeVar("M", bound=WireMessage)
_FD = _descriptor.FieldDescriptor
_ALLOWED_DTYPES = frozenset("biufUSO")
_MAX_DIM = 1 << 40  # no axis of a message is longer (bodies are at most 2 GB)


def _load_generated() -> None:
    for info in pkgutil.iter_modules(_v1.__path__):
        if info.name.endswith("_pb2"):
            importlib.import_module(f"{_v1.__name__}.{info.name}")


_load_generated()
_POOL = symbol_database.Default().pool  # type: ignore[attr-defined]


def proto_class(name: str) -> type[_message.Message]:
    """The generated protobuf class for ``fedcredit.v1.<name>``."""
    try:
        desc = _POOL.FindMessageTypeByName(f"{PACKAGE}.{name}")
    except KeyError:
        raise InvalidArgument("unknown message type") from None
    cls: type[_message.Message] = message_factory.GetMessageClass(desc)
    return cls


# -- numpy <-> Tensor --------------------------------------------------------------------------
def array_to_tensor(arr: np.ndarray, out: _message.Message) -> None:
    a = np.asarray(arr)
    if a.dtype.kind not in _ALLOWED_DTYPES or a.dtype.kind == "O":
        raise InvalidArgument("array dtype cannot travel on the wire")
    a = np.require(a, requirements="C")
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    out.dtype = a.dtype.str  # type: ignore[attr-defined]
    out.shape[:] = list(a.shape)  # type: ignore[attr-defined]
    out.data = a.tobytes()  # type: ignore[attr-defined]


def tensor_to_array(t: Any) -> np.ndarray:
    try:
        dtype = np.dtype(t.dtype)
    except TypeError:
        raise InvalidArgument("tensor has an unknown dtype") from None
    if dtype.kind not in _ALLOWED_DTYPES or dtype.kind == "O" or dtype.byteorder == ">":
        raise InvalidArgument("tensor has a dtype that is not allowed")
    shape = tuple(int(s) for s in t.shape)
    if any(s < 0 for s in shape):
        raise InvalidArgument("tensor has a negative dimension")
    if len(shape) > 32 or any(s > _MAX_DIM for s in shape):
        raise InvalidArgument("tensor has too many or too large dimensions")
    n = math.prod(shape)  # exact (numpy's product would overflow int64)
    if len(t.data) != n * dtype.itemsize:
        raise InvalidArgument("tensor bytes do not match its shape")
    try:
        return np.frombuffer(t.data, dtype=dtype).reshape(shape).copy()
    except ValueError:
        raise InvalidArgument("tensor shape cannot be represented") from None


# -- dataclass -> protobuf ---------------------------------------------------------------------
def to_proto(msg: WireMessage) -> _message.Message:
    """Convert a message dataclass to its protobuf twin."""
    out = proto_class(type(msg).__wire_name__)()
    _fill(out, msg)
    return out


def _is_tensor(fd: Any) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == f"{PACKAGE}.Tensor"


def _fill(out: _message.Message, msg: Any) -> None:
    desc = out.DESCRIPTOR
    for f in dataclasses.fields(msg):
        fd = desc.fields_by_name.get(f.name)
        if fd is None:
            raise TypeError(f"{desc.full_name} has no field {f.name}")
        value = getattr(msg, f.name)
        if value is None:
            continue
        target = getattr(out, f.name)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            val_fd = fd.message_type.fields_by_name["value"]
            for k, v in value.items():
                if val_fd.message_type is not None:
                    _fill(target[k], v)
                else:
                    target[k] = v
        elif fd.is_repeated:
            if fd.message_type is not None:
                for item in value:
                    sub = target.add()
                    if _is_tensor(fd):
                        array_to_tensor(item, sub)
                    else:
                        _fill(sub, item)
            else:
                target.extend(value.tolist() if isinstance(value, np.ndarray) else value)
        elif fd.message_type is not None:
            if _is_tensor(fd):
                array_to_tensor(value, target)
            else:
                _fill(target, value)
        else:
            setattr(out, f.name, value.item() if isinstance(value, np.generic) else value)


# -- protobuf -> dataclass ---------------------------------------------------------------------
def from_proto(pb: _message.Message, cls: type[M] | None = None) -> M:
    """Convert a protobuf message to its dataclass twin (``cls`` defaults to the registry's)."""
    if cls is None:
        cls = message_type(pb.DESCRIPTOR.name)  # type: ignore[assignment]
    assert cls is not None
    return _read(pb, cls)


def _read(pb: _message.Message, cls: type[Any]) -> Any:
    desc = pb.DESCRIPTOR
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        fd = desc.fields_by_name[f.name]
        value = getattr(pb, f.name)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            val_fd = fd.message_type.fields_by_name["value"]
            if val_fd.message_type is not None:
                sub_cls = message_type(val_fd.message_type.name)
                kwargs[f.name] = {k: _read(v, sub_cls) for k, v in value.items()}
            else:
                kwargs[f.name] = dict(value)
        elif fd.is_repeated:
            if fd.message_type is not None:
                if _is_tensor(fd):
                    kwargs[f.name] = [tensor_to_array(v) for v in value]
                else:
                    sub_cls = message_type(fd.message_type.name)
                    kwargs[f.name] = [_read(v, sub_cls) for v in value]
            else:
                kwargs[f.name] = list(value)
        elif fd.message_type is not None:
            if not pb.HasField(f.name):
                kwargs[f.name] = None
            elif _is_tensor(fd):
                kwargs[f.name] = tensor_to_array(value)
            else:
                kwargs[f.name] = _read(value, message_type(fd.message_type.name))
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


class ProtobufCodec:
    """:class:`models.federation.codec.MessageCodec` over protobuf bytes."""

    def encode(self, message: WireMessage) -> bytes:
        data: bytes = to_proto(message).SerializeToString()
        return data

    def decode(self, data: bytes, message_type_: type[M]) -> M:
        pb = proto_class(message_type_.__wire_name__)()
        try:
            pb.ParseFromString(data)
        except _message.DecodeError:
            raise InvalidArgument("message bytes could not be parsed") from None
        return from_proto(pb, message_type_)


def full_name(message: WireMessage) -> str:
    return f"{PACKAGE}.{type(message).__wire_name__}"
