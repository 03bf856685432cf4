"""Generic conversion between :class:`WireMessage` dataclasses and protobuf messages.

A dataclass ``Foo`` in ``models`` corresponds to ``fedcredit.v1.Foo`` with fields of the same
names. ``numpy.ndarray`` fields map to ``Tensor``; nested messages recurse; ``dict`` fields map
to protobuf maps. ``tests/test_codec.py`` checks that every registered dataclass has its twin.
"""

from __future__ import annotations

import dataclasses
import functools
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


# -- conversion plans ---------------------------------------------------------------------------
# What to do with each field of a (dataclass, protobuf descriptor) pair, worked out once per pair
# (reading descriptor options on every field of every message is a large share of a small
# message's conversion).
_MAP_MSG, _MAP, _REP_TENSOR, _REP_MSG, _REP, _TENSOR, _MSG, _SCALAR = range(8)

Plan = tuple[tuple[str, int, str], ...]
"""``(field name, kind, name of the nested message type or "")`` per dataclass field."""


_PLANS: dict[tuple[Any, Any], Plan] = {}


def _plan(cls: Any, desc: Any) -> Plan:
    """The plan of a (dataclass, descriptor) pair (built on first use; a pair whose fields do
    not match raises ``TypeError`` every time, as the conversion itself does)."""
    key = (cls, desc)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _make_plan(cls, desc)
    return plan


def _make_plan(cls: Any, desc: Any) -> Plan:
    out: list[tuple[str, int, str]] = []
    for f in dataclasses.fields(cls):
        fd = desc.fields_by_name.get(f.name)
        if fd is None:
            raise TypeError(f"{desc.full_name} has no field {f.name}")
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            val = mt.fields_by_name["value"].message_type
            out.append((f.name, _MAP_MSG, val.name) if val is not None else (f.name, _MAP, ""))
        elif fd.is_repeated:
            if mt is None:
                out.append((f.name, _REP, ""))
            else:
                out.append((f.name, _REP_TENSOR if _is_tensor(fd) else _REP_MSG, mt.name))
        elif mt is not None:
            out.append((f.name, _TENSOR if _is_tensor(fd) else _MSG, mt.name))
        else:
            out.append((f.name, _SCALAR, ""))
    return tuple(out)


@functools.cache
def _proto_class_cached(name: str) -> type[_message.Message]:
    return proto_class(name)


# -- dataclass -> protobuf ---------------------------------------------------------------------
def to_proto(msg: WireMessage) -> _message.Message:
    """Convert a message dataclass to its protobuf twin."""
    out = _proto_class_cached(type(msg).__wire_name__)()
    _fill(out, msg)
    return out


def _is_tensor(fd: Any) -> bool:
    return fd.message_type is not None and fd.message_type.full_name == f"{PACKAGE}.Tensor"


def _fill(out: _message.Message, msg: Any) -> None:
    for name, kind, _sub in _plan(type(msg), out.DESCRIPTOR):
        value = getattr(msg, name)
        if value is None:
            continue
        if kind == _SCALAR:
            setattr(out, name, value.item() if isinstance(value, np.generic) else value)
            continue
        target = getattr(out, name)
        if kind == _MAP_MSG:
            for k, v in value.items():
                _fill(target[k], v)
        elif kind == _MAP:
            for k, v in value.items():
                target[k] = v
        elif kind == _REP:
            target.extend(value.tolist() if isinstance(value, np.ndarray) else value)
        elif kind == _REP_TENSOR:
            for item in value:
                array_to_tensor(item, target.add())
        elif kind == _REP_MSG:
            for item in value:
                _fill(target.add(), item)
        elif kind == _TENSOR:
            array_to_tensor(value, target)
        else:
            _fill(target, value)


# -- protobuf -> dataclass ---------------------------------------------------------------------
def from_proto(pb: _message.Message, cls: type[M] | None = None) -> M:
    """Convert a protobuf message to its dataclass twin (``cls`` defaults to the registry's)."""
    if cls is None:
        cls = message_type(pb.DESCRIPTOR.name)  # type: ignore[assignment]
    assert cls is not None
    return _read(pb, cls)


def _read(pb: _message.Message, cls: type[Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for name, kind, sub in _plan(cls, pb.DESCRIPTOR):
        value = getattr(pb, name)
        if kind == _SCALAR:
            kwargs[name] = value
        elif kind == _MAP_MSG:
            sub_cls = message_type(sub)
            kwargs[name] = {k: _read(v, sub_cls) for k, v in value.items()}
        elif kind == _MAP:
            kwargs[name] = dict(value)
        elif kind == _REP_TENSOR:
            kwargs[name] = [tensor_to_array(v) for v in value]
        elif kind == _REP_MSG:
            sub_cls = message_type(sub)
            kwargs[name] = [_read(v, sub_cls) for v in value]
        elif kind == _REP:
            kwargs[name] = list(value)
        elif not pb.HasField(name):
            kwargs[name] = None
        elif kind == _TENSOR:
            kwargs[name] = tensor_to_array(value)
        else:
            kwargs[name] = _read(value, message_type(sub))
    return cls(**kwargs)


class ProtobufCodec:
    """:class:`models.federation.codec.MessageCodec` over protobuf bytes."""

    def encode(self, message: WireMessage) -> bytes:
        data: bytes = to_proto(message).SerializeToString()
        return data

    def decode(self, data: bytes, message_type_: type[M]) -> M:
        pb = _proto_class_cached(message_type_.__wire_name__)()
        try:
            pb.ParseFromString(data)
        except _message.DecodeError:
            raise InvalidArgument("message bytes could not be parsed") from None
        return from_proto(pb, message_type_)


def full_name(message: WireMessage) -> str:
    return f"{PACKAGE}.{type(message).__wire_name__}"
