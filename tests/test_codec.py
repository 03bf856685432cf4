"""The generic protobuf codec: round trips of nested messages, tensors and ciphertext arrays."""

from __future__ import annotations

import numpy as np
import pytest

from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument
from models.federation.session import DescribeResponse, SessionSpec
from proto.transport.codec import ProtobufCodec, array_to_tensor, proto_class, tensor_to_array

codec = ProtobufCodec()


def test_roundtrip_scalars_maps_lists() -> None:
    msg = DescribeResponse(
        dataset="d",
        n_rows=3,
        n_features=2,
        digest="ab",
        categories=["tax", "court"],
        feature_names=["x"],
        meta={"as_of": "2024-01-01"},
    )
    assert codec.decode(codec.encode(msg), DescribeResponse) == msg
    spec = SessionSpec(job_id="j", algorithm="a", params={"k": "v"})
    assert codec.decode(codec.encode(spec), SessionSpec) == spec


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12, dtype=np.float64).reshape(3, 4),
        np.array([True, False]),
        np.array(["91410100MA0000000X", "x"]),
        np.zeros((0, 5), dtype=np.int32),
        np.array(7, dtype=np.int64),
    ],
)
def test_tensor_roundtrip(arr: np.ndarray) -> None:
    t = proto_class("Tensor")()
    array_to_tensor(arr, t)
    back = tensor_to_array(t)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    assert np.array_equal(back, arr)


def test_object_arrays_never_travel() -> None:
    t = proto_class("Tensor")()
    with pytest.raises(InvalidArgument):
        array_to_tensor(np.array([object()], dtype=object), t)
    t.dtype = "|O"
    with pytest.raises(InvalidArgument):
        tensor_to_array(t)


def test_tensor_with_wrong_size_is_refused() -> None:
    t = proto_class("Tensor")()
    array_to_tensor(np.arange(4.0), t)
    t.data = t.data[:-1]
    with pytest.raises(InvalidArgument):
        tensor_to_array(t)


def test_cipher_array_roundtrip_and_checks() -> None:
    arr = CipherArray(
        scheme="paillier",
        key_fingerprint="f" * 64,
        count=2,
        width=4,
        data=b"\x01\x02\x03\x04\x05\x06\x07\x08",
    )
    back = codec.decode(codec.encode(arr), CipherArray)
    assert back == arr and back.split() == [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]
    back.check("paillier", "f" * 64)
    with pytest.raises(CryptoError):
        back.check("paillier", "0" * 64)
    with pytest.raises(CryptoError):
        back.replace(data=b"\x01").check("paillier", "f" * 64)
    with pytest.raises(CryptoError):
        back.check("ckks", "f" * 64)


def test_garbage_bytes_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        codec.decode(b"\xff\xff\xff", SessionSpec)
