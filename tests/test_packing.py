"""Fixed-point encoding and slot packing: exactness, boundaries, overflow never silent."""

from __future__ import annotations

import numpy as np
import pytest

from models.crypto.fixedpoint import decode_fixed, encode_fixed
from models.crypto.packing import SlotPacker, gh_packer_for
from models.crypto.paillier import PaillierKeypair
from models.errors import InvalidArgument, OverflowDetected


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


def test_fixed_point_round_trip_and_bound() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=100.0, size=200), [0.0, -0.0, 1e-9, -3.5, 2.0**40]])
    ints = encode_fixed(x, 24)
    assert all(isinstance(v, int) for v in ints)
    np.testing.assert_allclose(decode_fixed(ints, 24), x, rtol=0, atol=2.0**-25)
    assert encode_fixed(np.array([0.5, -0.5, 1.5]), 0) == [0, 0, 2]  # half to even
    with pytest.raises(OverflowDetected):
        encode_fixed(np.array([1.0, 2.0]), 10, max_abs=1024)
    assert encode_fixed(np.array([1.0, -1.0]), 10, max_abs=1024) == [1024, -1024]
    with pytest.raises(OverflowDetected):
        encode_fixed(np.array([np.nan]), 10)
    with pytest.raises(OverflowDetected):
        encode_fixed(np.array([np.inf]), 10)


def test_fixed_point_big_values_are_exact() -> None:
    x = np.array([2.0**70 + 2.0**18, -(2.0**65)])
    ints = encode_fixed(x, 30)
    assert ints == [2**100 + 2**48, -(2**95)]
    np.testing.assert_array_equal(decode_fixed(ints, 30), x)


def test_fixed_point_through_encryption(keypair: PaillierKeypair) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    enc = keypair.encrypt(encode_fixed(a, 32)) + keypair.encrypt(encode_fixed(b, 32))
    np.testing.assert_allclose(decode_fixed(keypair.decrypt(enc), 32), a + b, atol=2.0**-31)


def test_slot_packer_round_trip_and_boundaries() -> None:
    packer = SlotPacker(slot_bits=40, n_slots=5, key_bits=1024)
    top = packer.value_limit - 1
    cols = np.array([[0, 1, top, 7, top], [top, top, top, top, top], [0, 0, 0, 0, 0]], dtype=object)
    packed = packer.pack(cols)
    np.testing.assert_array_equal(packer.unpack(packed), cols)
    with pytest.raises(OverflowDetected):
        packer.pack(np.array([[0, 0, top + 1, 0, 0]], dtype=object))
    with pytest.raises(OverflowDetected):
        packer.pack(np.array([[0, -1, 0, 0, 0]]))
    with pytest.raises(InvalidArgument):
        packer.pack(np.zeros((2, 4), dtype=np.int64))
    # two full values in a slot set its guard bit: detected, not silently carried
    with pytest.raises(OverflowDetected):
        packer.unpack([packed[1] + packed[1]])
    with pytest.raises(OverflowDetected):
        packer.unpack([1 << packer.total_bits])
    with pytest.raises(OverflowDetected):
        packer.unpack([5], max_slot_value=4)


def test_slot_packer_refuses_oversized_layouts() -> None:
    with pytest.raises(InvalidArgument):
        SlotPacker(slot_bits=100, n_slots=11, key_bits=1024)
    SlotPacker(slot_bits=102, n_slots=10, key_bits=1024)  # 1020 bits: fits with the margin


def test_packed_sums_through_encryption(keypair: PaillierKeypair) -> None:
    packer = SlotPacker(slot_bits=30, n_slots=8, key_bits=1024)
    rng = np.random.default_rng(2)
    cols = rng.integers(0, 2**20, size=(64, 8), dtype=np.int64)
    enc = keypair.encrypt(packer.pack(cols)).sum()
    got = packer.unpack(keypair.decrypt_unsigned(enc))
    np.testing.assert_array_equal(got[0].astype(np.int64), cols.sum(axis=0))


def test_gh_packer_sums_are_exact(keypair: PaillierKeypair) -> None:
    rng = np.random.default_rng(3)
    n, f = 300, 16
    g = np.concatenate([rng.uniform(-1, 1, n - 3), [-1.0, 1.0, 0.0]])
    h = np.concatenate([rng.uniform(0, 1, n - 3), [0.0, 1.0, 1.0]])
    gh = gh_packer_for(n, f, 1024)
    enc = keypair.encrypt(gh.pack(g, h))
    groups = [np.arange(0, 100), np.arange(100, n), np.arange(n)]
    sums = [enc[idx].sum().values[0] for idx in groups]
    from models.crypto.paillier import EncryptedVector

    plain = keypair.decrypt_unsigned(EncryptedVector(keypair.public_key, sums))
    G, H = gh.unpack_sums(plain, [len(idx) for idx in groups])
    gq = np.rint(g * 2**f) / 2**f
    hq = np.rint(h * 2**f) / 2**f
    for i, idx in enumerate(groups):
        assert G[i] == pytest.approx(gq[idx].sum(), abs=1e-9)
        assert H[i] == pytest.approx(hq[idx].sum(), abs=1e-9)
        assert abs(G[i] - g[idx].sum()) <= len(idx) * 2.0 ** -(f + 1)


def test_gh_packer_detects_misuse() -> None:
    gh = gh_packer_for(10, 8, 1024)
    with pytest.raises(OverflowDetected):
        gh.pack(np.array([1.5]), np.array([0.5]))
    with pytest.raises(OverflowDetected):
        gh.pack(np.array([0.5]), np.array([-0.1]))
    packed = gh.pack(np.ones(11), np.ones(11))
    total = sum(packed)
    with pytest.raises(OverflowDetected):  # more rows than the packing has room for
        gh.unpack_sums([total], [11])
    with pytest.raises(OverflowDetected):  # a sum that cannot come from the stated count
        gh.unpack_sums([total], [3])
    G, H = gh.unpack_sums([sum(packed[:10])], [10])
    assert (G[0], H[0]) == (10.0, 10.0)
