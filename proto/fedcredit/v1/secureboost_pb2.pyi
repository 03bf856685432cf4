from proto.fedcredit.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SbInitRequest(_message.Message):
    __slots__ = ("model_id", "n_rows", "ids_digest", "train_rows", "n_bins", "public_key", "slot_bits", "slots_per_ciphertext", "completed_trees", "privacy", "frac_bits", "g_bits", "valid_rows")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    IDS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TREES_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    FRAC_BITS_FIELD_NUMBER: _ClassVar[int]
    G_BITS_FIELD_NUMBER: _ClassVar[int]
    VALID_ROWS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: _common_pb2.Tensor
    n_bins: int
    public_key: bytes
    slot_bits: int
    slots_per_ciphertext: int
    completed_trees: int
    privacy: str
    frac_bits: int
    g_bits: int
    valid_rows: _common_pb2.Tensor
    def __init__(self, model_id: _Optional[str] = ..., n_rows: _Optional[int] = ..., ids_digest: _Optional[str] = ..., train_rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., n_bins: _Optional[int] = ..., public_key: _Optional[bytes] = ..., slot_bits: _Optional[int] = ..., slots_per_ciphertext: _Optional[int] = ..., completed_trees: _Optional[int] = ..., privacy: _Optional[str] = ..., frac_bits: _Optional[int] = ..., g_bits: _Optional[int] = ..., valid_rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbInitResponse(_message.Message):
    __slots__ = ("n_features", "n_value_bins", "feature_groups", "feature_names", "completed_trees", "categorical")
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_VALUE_BINS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TREES_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_FIELD_NUMBER: _ClassVar[int]
    n_features: int
    n_value_bins: _containers.RepeatedScalarFieldContainer[int]
    feature_groups: _containers.RepeatedScalarFieldContainer[str]
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    completed_trees: int
    categorical: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, n_features: _Optional[int] = ..., n_value_bins: _Optional[_Iterable[int]] = ..., feature_groups: _Optional[_Iterable[str]] = ..., feature_names: _Optional[_Iterable[str]] = ..., completed_trees: _Optional[int] = ..., categorical: _Optional[_Iterable[bool]] = ...) -> None: ...

class SbGradientsRequest(_message.Message):
    __slots__ = ("tree", "chunk", "n_chunks", "rows", "features", "enc_gh")
    TREE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    N_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ENC_GH_FIELD_NUMBER: _ClassVar[int]
    tree: int
    chunk: int
    n_chunks: int
    rows: _common_pb2.Tensor
    features: _containers.RepeatedScalarFieldContainer[int]
    enc_gh: _common_pb2.CipherArray
    def __init__(self, tree: _Optional[int] = ..., chunk: _Optional[int] = ..., n_chunks: _Optional[int] = ..., rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., features: _Optional[_Iterable[int]] = ..., enc_gh: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class SbGradientsResponse(_message.Message):
    __slots__ = ("tree", "received")
    TREE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    tree: int
    received: int
    def __init__(self, tree: _Optional[int] = ..., received: _Optional[int] = ...) -> None: ...

class SbHistogramRequest(_message.Message):
    __slots__ = ("tree", "depth", "node_ids", "node_sizes", "rows")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    NODE_SIZES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    node_sizes: _containers.RepeatedScalarFieldContainer[int]
    rows: _common_pb2.Tensor
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., node_ids: _Optional[_Iterable[int]] = ..., node_sizes: _Optional[_Iterable[int]] = ..., rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbHistogramResponse(_message.Message):
    __slots__ = ("tree", "depth", "node_ids", "skipped_bins", "value_count", "enc_hist", "present")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BINS_FIELD_NUMBER: _ClassVar[int]
    VALUE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENC_HIST_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    skipped_bins: _common_pb2.Tensor
    value_count: int
    enc_hist: _common_pb2.CipherArray
    present: _common_pb2.Tensor
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., node_ids: _Optional[_Iterable[int]] = ..., skipped_bins: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., value_count: _Optional[int] = ..., enc_hist: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., present: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbSplitRequest(_message.Message):
    __slots__ = ("tree", "depth", "node_ids", "split_ids", "features", "bins", "missing_left", "node_sizes", "rows", "cat_sizes", "cat_bins")
    TREE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    MISSING_LEFT_FIELD_NUMBER: _ClassVar[int]
    NODE_SIZES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CAT_SIZES_FIELD_NUMBER: _ClassVar[int]
    CAT_BINS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    depth: int
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    features: _containers.RepeatedScalarFieldContainer[int]
    bins: _containers.RepeatedScalarFieldContainer[int]
    missing_left: _containers.RepeatedScalarFieldContainer[bool]
    node_sizes: _containers.RepeatedScalarFieldContainer[int]
    rows: _common_pb2.Tensor
    cat_sizes: _containers.RepeatedScalarFieldContainer[int]
    cat_bins: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., depth: _Optional[int] = ..., node_ids: _Optional[_Iterable[int]] = ..., split_ids: _Optional[_Iterable[int]] = ..., features: _Optional[_Iterable[int]] = ..., bins: _Optional[_Iterable[int]] = ..., missing_left: _Optional[_Iterable[bool]] = ..., node_sizes: _Optional[_Iterable[int]] = ..., rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., cat_sizes: _Optional[_Iterable[int]] = ..., cat_bins: _Optional[_Iterable[int]] = ...) -> None: ...

class SbSplitResponse(_message.Message):
    __slots__ = ("tree", "node_ids", "left")
    TREE_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    tree: int
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    left: _common_pb2.Tensor
    def __init__(self, tree: _Optional[int] = ..., node_ids: _Optional[_Iterable[int]] = ..., left: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbRouteRequest(_message.Message):
    __slots__ = ("split_ids", "rows")
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    rows: _common_pb2.Tensor
    def __init__(self, split_ids: _Optional[_Iterable[int]] = ..., rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbRouteResponse(_message.Message):
    __slots__ = ("split_ids", "n_rows", "decisions")
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    n_rows: int
    decisions: _common_pb2.Tensor
    def __init__(self, split_ids: _Optional[_Iterable[int]] = ..., n_rows: _Optional[int] = ..., decisions: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class SbTreeDoneRequest(_message.Message):
    __slots__ = ("tree", "split_ids")
    TREE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_IDS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    split_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., split_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SbTreeDoneResponse(_message.Message):
    __slots__ = ("tree", "committed_trees")
    TREE_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_TREES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    committed_trees: int
    def __init__(self, tree: _Optional[int] = ..., committed_trees: _Optional[int] = ...) -> None: ...

class SbFinalizeRequest(_message.Message):
    __slots__ = ("model_id", "n_trees", "trees_digest")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    N_TREES_FIELD_NUMBER: _ClassVar[int]
    TREES_DIGEST_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    n_trees: int
    trees_digest: str
    def __init__(self, model_id: _Optional[str] = ..., n_trees: _Optional[int] = ..., trees_digest: _Optional[str] = ...) -> None: ...

class SbFinalizeResponse(_message.Message):
    __slots__ = ("model_id", "platform_digest", "n_splits", "platform_signature", "platform_key")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    N_SPLITS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    n_splits: int
    platform_signature: str
    platform_key: str
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., n_splits: _Optional[int] = ..., platform_signature: _Optional[str] = ..., platform_key: _Optional[str] = ...) -> None: ...

class SbSecurePredictRequest(_message.Message):
    __slots__ = ("model_id", "ids", "layout_digest", "key_fingerprint", "enc_cells", "public_context")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    KEY_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    ENC_CELLS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    layout_digest: str
    key_fingerprint: str
    enc_cells: _common_pb2.CipherArray
    public_context: bytes
    def __init__(self, model_id: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., layout_digest: _Optional[str] = ..., key_fingerprint: _Optional[str] = ..., enc_cells: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., public_context: _Optional[bytes] = ...) -> None: ...

class SbSecurePredictResponse(_message.Message):
    __slots__ = ("model_id", "platform_digest", "n_rows", "need_key", "enc_margins")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    NEED_KEY_FIELD_NUMBER: _ClassVar[int]
    ENC_MARGINS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    n_rows: int
    need_key: bool
    enc_margins: _common_pb2.CipherArray
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., n_rows: _Optional[int] = ..., need_key: _Optional[bool] = ..., enc_margins: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...
