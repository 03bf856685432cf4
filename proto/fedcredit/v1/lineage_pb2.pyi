from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class LineageRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class LineageResponse(_message.Message):
    __slots__ = ("lineage_json", "bank_party")
    LINEAGE_JSON_FIELD_NUMBER: _ClassVar[int]
    BANK_PARTY_FIELD_NUMBER: _ClassVar[int]
    lineage_json: str
    bank_party: str
    def __init__(self, lineage_json: _Optional[str] = ..., bank_party: _Optional[str] = ...) -> None: ...
