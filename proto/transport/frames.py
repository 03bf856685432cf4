"""Chunked streaming of large messages: a body becomes a stream of ``Frame`` messages.

The first frame carries a :class:`FrameHeader` (job id, step id, body type, total size and a
SHA-256 of the body); the concatenation of all chunks is the serialized body. The receiver
checks size and digest before parsing, so a truncated or corrupted stream is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from models.errors import InvalidArgument, ResourceExhausted
from proto.fedcredit.v1 import common_pb2

#: Bytes per frame. gRPC messages stay well under ``MAX_MESSAGE_BYTES``.
CHUNK_BYTES = 1 << 20
#: The explicit per-message limit set on both channels and servers.
MAX_MESSAGE_BYTES = 4 * CHUNK_BYTES
#: Largest reassembled body accepted (ciphertext batches of a few million entries).
MAX_BODY_BYTES = 2_000_000_000
#: Bytes of a received body kept in memory before it is spilled to a temporary file.
SPILL_THRESHOLD_BYTES = 4 * CHUNK_BYTES


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
    """Reassemble a body in memory (for answers from a trusted peer; servers use
    :func:`receive_body`, which bounds memory)."""
    it = iter(frames)
    first = next(it, None)
    header = frame_header(first, max_body)
    assert first is not None
    return receive_body(header, first, it)


def frame_header(
    first: common_pb2.Frame | None, max_body: int = MAX_BODY_BYTES
) -> common_pb2.FrameHeader:
    """The header of a stream's first frame (checked before any body byte is read)."""
    if first is None:
        raise InvalidArgument("empty stream")
    if not first.HasField("header"):
        raise InvalidArgument("stream does not start with a frame header")
    header = first.header
    if header.total_bytes > max_body:
        raise ResourceExhausted("message is larger than the allowed maximum")
    return header


def receive_body(
    header: common_pb2.FrameHeader,
    first: common_pb2.Frame,
    rest: Iterator[common_pb2.Frame],
    *,
    spill_dir: Path | None = None,
    spill_threshold: int = SPILL_THRESHOLD_BYTES,
    on_chunk: Callable[[int], None] | None = None,
) -> Body:
    """The body of a stream whose ``header`` was read from ``first``.

    With ``spill_dir``, a body longer than ``spill_threshold`` is written to an anonymous
    temporary file there (mode 0600, removed when done) while it arrives, so a stream holds at
    most ``spill_threshold`` bytes of memory until its size and digest are checked; only a
    complete, intact body is read back into memory. ``on_chunk(n)`` is called before each
    chunk is accepted (rate limiting).
    """
    digest = hashlib.sha256()
    size = 0
    with contextlib.ExitStack() as stack:
        spool: tempfile.SpooledTemporaryFile[bytes]
        if spill_dir is not None:
            spool = stack.enter_context(
                tempfile.SpooledTemporaryFile(max_size=spill_threshold, dir=str(spill_dir))
            )
            parts: list[bytes] | None = None
        else:
            parts = []
        for frame in itertools.chain([first], rest):
            if frame is not first and frame.HasField("header"):
                raise InvalidArgument("frame header repeated inside a stream")
            chunk = frame.chunk
            size += len(chunk)
            if size > header.total_bytes:
                raise InvalidArgument("stream is longer than its header says")
            if on_chunk is not None:
                on_chunk(len(chunk))
            digest.update(chunk)
            if parts is None:
                spool.write(chunk)
            else:
                parts.append(chunk)
        if size != header.total_bytes:
            raise InvalidArgument("stream ended before the announced size")
        if digest.digest() != header.sha256:
            raise InvalidArgument("stream digest does not match its header")
        if parts is None:
            spool.seek(0)
            data = spool.read()
        else:
            data = b"".join(parts)
    return Body(header.job_id, header.step_id, header.body_type, data)
