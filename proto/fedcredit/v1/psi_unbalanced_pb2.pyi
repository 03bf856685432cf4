from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class UpsiPlanRequest(_message.Message):
    __slots__ = ("version", "group", "n_active", "mode", "chunk_size", "held_key_id", "held_population_version")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    N_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    HELD_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_POPULATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    group: str
    n_active: int
    mode: str
    chunk_size: int
    held_key_id: str
    held_population_version: str
    def __init__(self, version: _Optional[str] = ..., group: _Optional[str] = ..., n_active: _Optional[int] = ..., mode: _Optional[str] = ..., chunk_size: _Optional[int] = ..., held_key_id: _Optional[str] = ..., held_population_version: _Optional[str] = ...) -> None: ...

class UpsiPlanResponse(_message.Message):
    __slots__ = ("version", "protocol", "n_passive", "min_ratio", "key_id", "population_version", "refresh", "cache_sha256", "cache_bytes", "cache_chunk_bytes", "n_cache_chunks", "n_cache", "bucket_bits", "count_bytes", "order_nonce")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    N_PASSIVE_FIELD_NUMBER: _ClassVar[int]
    MIN_RATIO_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    POPULATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    REFRESH_FIELD_NUMBER: _ClassVar[int]
    CACHE_SHA256_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    N_CACHE_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    N_CACHE_FIELD_NUMBER: _ClassVar[int]
    BUCKET_BITS_FIELD_NUMBER: _ClassVar[int]
    COUNT_BYTES_FIELD_NUMBER: _ClassVar[int]
    ORDER_NONCE_FIELD_NUMBER: _ClassVar[int]
    version: str
    protocol: str
    n_passive: int
    min_ratio: float
    key_id: str
    population_version: str
    refresh: bool
    cache_sha256: str
    cache_bytes: int
    cache_chunk_bytes: int
    n_cache_chunks: int
    n_cache: int
    bucket_bits: int
    count_bytes: int
    order_nonce: bytes
    def __init__(self, version: _Optional[str] = ..., protocol: _Optional[str] = ..., n_passive: _Optional[int] = ..., min_ratio: _Optional[float] = ..., key_id: _Optional[str] = ..., population_version: _Optional[str] = ..., refresh: _Optional[bool] = ..., cache_sha256: _Optional[str] = ..., cache_bytes: _Optional[int] = ..., cache_chunk_bytes: _Optional[int] = ..., n_cache_chunks: _Optional[int] = ..., n_cache: _Optional[int] = ..., bucket_bits: _Optional[int] = ..., count_bytes: _Optional[int] = ..., order_nonce: _Optional[bytes] = ...) -> None: ...

class UpsiCacheRequest(_message.Message):
    __slots__ = ("key_id", "population_version", "chunk")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    POPULATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    population_version: str
    chunk: int
    def __init__(self, key_id: _Optional[str] = ..., population_version: _Optional[str] = ..., chunk: _Optional[int] = ...) -> None: ...

class UpsiCacheResponse(_message.Message):
    __slots__ = ("key_id", "population_version", "chunk", "n_chunks", "data")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    POPULATION_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    population_version: str
    chunk: int
    n_chunks: int
    data: bytes
    def __init__(self, key_id: _Optional[str] = ..., population_version: _Optional[str] = ..., chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class UpsiEvalRequest(_message.Message):
    __slots__ = ("key_id", "chunk", "count", "points")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    chunk: int
    count: int
    points: bytes
    def __init__(self, key_id: _Optional[str] = ..., chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class UpsiEvalResponse(_message.Message):
    __slots__ = ("key_id", "chunk", "count", "points")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    chunk: int
    count: int
    points: bytes
    def __init__(self, key_id: _Optional[str] = ..., chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class UpsiFinishRequest(_message.Message):
    __slots__ = ("key_id", "chunk", "n_chunks", "n_intersection", "count", "points")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    N_INTERSECTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    chunk: int
    n_chunks: int
    n_intersection: int
    count: int
    points: bytes
    def __init__(self, key_id: _Optional[str] = ..., chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ..., n_intersection: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class UpsiFinishResponse(_message.Message):
    __slots__ = ("chunk", "count", "done", "alignment_digest")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ALIGNMENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    done: bool
    alignment_digest: str
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ..., done: _Optional[bool] = ..., alignment_digest: _Optional[str] = ...) -> None: ...
