"""Vectorised Paillier: round trips, homomorphic operations, wire format, phe interop."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from phe import paillier as phe_paillier

from models.crypto.fixedpoint import decode_fixed, encode_fixed
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument, OverflowDetected

KEY_BITS = 1024


@pytest.fixture(scope="module")
def phe_keys() -> tuple[phe_paillier.PaillierPublicKey, phe_paillier.PaillierPrivateKey]:
    return phe_paillier.generate_paillier_keypair(n_length=KEY_BITS)


@pytest.fixture(scope="module")
def keypair(phe_keys: tuple) -> PaillierKeypair:
    return PaillierKeypair.from_phe(phe_keys[1])


@pytest.fixture(scope="module")
def other_keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(KEY_BITS)


def _random_ints(rng: random.Random, k: int, max_int: int) -> list[int]:
    out = []
    for _ in range(k):
        bits = rng.choice([1, 8, 32, 64, 200, max_int.bit_length() - 1])
        v = rng.getrandbits(bits)
        out.append(-v if rng.random() < 0.5 else v)
    return out


def test_generate_refuses_short_keys() -> None:
    with pytest.raises(CryptoError):
        PaillierKeypair.generate(512)


def test_round_trip_with_extremes(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    rng = random.Random(1)
    ms = [0, 1, -1, pk.max_int, -pk.max_int, *_random_ints(rng, 60, pk.max_int)]
    assert keypair.decrypt(keypair.encrypt(ms)) == ms
    assert keypair.decrypt(pk.encrypt(ms)) == ms
    assert keypair.decrypt(keypair.encrypt(np.array(ms[:3], dtype=np.int64))) == ms[:3]


def test_encryption_is_randomised(keypair: PaillierKeypair) -> None:
    enc = keypair.encrypt([5, 5])
    assert enc.values[0] != enc.values[1]
    pub = keypair.public_key.encrypt([5, 5])
    assert pub.values[0] != pub.values[1]


def test_plaintext_range_is_enforced(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    with pytest.raises(OverflowDetected):
        keypair.encrypt([-pk.max_int - 1])
    with pytest.raises(OverflowDetected):
        keypair.encrypt([int(pk.n)])
    # an unsigned value in the middle third encrypts but signed decryption flags it
    enc = keypair.encrypt([int(pk.n) // 2])
    assert keypair.decrypt_unsigned(enc) == [int(pk.n) // 2]
    with pytest.raises(OverflowDetected):
        keypair.decrypt(enc)


def test_homomorphic_ops_match_plaintext(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    rng = random.Random(2)
    a = _random_ints(rng, 40, 2**120)
    b = _random_ints(rng, 40, 2**120)
    k = [rng.randrange(-(2**60), 2**60) for _ in range(40)]
    ea, eb = keypair.encrypt(a), pk.encrypt(b)
    assert keypair.decrypt(ea + eb) == [x + y for x, y in zip(a, b, strict=True)]
    assert keypair.decrypt(ea.add(eb)) == [x + y for x, y in zip(a, b, strict=True)]
    assert keypair.decrypt(ea - eb) == [x - y for x, y in zip(a, b, strict=True)]
    assert keypair.decrypt(ea.neg()) == [-x for x in a]
    assert keypair.decrypt(ea.add_plain(b)) == [x + y for x, y in zip(a, b, strict=True)]
    assert keypair.decrypt(ea.add_plain(7)) == [x + 7 for x in a]
    assert keypair.decrypt(ea.mul_scalar(k)) == [x * y for x, y in zip(a, k, strict=True)]
    assert keypair.decrypt(ea.mul_scalar(-3)) == [-3 * x for x in a]
    assert keypair.decrypt(ea.mul_scalar(0)) == [0] * 40
    assert keypair.decrypt(ea.sum()) == [sum(a)]
    assert keypair.decrypt(ea.dot(k)) == [sum(x * y for x, y in zip(a, k, strict=True))]
    assert keypair.decrypt(ea.dot(np.array(k, dtype=np.int64))) == keypair.decrypt(ea.dot(k))
    assert keypair.decrypt(pk.zeros(3)) == [0, 0, 0]
    assert keypair.decrypt(EncryptedVector.concat([ea[:3], eb[5], ea[np.array([7, 1])]])) == [
        *a[:3],
        b[5],
        a[7],
        a[1],
    ]


def test_dot_large_vector_with_signed_scalars(keypair: PaillierKeypair) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=700)
    w = rng.normal(size=700)
    xs = encode_fixed(x, 20)
    ws = encode_fixed(w, 20)
    enc = keypair.encrypt(xs)
    got = decode_fixed(keypair.decrypt(enc.dot(ws)), 40)[0]
    assert got == pytest.approx(float(np.dot(x, w)), abs=1e-3)
    assert keypair.decrypt(enc.dot(ws)) == [sum(a * b for a, b in zip(xs, ws, strict=True))]


def test_rerandomize_changes_ciphertexts_not_plaintexts(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    enc = pk.zeros(3).add_plain([1, -2, 3])
    fresh = pk.rerandomize(enc)
    assert all(a != b for a, b in zip(enc.values, fresh.values, strict=True))
    assert all(c != 1 for c in pk.rerandomize(pk.zeros(4)).values)
    assert keypair.decrypt(fresh) == [1, -2, 3]


def test_precompute_pool_is_consumed(keypair: PaillierKeypair) -> None:
    keypair.precompute(10)
    ms = list(range(-6, 6))
    assert keypair.decrypt(keypair.encrypt(ms)) == ms


def test_public_key_serialisation(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    data = pk.to_bytes()
    again = PaillierPublicKey.from_bytes(data)
    assert again.fingerprint == pk.fingerprint
    assert again.n == pk.n and again.to_bytes() == data
    # ciphertexts from the deserialised key decrypt under the original keys
    assert keypair.decrypt(again.encrypt([42, -42])) == [42, -42]


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"scheme":"ckks"}',
        b'{"hs":"3","n":"zz","scheme":"paillier"}',
    ],
)
def test_public_key_from_bytes_refuses_garbage(data: bytes) -> None:
    with pytest.raises(CryptoError):
        PaillierPublicKey.from_bytes(data)


def test_public_key_from_bytes_refuses_weak_moduli(keypair: PaillierKeypair) -> None:
    def raw(n: int, hs: int) -> bytes:
        return json.dumps(
            {"hs": format(hs, "x"), "n": format(n, "x"), "scheme": "paillier"},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    small = phe_paillier.generate_paillier_keypair(n_length=512)[0].n
    with pytest.raises(CryptoError):
        PaillierPublicKey.from_bytes(raw(small, 3))
    n = int(keypair.public_key.n)
    with pytest.raises(CryptoError):
        PaillierPublicKey.from_bytes(raw(n * 2, 3))  # even
    with pytest.raises(CryptoError):
        PaillierPublicKey.from_bytes(raw(n, n * n + 5))  # base out of range
    with pytest.raises(CryptoError):
        PaillierPublicKey.from_bytes(raw(n, n))  # base not coprime to n


def test_wire_round_trip(keypair: PaillierKeypair) -> None:
    pk = keypair.public_key
    enc = keypair.encrypt([3, -1, 0, pk.max_int])
    arr = enc.to_wire()
    assert (
        arr.scheme == "paillier" and arr.count == 4 and arr.width == (pk.n2.bit_length() + 7) // 8
    )
    back = EncryptedVector.from_wire(arr, pk)
    assert back.values == enc.values
    assert keypair.decrypt(back) == [3, -1, 0, pk.max_int]
    assert EncryptedVector.from_wire(pk.zeros(0).to_wire(), pk).values == []
    chunks = enc.to_wire_chunks(max_bytes=2 * arr.width)
    assert [c.count for c in chunks] == [2, 2]
    assert EncryptedVector.from_wire_chunks(chunks, pk).values == enc.values
    assert len(pk.zeros(0).to_wire_chunks()) == 1


def test_wire_refuses_wrong_key_and_tampering(
    keypair: PaillierKeypair, other_keypair: PaillierKeypair
) -> None:
    pk = keypair.public_key
    arr = keypair.encrypt([1, 2]).to_wire()
    with pytest.raises(CryptoError):
        EncryptedVector.from_wire(arr, other_keypair.public_key)
    with pytest.raises(CryptoError):
        other_keypair.decrypt(keypair.encrypt([1]))
    with pytest.raises(CryptoError):
        keypair.encrypt([1]) + other_keypair.encrypt([1])
    w = arr.width
    too_big = (int(pk.n2) + 1).to_bytes(w, "big")
    for bad in (
        arr.replace(data=arr.data[:-1]),  # wrong length
        arr.replace(data=too_big + arr.data[w:]),  # c >= n^2
        arr.replace(data=bytes(w) + arr.data[w:]),  # c = 0
        arr.replace(count=3),
        arr.replace(scheme="ckks"),
        CipherArray("paillier", pk.fingerprint, 1, w - 1, arr.data[: w - 1]),  # wrong width
    ):
        with pytest.raises(CryptoError):
            EncryptedVector.from_wire(bad, pk)


def test_length_mismatch_is_refused(keypair: PaillierKeypair) -> None:
    enc = keypair.encrypt([1, 2, 3])
    with pytest.raises(InvalidArgument):
        enc + enc[:2]
    with pytest.raises(InvalidArgument):
        enc.mul_scalar([1, 2])


def test_phe_interop(phe_keys: tuple, keypair: PaillierKeypair) -> None:
    phe_pub, phe_priv = phe_keys
    pk = keypair.public_key
    rng = random.Random(4)
    ms = [0, 1, -1, *_random_ints(rng, 20, 2**200)]
    # phe encrypts, we decrypt
    enc = EncryptedVector(pk, [phe_pub.encrypt(m).ciphertext() for m in ms])
    from gmpy2 import mpz

    enc = EncryptedVector(pk, [mpz(c) for c in enc.values])
    assert keypair.decrypt(enc) == ms
    # we encrypt (both paths), phe decrypts
    for ours in (keypair.encrypt(ms), pk.encrypt(ms)):
        theirs = [phe_paillier.EncryptedNumber(phe_pub, int(c)) for c in ours.values]
        assert [phe_priv.decrypt(c) for c in theirs] == ms
    # homomorphic results agree too
    k = [rng.randrange(-1000, 1000) for _ in ms]
    ours = keypair.encrypt(ms).mul_scalar(k).sum()
    theirs = [phe_paillier.EncryptedNumber(phe_pub, int(c)) for c in ours.values]
    assert phe_priv.decrypt(theirs[0]) == sum(a * b for a, b in zip(ms, k, strict=True))


def test_djn_exponent_options(phe_keys: tuple) -> None:
    provable = PaillierKeypair.from_phe(phe_keys[1], exponent_bits=KEY_BITS // 2)
    ms = list(range(-70, 70))  # > table threshold: fixed-base tables; then a small batch
    assert provable.decrypt(provable.encrypt(ms)) == ms
    assert provable.decrypt(provable.encrypt(ms[:3])) == ms[:3]
    with pytest.raises(CryptoError):
        PaillierKeypair.from_phe(phe_keys[1], exponent_bits=128)


def test_small_and_large_batches_agree_in_distribution_of_plaintexts(
    keypair: PaillierKeypair,
) -> None:
    # small batches use powmod_exp_list, large ones the tables: both must decrypt identically
    fresh = PaillierKeypair(keypair.public_key, int(keypair._p), int(keypair._q))
    assert fresh.decrypt(fresh.encrypt([9, -9])) == [9, -9]
    big = list(range(200))
    assert fresh.decrypt(fresh.encrypt(big)) == big
    pub = PaillierPublicKey.from_bytes(keypair.public_key.to_bytes())
    assert keypair.decrypt(pub.encrypt([4])) == [4]
    assert keypair.decrypt(pub.encrypt(big)) == big


def test_precompute_adds_fresh_values_to_the_pools() -> None:
    kp = PaillierKeypair.generate(1024)
    kp.precompute(5)
    kp.precompute(5)
    assert kp.pool_size == 10  # a second call adds, it does not recycle the pool
    pooled = list(kp._pool)
    assert len({int(v) for v in pooled}) == 10
    enc = kp.encrypt([1, 2, 3])
    assert kp.pool_size == 7 and kp.decrypt(enc) == [1, 2, 3]
    pk = kp.public_key
    pk.precompute(3)
    pk.precompute(3)
    assert len(pk._pool) == 6
    again = pk.rerandomize(enc)
    assert len(pk._pool) == 3 and kp.decrypt(again) == [1, 2, 3]
