from proto.fedcredit.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BinInitRequest(_message.Message):
    __slots__ = ("model_id", "n_rows", "ids_digest", "train_rows", "method", "n_bins", "public_key", "dp_epsilon", "min_category_count")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    IDS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DP_EPSILON_FIELD_NUMBER: _ClassVar[int]
    MIN_CATEGORY_COUNT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: _common_pb2.Tensor
    method: str
    n_bins: int
    public_key: bytes
    dp_epsilon: float
    min_category_count: int
    def __init__(self, model_id: _Optional[str] = ..., n_rows: _Optional[int] = ..., ids_digest: _Optional[str] = ..., train_rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., method: _Optional[str] = ..., n_bins: _Optional[int] = ..., public_key: _Optional[bytes] = ..., dp_epsilon: _Optional[float] = ..., min_category_count: _Optional[int] = ...) -> None: ...

class BinInitResponse(_message.Message):
    __slots__ = ("n_features", "n_bins", "feature_names", "feature_groups", "categorical")
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_FIELD_NUMBER: _ClassVar[int]
    n_features: int
    n_bins: _containers.RepeatedScalarFieldContainer[int]
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    feature_groups: _containers.RepeatedScalarFieldContainer[str]
    categorical: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, n_features: _Optional[int] = ..., n_bins: _Optional[_Iterable[int]] = ..., feature_names: _Optional[_Iterable[str]] = ..., feature_groups: _Optional[_Iterable[str]] = ..., categorical: _Optional[_Iterable[bool]] = ...) -> None: ...

class BinCountsRequest(_message.Message):
    __slots__ = ("enc_labels",)
    ENC_LABELS_FIELD_NUMBER: _ClassVar[int]
    enc_labels: _common_pb2.CipherArray
    def __init__(self, enc_labels: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class BinCountsResponse(_message.Message):
    __slots__ = ("totals", "enc_events", "slot_bits", "slots_per_ciphertext", "n_values", "dp_epsilon", "dp_mechanism", "event_offset")
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    ENC_EVENTS_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    N_VALUES_FIELD_NUMBER: _ClassVar[int]
    DP_EPSILON_FIELD_NUMBER: _ClassVar[int]
    DP_MECHANISM_FIELD_NUMBER: _ClassVar[int]
    EVENT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    totals: _common_pb2.Tensor
    enc_events: _common_pb2.CipherArray
    slot_bits: int
    slots_per_ciphertext: int
    n_values: int
    dp_epsilon: float
    dp_mechanism: str
    event_offset: int
    def __init__(self, totals: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., enc_events: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., slot_bits: _Optional[int] = ..., slots_per_ciphertext: _Optional[int] = ..., n_values: _Optional[int] = ..., dp_epsilon: _Optional[float] = ..., dp_mechanism: _Optional[str] = ..., event_offset: _Optional[int] = ...) -> None: ...

class BinWoeRequest(_message.Message):
    __slots__ = ("features", "mappings", "woe")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    WOE_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[int]
    mappings: _common_pb2.Tensor
    woe: _common_pb2.Tensor
    def __init__(self, features: _Optional[_Iterable[int]] = ..., mappings: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., woe: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class BinWoeResponse(_message.Message):
    __slots__ = ("features", "n_bins")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[int]
    n_bins: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, features: _Optional[_Iterable[int]] = ..., n_bins: _Optional[_Iterable[int]] = ...) -> None: ...
