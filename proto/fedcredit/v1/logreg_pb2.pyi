from proto.fedcredit.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LrInitRequest(_message.Message):
    __slots__ = ("model_id", "n_rows", "ids_digest", "train_rows", "params", "public_key", "validation_rows", "n_bank_features")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    IDS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ROWS_FIELD_NUMBER: _ClassVar[int]
    N_BANK_FEATURES_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: _common_pb2.Tensor
    params: _containers.ScalarMap[str, str]
    public_key: bytes
    validation_rows: _common_pb2.Tensor
    n_bank_features: int
    def __init__(self, model_id: _Optional[str] = ..., n_rows: _Optional[int] = ..., ids_digest: _Optional[str] = ..., train_rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., params: _Optional[_Mapping[str, str]] = ..., public_key: _Optional[bytes] = ..., validation_rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., n_bank_features: _Optional[int] = ...) -> None: ...

class LrInitResponse(_message.Message):
    __slots__ = ("n_features", "feature_names", "feature_groups", "batch_seed", "lo", "hi")
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SEED_FIELD_NUMBER: _ClassVar[int]
    LO_FIELD_NUMBER: _ClassVar[int]
    HI_FIELD_NUMBER: _ClassVar[int]
    n_features: int
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    feature_groups: _containers.RepeatedScalarFieldContainer[str]
    batch_seed: bytes
    lo: float
    hi: float
    def __init__(self, n_features: _Optional[int] = ..., feature_names: _Optional[_Iterable[str]] = ..., feature_groups: _Optional[_Iterable[str]] = ..., batch_seed: _Optional[bytes] = ..., lo: _Optional[float] = ..., hi: _Optional[float] = ...) -> None: ...

class LrTermsRequest(_message.Message):
    __slots__ = ("epoch", "batch", "enc_terms")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    ENC_TERMS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    enc_terms: _common_pb2.CipherArray
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., enc_terms: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class LrTermsResponse(_message.Message):
    __slots__ = ("epoch", "batch", "enc_bank", "enc_platform")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    ENC_BANK_FIELD_NUMBER: _ClassVar[int]
    ENC_PLATFORM_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    enc_bank: _common_pb2.CipherArray
    enc_platform: _common_pb2.CipherArray
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., enc_bank: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., enc_platform: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class LrUpdateRequest(_message.Message):
    __slots__ = ("epoch", "batch", "masked", "end_of_epoch")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    END_OF_EPOCH_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    masked: _containers.RepeatedScalarFieldContainer[bytes]
    end_of_epoch: bool
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., masked: _Optional[_Iterable[bytes]] = ..., end_of_epoch: _Optional[bool] = ...) -> None: ...

class LrUpdateResponse(_message.Message):
    __slots__ = ("epoch", "batch", "max_abs_delta", "lo", "hi", "mean_abs_change", "val_lo", "val_hi")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_DELTA_FIELD_NUMBER: _ClassVar[int]
    LO_FIELD_NUMBER: _ClassVar[int]
    HI_FIELD_NUMBER: _ClassVar[int]
    MEAN_ABS_CHANGE_FIELD_NUMBER: _ClassVar[int]
    VAL_LO_FIELD_NUMBER: _ClassVar[int]
    VAL_HI_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    max_abs_delta: float
    lo: float
    hi: float
    mean_abs_change: float
    val_lo: float
    val_hi: float
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., max_abs_delta: _Optional[float] = ..., lo: _Optional[float] = ..., hi: _Optional[float] = ..., mean_abs_change: _Optional[float] = ..., val_lo: _Optional[float] = ..., val_hi: _Optional[float] = ...) -> None: ...

class LrValLossRequest(_message.Message):
    __slots__ = ("epoch", "enc_terms")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENC_TERMS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    enc_terms: _common_pb2.CipherArray
    def __init__(self, epoch: _Optional[int] = ..., enc_terms: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class LrValLossResponse(_message.Message):
    __slots__ = ("epoch", "enc_loss")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ENC_LOSS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    enc_loss: _common_pb2.CipherArray
    def __init__(self, epoch: _Optional[int] = ..., enc_loss: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ...) -> None: ...

class LrFinalizeRequest(_message.Message):
    __slots__ = ("model_id", "epoch")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    epoch: int
    def __init__(self, model_id: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class LrFinalizeResponse(_message.Message):
    __slots__ = ("model_id", "platform_digest", "n_features", "platform_signature", "platform_key")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    n_features: int
    platform_signature: str
    platform_key: str
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., n_features: _Optional[int] = ..., platform_signature: _Optional[str] = ..., platform_key: _Optional[str] = ...) -> None: ...

class LrPredictRequest(_message.Message):
    __slots__ = ("model_id", "platform_digest", "rows", "ids_digest", "mode", "public_key")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    IDS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    rows: _common_pb2.Tensor
    ids_digest: str
    mode: str
    public_key: bytes
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., rows: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., ids_digest: _Optional[str] = ..., mode: _Optional[str] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class LrPredictResponse(_message.Message):
    __slots__ = ("n_rows", "enc_scores", "slot_bits", "slots_per_ciphertext")
    N_ROWS_FIELD_NUMBER: _ClassVar[int]
    ENC_SCORES_FIELD_NUMBER: _ClassVar[int]
    SLOT_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_PER_CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    n_rows: int
    enc_scores: _common_pb2.CipherArray
    slot_bits: int
    slots_per_ciphertext: int
    def __init__(self, n_rows: _Optional[int] = ..., enc_scores: _Optional[_Union[_common_pb2.CipherArray, _Mapping]] = ..., slot_bits: _Optional[int] = ..., slots_per_ciphertext: _Optional[int] = ...) -> None: ...

class LrScorecardRequest(_message.Message):
    __slots__ = ("model_id", "epoch", "factor", "round_points")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    ROUND_POINTS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    epoch: int
    factor: float
    round_points: bool
    def __init__(self, model_id: _Optional[str] = ..., epoch: _Optional[int] = ..., factor: _Optional[float] = ..., round_points: _Optional[bool] = ...) -> None: ...

class LrScorecardResponse(_message.Message):
    __slots__ = ("model_id", "platform_digest", "n_features", "n_bins", "platform_signature", "platform_key")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_DIGEST_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_KEY_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    platform_digest: str
    n_features: int
    n_bins: _containers.RepeatedScalarFieldContainer[int]
    platform_signature: str
    platform_key: str
    def __init__(self, model_id: _Optional[str] = ..., platform_digest: _Optional[str] = ..., n_features: _Optional[int] = ..., n_bins: _Optional[_Iterable[int]] = ..., platform_signature: _Optional[str] = ..., platform_key: _Optional[str] = ...) -> None: ...
