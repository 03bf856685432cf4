"""Chunked streaming of large messages: a body becomes a stream of ``Frame`` messages.

The first frame carries a :class:`FrameHeader` (job id, step id, body type, total size and a
SHA-256 of the body); the concatenation of all chunks is the serialized body. The receiver
checks size and digest before parsing, so a truncated or corrupted stream is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from models.errors import InvalidArgument, ResourceExhausted
from proto.fedcredit.v1 import common_pb2

#: Bytes per frame. gRPC messages stay well under ``MAX_MESSAGE_BYTES``.
CHUNK_BYTES = 1 << 20
#: The explicit per-message limit set on both channels and servers.
MAX_MESSAGE_BYTES = 4 * CHUNK_BYTES
#: Largest reassembled body accepted (ciphertext batches of a few million entries).
MAX_BODY_BYTES = 2_000_000_000


@dataclass(frozen=True)
class Body:
    job_id: str
    step_id: str
    body_type: str
    data: bytes


def to_frames(body: Body, chunk_bytes: int = CHUNK_BYTES) -> Iterator[common_pb2.Frame]:
    data = body.data
    header = common_pb2.FrameHeader(
        job_id=body.job_id,
        step_id=body.step_id,
        body_type=body.body_type,
        total_bytes=len(data),
        sha256=hashlib.sha256(data).digest(),
    )
    view = memoryview(data)
    first = bytes(view[:chunk_bytes])
    yield common_pb2.Frame(header=header, chunk=first)
    for start in range(chunk_bytes, len(data), chunk_bytes):
        yield common_pb2.Frame(chunk=bytes(view[start : start + chunk_bytes]))


def from_frames(frames: Iterable[common_pb2.Frame], max_body: int = MAX_BODY_BYTES) -> Body:
    header: common_pb2.FrameHeader | None = None
    parts: list[bytes] = []
    size = 0
    for frame in frames:
        if header is None:
            if not frame.HasField("header"):
                raise InvalidArgument("stream does not start with a frame header")
            header = frame.header
            if header.total_bytes > max_body:
                raise ResourceExhausted("message is larger than the allowed maximum")
        elif frame.HasField("header"):
            raise InvalidArgument("frame header repeated inside a stream")
        size += len(frame.chunk)
        if size > header.total_bytes:
            raise InvalidArgument("stream is longer than its header says")
        parts.append(frame.chunk)
    if header is None:
        raise InvalidArgument("empty stream")
    data = b"".join(parts)
    if len(data) != header.total_bytes:
        raise InvalidArgument("stream ended before the announced size")
    if hashlib.sha256(data).digest() != header.sha256:
        raise InvalidArgument("stream digest does not match its header")
    return Body(header.job_id, header.step_id, header.body_type, data)
