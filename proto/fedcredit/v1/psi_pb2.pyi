from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PsiStartRequest(_message.Message):
    __slots__ = ("version", "group", "n_active", "chunk_size")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    N_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    version: str
    group: str
    n_active: int
    chunk_size: int
    def __init__(self, version: _Optional[str] = ..., group: _Optional[str] = ..., n_active: _Optional[int] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class PsiStartResponse(_message.Message):
    __slots__ = ("version", "n_passive", "chunk_size")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    N_PASSIVE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    version: str
    n_passive: int
    chunk_size: int
    def __init__(self, version: _Optional[str] = ..., n_passive: _Optional[int] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class PsiFetchRequest(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    def __init__(self, chunk: _Optional[int] = ...) -> None: ...

class PsiFetchResponse(_message.Message):
    __slots__ = ("chunk", "count", "points")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    points: bytes
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiReturnRequest(_message.Message):
    __slots__ = ("chunk", "count", "points")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    points: bytes
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiReturnResponse(_message.Message):
    __slots__ = ("chunk", "count")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class PsiBlindRequest(_message.Message):
    __slots__ = ("chunk", "count", "points")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    points: bytes
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiBlindResponse(_message.Message):
    __slots__ = ("chunk", "count", "points")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    count: int
    points: bytes
    def __init__(self, chunk: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiFinishRequest(_message.Message):
    __slots__ = ("chunk", "n_chunks", "n_intersection", "count", "points")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    N_INTERSECTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    n_chunks: int
    n_intersection: int
    count: int
    points: bytes
    def __init__(self, chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ..., n_intersection: _Optional[int] = ..., count: _Optional[int] = ..., points: _Optional[bytes] = ...) -> None: ...

class PsiFinishResponse(_message.Message):
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
