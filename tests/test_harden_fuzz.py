"""Property-based fuzzing (issue 14 row 13) with Hypothesis: the frame codec, the decoder of
every wire message, USCC validation and job-file parsing. Each either succeeds or raises a
domain error (``models.errors``: a clear status on the wire, never a traceback), and what is
encoded decodes to the same thing."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import pkgutil
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import models
from models.errors import FedCreditError
from models.federation.messages import WireMessage, registered_messages
from models.uscc import ALPHABET, is_valid_uscc, normalize_uscc, org_check_char, uscc_check_char
from proto.fedcredit.v1 import common_pb2
from proto.transport.codec import ProtobufCodec
from proto.transport.frames import Body, from_frames, to_frames

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
FUZZ_EACH = settings(FUZZ, max_examples=40)  # per message type (about 100 types)
CODEC = ProtobufCodec()


def _all_messages() -> dict[str, type[WireMessage]]:
    for info in pkgutil.walk_packages(models.__path__, "models."):
        importlib.import_module(info.name)
    import proto.transport.codec  # noqa: F401  (generated twins)

    return registered_messages()


MESSAGES = sorted(_all_messages().items())


# -- frames ------------------------------------------------------------------------------------
ids = st.text(alphabet=string.ascii_letters + string.digits + "._:/-", max_size=40)


@FUZZ
@given(job=ids, step=ids, kind=ids, data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_frames_round_trip(job: str, step: str, kind: str, data: bytes, chunk: int) -> None:
    body = Body(job, step, kind, data)
    assert from_frames(to_frames(body, chunk_bytes=chunk)) == body


@st.composite
def frame_streams(draw: st.DrawFn) -> list[common_pb2.Frame]:
    """Valid streams with one mutation, or arbitrary frames."""
    data = draw(st.binary(max_size=300))
    frames = list(to_frames(Body("j", "s", "t", data), chunk_bytes=draw(st.integers(1, 64))))
    how = draw(st.sampled_from(["drop", "dup", "flip", "size", "header", "random", "empty"]))
    if how == "drop" and len(frames) > 1:
        del frames[draw(st.integers(0, len(frames) - 1))]
    elif how == "dup":
        i = draw(st.integers(0, len(frames) - 1))
        frames.insert(i, frames[i])
    elif how == "flip" and data:
        i = draw(st.integers(0, len(frames) - 1))
        c = bytearray(frames[i].chunk)
        if c:
            c[draw(st.integers(0, len(c) - 1))] ^= draw(st.integers(1, 255))
            frames[i] = (
                common_pb2.Frame(header=frames[i].header, chunk=bytes(c))
                if i == 0
                else common_pb2.Frame(chunk=bytes(c))
            )
    elif how == "size":
        h = frames[0].header
        h.total_bytes = draw(st.integers(0, 2**63 - 1))
        frames[0] = common_pb2.Frame(header=h, chunk=frames[0].chunk)
    elif how == "header" and len(frames) > 1:
        frames[1] = common_pb2.Frame(header=frames[0].header, chunk=frames[1].chunk)
    elif how == "random":
        raw = draw(st.lists(st.binary(max_size=80), max_size=5))
        out = []
        for b in raw:
            f = common_pb2.Frame()
            try:
                f.ParseFromString(b)
            except Exception:
                continue
            out.append(f)
        frames = out
    elif how == "empty":
        frames = []
    return frames


@FUZZ
@given(frame_streams())
def test_frames_decoder_never_crashes(frames: list[common_pb2.Frame]) -> None:
    try:
        body = from_frames(iter(frames))
    except FedCreditError:
        return
    # accepted only when the body matches its header's size and digest
    assert len(body.data) == frames[0].header.total_bytes
    assert hashlib.sha256(body.data).digest() == frames[0].header.sha256


# -- every wire message's decoder --------------------------------------------------------------
@pytest.mark.parametrize(("name", "cls"), MESSAGES, ids=[n for n, _ in MESSAGES])
@FUZZ_EACH
@given(data=st.binary(max_size=400))
@example(data=b"\x0a\x05\x0a\x03<f8\x12\x01\x00")  # a tensor-like field with a broken shape
def test_every_message_decoder_refuses_garbage_cleanly(
    name: str, cls: type[WireMessage], data: bytes
) -> None:
    try:
        msg = CODEC.decode(data, cls)
    except FedCreditError:
        return
    # what decodes re-encodes and decodes to an equal message
    again = CODEC.decode(CODEC.encode(msg), cls)
    assert CODEC.encode(again) == CODEC.encode(msg)


@st.composite
def tensors(draw: st.DrawFn) -> bytes:
    """A protobuf Tensor with adversarial dtype, shape and data."""
    t = common_pb2.Tensor()
    t.dtype = draw(
        st.sampled_from(["<f8", "<i8", "|u1", "|b1", "<U3", "|O", "V8", ">i4", "x", "<f8,<i4", ""])
    )
    t.shape[:] = draw(st.lists(st.integers(-3, 2**62), max_size=4))
    t.data = draw(st.binary(max_size=64))
    return t.SerializeToString()


def test_tensor_decoding_is_fuzzed_through_a_message_with_an_array() -> None:
    arrays = [
        (n, c)
        for n, c in MESSAGES
        if any("ndarray" in str(f.type) for f in c.__dataclass_fields__.values())
    ]
    assert arrays, "some message carries an array"


def _array_field(cls: type[WireMessage]) -> tuple[int, str] | None:
    from proto.transport.codec import proto_class

    desc = proto_class(cls.__wire_name__).DESCRIPTOR
    for fd in desc.fields:
        if fd.message_type is not None and fd.message_type.name == "Tensor":
            return fd.number, fd.name
    return None


ARRAY_MESSAGES = [(n, c) for n, c in MESSAGES if _array_field(c) is not None]


@pytest.mark.parametrize(
    ("name", "cls"), ARRAY_MESSAGES[:12], ids=[n for n, _ in ARRAY_MESSAGES[:12]]
)
@FUZZ_EACH
@given(tensor=tensors())
def test_adversarial_tensors_are_refused_cleanly(
    name: str, cls: type[WireMessage], tensor: bytes
) -> None:
    found = _array_field(cls)
    assert found is not None
    number, _ = found
    # field `number`, wire type 2 (length-delimited)
    key = bytes([(number << 3) | 2]) if number < 16 else None
    assume(key is not None)
    assert key is not None
    data = key + _varint(len(tensor)) + tensor
    with contextlib.suppress(FedCreditError):  # anything else fails the test
        CODEC.decode(data, cls)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


# -- USCC ----------------------------------------------------------------------------------------
@st.composite
def valid_usccs(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from("123456789ANY")) + draw(st.sampled_from("123459"))
    region = "".join(draw(st.lists(st.sampled_from(string.digits), min_size=6, max_size=6)))
    org = "".join(draw(st.lists(st.sampled_from(ALPHABET), min_size=8, max_size=8)))
    body = head + region + org + org_check_char(org)
    return body + uscc_check_char(body)


@FUZZ
@given(valid_usccs(), st.data())
def test_uscc_any_single_substitution_is_caught(code: str, data: st.DataObject) -> None:
    assert is_valid_uscc(code) and normalize_uscc(f"  {code.lower()} ") == code
    i = data.draw(st.integers(0, 17))
    c = data.draw(st.sampled_from(ALPHABET).filter(lambda ch: ch != code[i]))
    assert not is_valid_uscc(code[:i] + c + code[i + 1 :])


@FUZZ
@given(st.one_of(st.text(max_size=30), st.binary(max_size=30), st.integers(), st.none()))
def test_uscc_validation_never_crashes(value: Any) -> None:
    ok = is_valid_uscc(value)
    try:
        out = normalize_uscc(value)
    except FedCreditError:
        return
    assert is_valid_uscc(out)
    assert ok or out != value


# -- job files -----------------------------------------------------------------------------------
toml_scalars = st.one_of(
    st.text(max_size=12), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.booleans()
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SECTIONS = ("job", "bank_data", "platform_data", "split", "crypto", "params")
KEYS = (
    "name",
    "algorithm",
    "id",
    "bank_config",
    "source",
    "path",
    "dataset",
    "as_of",
    "categories",
    "valid_fraction",
    "seed",
    "key_bits",
    "scheme",
    "n_estimators",
    "max_depth",
    "id_column",
    "label_column",
    "max_epochs",
    "learning_rate",
)


@st.composite
def job_docs(draw: st.DrawFn) -> dict[str, Any]:
    base: dict[str, Any] = {
        "job": {"name": "fuzz", "algorithm": "secureboost", "id": "fuzz-1"},
        "bank_data": {"source": "table", "path": "bank.csv"},
        "platform_data": {"dataset": "breast"},
        "params": {"n_estimators": 3},
    }
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(SECTIONS))
        if draw(st.booleans()):
            base[section] = draw(toml_values)
        else:
            sec = base.setdefault(section, {})
            if isinstance(sec, dict):
                sec[draw(st.sampled_from(KEYS))] = draw(toml_values)
    return base


@settings(FUZZ, report_multiple_bugs=False)
@given(job_docs())
def test_job_file_parsing_refuses_cleanly(doc: dict[str, Any]) -> None:
    from bank_node.jobs.spec import JobSpec

    with contextlib.suppress(FedCreditError):  # anything else fails the test
        JobSpec.from_dict(doc, base=Path("/nonexistent-fuzz"))
