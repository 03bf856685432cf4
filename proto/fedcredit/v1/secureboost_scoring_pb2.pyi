from proto.fedcredit.v1 import scoring_pb2 as _scoring_pb2
from proto.fedcredit.v1 import secureboost_pb2 as _secureboost_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SbScoreRequest(_message.Message):
    __slots__ = ("header", "predict")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PREDICT_FIELD_NUMBER: _ClassVar[int]
    header: _scoring_pb2.ScoreHeader
    predict: _secureboost_pb2.SbSecurePredictRequest
    def __init__(self, header: _Optional[_Union[_scoring_pb2.ScoreHeader, _Mapping]] = ..., predict: _Optional[_Union[_secureboost_pb2.SbSecurePredictRequest, _Mapping]] = ...) -> None: ...

class SbScoreResponse(_message.Message):
    __slots__ = ("reply", "predict")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    PREDICT_FIELD_NUMBER: _ClassVar[int]
    reply: _scoring_pb2.ScoreReply
    predict: _secureboost_pb2.SbSecurePredictResponse
    def __init__(self, reply: _Optional[_Union[_scoring_pb2.ScoreReply, _Mapping]] = ..., predict: _Optional[_Union[_secureboost_pb2.SbSecurePredictResponse, _Mapping]] = ...) -> None: ...
