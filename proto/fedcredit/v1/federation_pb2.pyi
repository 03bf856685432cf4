from proto.fedcredit.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SessionSpec(_message.Message):
    __slots__ = ("job_id", "algorithm", "dataset", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    algorithm: str
    dataset: str
    params: _containers.ScalarMap[str, str]
    def __init__(self, job_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., dataset: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("job_id", "algorithm", "resumed", "idle_timeout_s", "platform_party")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_PARTY_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    algorithm: str
    resumed: bool
    idle_timeout_s: float
    platform_party: str
    def __init__(self, job_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., resumed: _Optional[bool] = ..., idle_timeout_s: _Optional[float] = ..., platform_party: _Optional[str] = ...) -> None: ...

class CloseRequest(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CloseResponse(_message.Message):
    __slots__ = ("job_id", "closed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    closed: bool
    def __init__(self, job_id: _Optional[str] = ..., closed: _Optional[bool] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ("include_feature_names",)
    INCLUDE_FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    include_feature_names: bool
    def __init__(self, include_feature_names: _Optional[bool] = ...) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("dataset", "n_rows", "n_features", "digest", "categories", "feature_names", "meta")
    class MetaEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    n_rows: int
    n_features: int
    digest: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    meta: _containers.ScalarMap[str, str]
    def __init__(self, dataset: _Optional[str] = ..., n_rows: _Optional[int] = ..., n_features: _Optional[int] = ..., digest: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., feature_names: _Optional[_Iterable[str]] = ..., meta: _Optional[_Mapping[str, str]] = ...) -> None: ...
