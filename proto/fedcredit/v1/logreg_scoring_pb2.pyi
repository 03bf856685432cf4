from proto.fedcredit.v1 import common_pb2 as _common_pb2
from proto.fedcredit.v1 import scoring_pb2 as _scoring_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CategoryNames(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class LinearScoreRequest(_message.Message):
    __slots__ = ("header", "public_key", "max_reasons", "pack_slots")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_REASONS_FIELD_NUMBER: _ClassVar[int]
    PACK_SLOTS_FIELD_NUMBER: _ClassVar[int]
    header: _scoring_pb2.ScoreHeader
    public_key: bytes
    max_reasons: int
    pack_slots: int
    def __init__(self, header: _Optional[_Union[_scoring_pb2.ScoreHeader, _Mapping]] = ..., public_key: _Optional[bytes] = ..., max_reasons: _Optional[int] = ..., pack_slots: _Optional[int] = ...) -> None: ...

class LinearScoreResponse(_message.Message):
    __slots__ = ("reply", "enc_values", "adverse_categories", "packed_slots")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    ENC_VALUES_FIELD_NUMBER: _ClassVar[int]
    ADVERSE_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    PACKED_SLOTS_FIELD_NUMBER: _ClassVar[int]
    reply: _scoring_pb2.ScoreReply
    enc_values: _common_pb2.CipherArray
    adverse_categories: _containers.RepeatedCompositeFieldContainer[CategoryNames]
    packed_slots: int
    def __init__(self, reply: _Optional[_Union[_scoring_pb2.ScoreReply, _Mapping]] = ..., enc_values: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., adverse_categories: _Optional[_Iterable[_Union[CategoryNames, _Mapping]]] = ..., packed_slots: _Optional[int] = ...) -> None: ...
