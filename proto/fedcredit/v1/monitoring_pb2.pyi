from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeatureStabilityRequest(_message.Message):
    __slots__ = ("dataset", "categories", "reference_as_of", "current_as_of", "usccs", "n_bins")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_AS_OF_FIELD_NUMBER: _ClassVar[int]
    CURRENT_AS_OF_FIELD_NUMBER: _ClassVar[int]
    USCCS_FIELD_NUMBER: _ClassVar[int]
    N_BINS_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    categories: str
    reference_as_of: str
    current_as_of: str
    usccs: _containers.RepeatedScalarFieldContainer[str]
    n_bins: int
    def __init__(self, dataset: _Optional[str] = ..., categories: _Optional[str] = ..., reference_as_of: _Optional[str] = ..., current_as_of: _Optional[str] = ..., usccs: _Optional[_Iterable[str]] = ..., n_bins: _Optional[int] = ...) -> None: ...

class FeatureStabilityValue(_message.Message):
    __slots__ = ("feature", "group", "index")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    feature: str
    group: str
    index: float
    def __init__(self, feature: _Optional[str] = ..., group: _Optional[str] = ..., index: _Optional[float] = ...) -> None: ...

class FeatureStabilityResponse(_message.Message):
    __slots__ = ("features", "n_requested", "n_population", "reference_as_of", "current_as_of", "query_id")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    N_POPULATION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_AS_OF_FIELD_NUMBER: _ClassVar[int]
    CURRENT_AS_OF_FIELD_NUMBER: _ClassVar[int]
    QUERY_ID_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[FeatureStabilityValue]
    n_requested: int
    n_population: int
    reference_as_of: str
    current_as_of: str
    query_id: str
    def __init__(self, features: _Optional[_Iterable[_Union[FeatureStabilityValue, _Mapping]]] = ..., n_requested: _Optional[int] = ..., n_population: _Optional[int] = ..., reference_as_of: _Optional[str] = ..., current_as_of: _Optional[str] = ..., query_id: _Optional[str] = ...) -> None: ...
