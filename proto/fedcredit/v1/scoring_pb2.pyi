from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("uscc", "application_id", "bank_fields", "model", "as_of")
    class BankFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    USCC_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    BANK_FIELDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    uscc: str
    application_id: str
    bank_fields: _containers.ScalarMap[str, float]
    model: str
    as_of: str
    def __init__(self, uscc: _Optional[str] = ..., application_id: _Optional[str] = ..., bank_fields: _Optional[_Mapping[str, float]] = ..., model: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class ScoreReason(_message.Message):
    __slots__ = ("rank", "code", "source", "factor", "description")
    RANK_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    rank: int
    code: str
    source: str
    factor: str
    description: str
    def __init__(self, rank: _Optional[int] = ..., code: _Optional[str] = ..., source: _Optional[str] = ..., factor: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("request_id", "probability_of_default", "score", "risk_band", "model_name", "model_version", "model_id", "model_family", "reasons", "consent_id", "as_of")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_OF_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RISK_BAND_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FAMILY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    probability_of_default: float
    score: float
    risk_band: str
    model_name: str
    model_version: str
    model_id: str
    model_family: str
    reasons: _containers.RepeatedCompositeFieldContainer[ScoreReason]
    consent_id: str
    as_of: str
    def __init__(self, request_id: _Optional[str] = ..., probability_of_default: _Optional[float] = ..., score: _Optional[float] = ..., risk_band: _Optional[str] = ..., model_name: _Optional[str] = ..., model_version: _Optional[str] = ..., model_id: _Optional[str] = ..., model_family: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[ScoreReason, _Mapping]]] = ..., consent_id: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ScoreRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ScoreRequest, _Mapping]]] = ...) -> None: ...

class ScoreBatchItem(_message.Message):
    __slots__ = ("index", "result", "error_code", "error_message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    result: ScoreResponse
    error_code: str
    error_message: str
    def __init__(self, index: _Optional[int] = ..., result: _Optional[_Union[ScoreResponse, _Mapping]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoreBatchItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ScoreBatchItem, _Mapping]]] = ...) -> None: ...

class ScoreEnvelope(_message.Message):
    __slots__ = ("body_type", "body")
    BODY_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    body_type: str
    body: bytes
    def __init__(self, body_type: _Optional[str] = ..., body: _Optional[bytes] = ...) -> None: ...

class ScoreHeader(_message.Message):
    __slots__ = ("request_ids", "usccs", "family", "model_id", "platform_digest", "dataset", "as_of")
    REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    USCCS_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    request_ids: _containers.RepeatedScalarFieldContainer[str]
    usccs: _containers.RepeatedScalarFieldContainer[str]
    family: str
    model_id: str
    platform_digest: str
    dataset: str
    as_of: str
    def __init__(self, request_ids: _Optional[_Iterable[str]] = ..., usccs: _Optional[_Iterable[str]] = ..., family: _Optional[str] = ..., model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., dataset: _Optional[str] = ..., as_of: _Optional[str] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("model_id", "platform_digest", "as_of", "consent_ids", "status", "messages")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CONSENT_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    as_of: str
    consent_ids: _containers.RepeatedScalarFieldContainer[str]
    status: _containers.RepeatedScalarFieldContainer[str]
    messages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., as_of: _Optional[str] = ..., consent_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Iterable[str]] = ..., messages: _Optional[_Iterable[str]] = ...) -> None: ...
