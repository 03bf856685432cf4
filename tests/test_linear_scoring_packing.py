"""Packed linear scoring partials (several companies per Paillier plaintext) and the platform's
cache of bank keys: round trips, bounds that make a slot overflow impossible, refusals of a
packing the key cannot hold, and one table build for concurrent first requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import models.logreg.scoring as lr_scoring
from bank_node.scoring.keys import ScoringKeys
from models.crypto.paillier import PaillierPublicKey
from models.errors import CryptoError, InvalidArgument, OverflowDetected
from models.logreg.packing import (
    MAX_PACK_SLOTS,
    PACK_MAX_ABS,
    PACK_SLOT_BITS,
    group_sizes,
    max_slots,
    pack,
    unpack,
)
from models.logreg.scoring import PublicKeys, check_pack_slots, encrypt_values


@pytest.fixture(scope="module")
def keys() -> ScoringKeys:
    return ScoringKeys(1024)


def test_pack_round_trip_with_extremes() -> None:
    rng = np.random.default_rng(3)
    values = [int(v) for v in rng.integers(-(2**62), 2**62, size=11)]
    values += [PACK_MAX_ABS, -PACK_MAX_ABS, 0, -1, 1]
    plains = pack(values, 3)
    assert len(plains) == 6 and group_sizes(len(values), 3) == [3, 3, 3, 3, 3, 1]
    assert all(0 <= m < 2 ** (3 * PACK_SLOT_BITS) for m in plains)
    back = [
        v for m, k in zip(plains, group_sizes(len(values), 3), strict=True) for v in unpack(m, k)
    ]
    assert back == values


def test_slot_overflow_is_impossible() -> None:
    with pytest.raises(OverflowDetected, match="too large to pack"):
        pack([1, PACK_MAX_ABS + 1], 4)
    with pytest.raises(OverflowDetected, match="too large to pack"):
        pack([-PACK_MAX_ABS - 1], 4)
    with pytest.raises(OverflowDetected):
        pack([1], 0)
    (m,) = pack([5, -7], 2)
    with pytest.raises(CryptoError, match="out of range"):
        unpack(m, 1)  # bits above the last slot
    with pytest.raises(CryptoError, match="out of range"):
        unpack(1, 1)  # a slot far outside the bound (no offset)
    with pytest.raises(CryptoError):
        unpack(-1, 1)
    assert max_slots(1024) == 7 and max_slots(512) == 3 and max_slots(100) == 0
    assert max_slots(1 << 20) == MAX_PACK_SLOTS


def test_platform_refuses_a_packing_the_key_cannot_hold(keys: ScoringKeys) -> None:
    key = keys.public_key  # 1024-bit n: at most 7 slots below n / 2
    assert check_pack_slots(key, 0) == 0 and check_pack_slots(key, 7) == 7
    for bad in (8, -1, MAX_PACK_SLOTS + 1):
        with pytest.raises(InvalidArgument, match="more values than a plaintext holds"):
            check_pack_slots(key, bad)
    with pytest.raises(OverflowDetected):
        encrypt_values(key, [0.5, 2.0**100], 2)  # 2^132 in fixed point: beyond its slot


def test_bank_decrypts_packed_values_once_per_group(keys: ScoringKeys) -> None:
    slots = keys.pack_slots()
    assert slots == 3  # 512-bit p of a 1024-bit key
    values = [0.125, -3.5, 1e6, 0.0, -(2.0**-30), 17.25, -1e-3]
    enc = encrypt_values(keys.public_key, values, slots)
    sizes = group_sizes(len(values), slots)
    assert enc.count == len(sizes) == 3
    out = np.concatenate(
        [
            keys.decrypt_packed(c, k)
            for c, k in zip(keys.ciphertexts(enc, enc.count), sizes, strict=True)
        ]
    )
    unpacked = keys.decrypt_values(encrypt_values(keys.public_key, values), len(values))
    assert np.max(np.abs(out - unpacked)) <= 1e-9
    assert np.max(np.abs(out - np.asarray(values))) <= 2.0**-32
    with pytest.raises(CryptoError, match="more values"):
        keys.decrypt_packed(keys.ciphertexts(enc, enc.count)[0], slots + 1)
    # a packed ciphertext under another key reads as noise: refused, never a wrong score
    other = ScoringKeys(1024)
    foreign = other.ciphertexts(encrypt_values(other.public_key, values[:3], slots), 1)[0]
    with pytest.raises(CryptoError, match="out of range"):
        keys.decrypt_packed(foreign % keys.public_key.n2, 3)


def test_concurrent_first_requests_build_the_key_table_once(
    keys: ScoringKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[int] = []
    real = PaillierPublicKey.from_bytes

    def slow_parse(data: bytes) -> Any:
        parsed.append(1)
        time.sleep(0.05)  # widen the window in which other first requests arrive
        return real(data)

    monkeypatch.setattr(lr_scoring.PaillierPublicKey, "from_bytes", staticmethod(slow_parse))
    cache = PublicKeys()
    data = keys.public_bytes()
    barrier = threading.Barrier(8)
    got: list[PaillierPublicKey] = []

    def first() -> None:
        barrier.wait()
        got.append(cache.get(data))

    threads = [threading.Thread(target=first) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 8 and all(k is got[0] for k in got)
    assert cache.builds == 1 and len(parsed) == 1
    # a key that fails to parse is not cached: it fails again, and good keys still work
    for _ in range(2):
        with pytest.raises(CryptoError):
            cache.get(b"\x01")
    assert len(parsed) == 3 and cache.get(data) is got[0] and cache.builds == 1
