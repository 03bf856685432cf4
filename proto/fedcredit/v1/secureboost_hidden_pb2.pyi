from proto.fedcredit.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SbLevelGradientsRequest(_message.Message):
    __slots__ = ("tree", "depth", "chunk", "n_chunks", "offset", "n_slots", "n_groups", "features", "enc_gh")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    N_SLOTS_FIELD_NUMBER: _ClassVar[int]
    N_GROUPS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ENC_GH_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    chunk: int
    n_chunks: int
    offset: int
    n_slots: int
    n_groups: int
    features: _containers.RepeatedScalarFieldContainer[int]
    enc_gh: _common_pb2.CipherArray
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ..., offset: _Optional[int] = ..., n_slots: _Optional[int] = ..., n_groups: _Optional[int] = ..., features: _Optional[_Iterable[int]] = ..., enc_gh: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class SbLevelGradientsResponse(_message.Message):
    __slots__ = ("tree", "depth", "received")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    received: int
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., received: _Optional[int] = ...) -> None: ...

class SbLevelHistogramRequest(_message.Message):
    __slots__ = ("tree", "depth")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ...) -> None: ...

class SbLevelHistogramResponse(_message.Message):
    __slots__ = ("tree", "depth", "n_slots", "n_groups", "per_ciphertext", "value_count", "enc_hist")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    N_SLOTS_FIELD_NUMBER: _ClassVar[int]
    N_GROUPS_FIELD_NUMBER: _ClassVar[int]
    PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    VALUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENC_HIST_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    n_slots: int
    n_groups: int
    per_ciphertext: int
    value_count: int
    enc_hist: _common_pb2.CipherArray
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., n_slots: _Optional[int] = ..., n_groups: _Optional[int] = ..., per_ciphertext: _Optional[int] = ..., value_count: _Optional[int] = ..., enc_hist: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class SbLevelSplitRequest(_message.Message):
    __slots__ = ("tree", "depth", "node_ids", "split_ids", "features", "bins", "missing_left", "cat_sizes", "cat_bins")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    MISSING_LEFT_FIELD_NUMBER: _ClassVar[int]
    CAT_SIZES_FIELD_NUMBER: _ClassVar[int]
    CAT_BINS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    features: _containers.RepeatedScalarFieldContainer[int]
    bins: _containers.RepeatedScalarFieldContainer[int]
    missing_left: _containers.RepeatedScalarFieldContainer[bool]
    cat_sizes: _containers.RepeatedScalarFieldContainer[int]
    cat_bins: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., node_ids: _Optional[_Iterable[int]] = ..., split_ids: _Optional[_Iterable[int]] = ..., features: _Optional[_Iterable[int]] = ..., bins: _Optional[_Iterable[int]] = ..., missing_left: _Optional[_Iterable[bool]] = ..., cat_sizes: _Optional[_Iterable[int]] = ..., cat_bins: _Optional[_Iterable[int]] = ...) -> None: ...

class SbLevelSplitResponse(_message.Message):
    __slots__ = ("tree", "split_ids", "n_rows", "left")
    TREE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    tree: int
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    n_rows: int
    left: _common_pb2.Tensor
    def __init__(self, tree: _Optional[int] = ..., split_ids: _Optional[_Iterable[int]] = ..., n_rows: _Optional[int] = ..., left: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...
