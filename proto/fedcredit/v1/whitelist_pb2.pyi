from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WhitelistCandidate(_message.Message):
    __slots__ = ("uscc", "reason", "criteria")
    USCC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    uscc: str
    reason: str
    criteria: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, uscc: _Optional[str] = ..., reason: _Optional[str] = ..., criteria: _Optional[_Iterable[str]] = ...) -> None: ...

class RecommendRequest(_message.Message):
    __slots__ = ("candidates", "batch_ref")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    BATCH_REF_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[WhitelistCandidate]
    batch_ref: str
    def __init__(self, candidates: _Optional[_Iterable[_Union[WhitelistCandidate, _Mapping]]] = ..., batch_ref: _Optional[str] = ...) -> None: ...

class RejectedCandidate(_message.Message):
    __slots__ = ("index", "kind", "message")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    index: int
    kind: str
    message: str
    def __init__(self, index: _Optional[int] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RecommendResponse(_message.Message):
    __slots__ = ("received", "accepted", "duplicates", "rejected_invalid_uscc", "rejected_other", "rejected")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_INVALID_USCC_FIELD_NUMBER: _ClassVar[int]
    REJECTED_OTHER_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    received: int
    accepted: int
    duplicates: int
    rejected_invalid_uscc: int
    rejected_other: int
    rejected: _containers.RepeatedCompositeFieldContainer[RejectedCandidate]
    def __init__(self, received: _Optional[int] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected_invalid_uscc: _Optional[int] = ..., rejected_other: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RejectedCandidate, _Mapping]]] = ...) -> None: ...

class ListWhitelistRequest(_message.Message):
    __slots__ = ("industry", "district", "limit")
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    industry: str
    district: str
    limit: int
    def __init__(self, industry: _Optional[str] = ..., district: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class WhitelistRecommendation(_message.Message):
    __slots__ = ("recommender", "reason", "criteria", "recommended_at")
    RECOMMENDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_AT_FIELD_NUMBER: _ClassVar[int]
    recommender: str
    reason: str
    criteria: _containers.RepeatedScalarFieldContainer[str]
    recommended_at: str
    def __init__(self, recommender: _Optional[str] = ..., reason: _Optional[str] = ..., criteria: _Optional[_Iterable[str]] = ..., recommended_at: _Optional[str] = ...) -> None: ...

class WhitelistEntry(_message.Message):
    __slots__ = ("uscc", "name", "industry_code", "district", "recommendations")
    USCC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    DISTRICT_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    uscc: str
    name: str
    industry_code: str
    district: str
    recommendations: _containers.RepeatedCompositeFieldContainer[WhitelistRecommendation]
    def __init__(self, uscc: _Optional[str] = ..., name: _Optional[str] = ..., industry_code: _Optional[str] = ..., district: _Optional[str] = ..., recommendations: _Optional[_Iterable[_Union[WhitelistRecommendation, _Mapping]]] = ...) -> None: ...

class ListWhitelistResponse(_message.Message):
    __slots__ = ("entries", "total", "query_id")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[WhitelistEntry]
    total: int
    query_id: str
    def __init__(self, entries: _Optional[_Iterable[_Union[WhitelistEntry, _Mapping]]] = ..., total: _Optional[int] = ..., query_id: _Optional[str] = ...) -> None: ...
