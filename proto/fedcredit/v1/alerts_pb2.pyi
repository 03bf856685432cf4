from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchEntry(_message.Message):
    __slots__ = ("loan_id", "uscc", "start_date", "end_date")
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    USCC_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    uscc: str
    start_date: str
    end_date: str
    def __init__(self, loan_id: _Optional[str] = ..., uscc: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ...) -> None: ...

class RegisterWatchRequest(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[WatchEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[WatchEntry, _Mapping]]] = ...) -> None: ...

class WatchResult(_message.Message):
    __slots__ = ("index", "accepted", "error_code", "error_message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    accepted: bool
    error_code: str
    error_message: str
    def __init__(self, index: _Optional[int] = ..., accepted: _Optional[bool] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class RegisterWatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[WatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[WatchResult, _Mapping]]] = ...) -> None: ...

class StopWatchRequest(_message.Message):
    __slots__ = ("loan_id",)
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    loan_id: str
    def __init__(self, loan_id: _Optional[str] = ...) -> None: ...

class StopWatchResponse(_message.Message):
    __slots__ = ("stopped",)
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    stopped: int
    def __init__(self, stopped: _Optional[int] = ...) -> None: ...

class ListWatchesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWatchesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[WatchEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[WatchEntry, _Mapping]]] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ("heartbeat_ms", "cursor")
    HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    heartbeat_ms: int
    cursor: bytes
    def __init__(self, heartbeat_ms: _Optional[int] = ..., cursor: _Optional[bytes] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("event_id", "uscc", "loan_id", "event_type", "severity", "ingested_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    USCC_FIELD_NUMBER: _ClassVar[int]
    LOAN_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    uscc: str
    loan_id: str
    event_type: str
    severity: int
    ingested_at: str
    def __init__(self, event_id: _Optional[str] = ..., uscc: _Optional[str] = ..., loan_id: _Optional[str] = ..., event_type: _Optional[str] = ..., severity: _Optional[int] = ..., ingested_at: _Optional[str] = ...) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("alert", "cursor")
    ALERT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    alert: Alert
    cursor: bytes
    def __init__(self, alert: _Optional[_Union[Alert, _Mapping]] = ..., cursor: _Optional[bytes] = ...) -> None: ...
