from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AuditActor(_message.Message):
    __slots__ = ("party", "role", "cert_fingerprint")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CERT_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    party: str
    role: str
    cert_fingerprint: str
    def __init__(self, party: _Optional[str] = ..., role: _Optional[str] = ..., cert_fingerprint: _Optional[str] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("seq", "ts", "actor", "event", "details_json", "prev_hash", "hash", "signature")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    ts: str
    actor: AuditActor
    event: str
    details_json: str
    prev_hash: str
    hash: str
    signature: str
    def __init__(self, seq: _Optional[int] = ..., ts: _Optional[str] = ..., actor: _Optional[_Union[AuditActor, _Mapping]] = ..., event: _Optional[str] = ..., details_json: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("event", "model_id", "job_id", "limit", "after_seq", "party")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    event: str
    model_id: str
    job_id: str
    limit: int
    after_seq: int
    party: str
    def __init__(self, event: _Optional[str] = ..., model_id: _Optional[str] = ..., job_id: _Optional[str] = ..., limit: _Optional[int] = ..., after_seq: _Optional[int] = ..., party: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("entries", "node_party", "public_key_pem", "head_seq", "has_more", "key_rotations")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NODE_PARTY_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    KEY_ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    node_party: str
    public_key_pem: str
    head_seq: int
    has_more: bool
    key_rotations: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., node_party: _Optional[str] = ..., public_key_pem: _Optional[str] = ..., head_seq: _Optional[int] = ..., has_more: _Optional[bool] = ..., key_rotations: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...

class VerifyLogRequest(_message.Message):
    __slots__ = ("expected_key_fingerprint",)
    EXPECTED_KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    expected_key_fingerprint: str
    def __init__(self, expected_key_fingerprint: _Optional[str] = ...) -> None: ...

class VerifyLogResponse(_message.Message):
    __slots__ = ("ok", "n_entries", "first_bad_seq", "problem", "detail", "head_seq", "head_hash", "key_fingerprint", "node_party", "current_key_fingerprint", "rotations")
    OK_FIELD_NUMBER: _ClassVar[int]
    N_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    FIRST_BAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    NODE_PARTY_FIELD_NUMBER: _ClassVar[int]
    CURRENT_KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    n_entries: int
    first_bad_seq: int
    problem: str
    detail: str
    head_seq: int
    head_hash: str
    key_fingerprint: str
    node_party: str
    current_key_fingerprint: str
    rotations: int
    def __init__(self, ok: _Optional[bool] = ..., n_entries: _Optional[int] = ..., first_bad_seq: _Optional[int] = ..., problem: _Optional[str] = ..., detail: _Optional[str] = ..., head_seq: _Optional[int] = ..., head_hash: _Optional[str] = ..., key_fingerprint: _Optional[str] = ..., node_party: _Optional[str] = ..., current_key_fingerprint: _Optional[str] = ..., rotations: _Optional[int] = ...) -> None: ...
