"""CKKS wrapper: public context, round trips, error bounds, wire format."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tenseal as ts

from models.crypto.ckks import (
    _MAGIC,
    FRESH_NOISE_BOUND,
    KEY_ID_BYTES,
    CkksContext,
    seal_primes,
)
from models.errors import CryptoError, InvalidArgument


@pytest.fixture(scope="module")
def ctx() -> CkksContext:
    return CkksContext.create()


@pytest.fixture(scope="module")
def pub(ctx: CkksContext) -> CkksContext:
    return CkksContext.from_bytes(ctx.public_bytes())


def test_public_context_has_no_secret_key(ctx: CkksContext, pub: CkksContext) -> None:
    assert ctx.has_secret_key
    assert not pub.has_secret_key
    assert pub.fingerprint == ctx.fingerprint
    loaded = ts.context_from(ctx.public_bytes()[len(_MAGIC) + KEY_ID_BYTES :])
    assert not loaded.has_secret_key()
    assert not loaded.has_galois_keys() and not loaded.has_relin_keys()
    with pytest.raises(CryptoError):
        pub.decrypt(pub.encrypt_vector(np.ones(3)))


def test_from_bytes_refuses_secret_key_and_garbage(ctx: CkksContext) -> None:
    header = ctx.public_bytes()[: len(_MAGIC) + KEY_ID_BYTES]
    with_secret = header + ctx._ctx.serialize(save_secret_key=True)
    with pytest.raises(CryptoError):
        CkksContext.from_bytes(with_secret)
    with pytest.raises(CryptoError):
        CkksContext.from_bytes(ctx._ctx.serialize(save_secret_key=False))  # no header
    with pytest.raises(CryptoError):
        CkksContext.from_bytes(b"not a context")


def test_weak_parameters_refused() -> None:
    with pytest.raises(CryptoError):
        CkksContext.create(poly_modulus_degree=4096, coeff_mod_bit_sizes=(40, 20, 40))
    with pytest.raises(CryptoError):
        CkksContext.create(coeff_mod_bit_sizes=(60, 40, 40, 40, 60))  # 240 > 218 bits
    weak = ts.context(ts.SCHEME_TYPE.CKKS, 4096, coeff_mod_bit_sizes=[40, 20, 40])
    weak.global_scale = 2.0**20
    with pytest.raises(CryptoError):
        CkksContext.from_bytes(_MAGIC + bytes(KEY_ID_BYTES) + weak.serialize(save_secret_key=False))


def test_seal_prime_selection_matches_tenseal(ctx: CkksContext) -> None:
    primes = seal_primes(8192, (60, 40, 40, 60))
    assert ctx.params.primes == tuple(primes)
    assert all(p % (2 * 8192) == 1 for p in primes)


@pytest.mark.parametrize("n", [0, 1, 4095, 4096, 4097, 9000])
def test_encrypt_decrypt_round_trip(ctx: CkksContext, n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.uniform(-1000, 1000, n)
    x[: min(n, 3)] = [0.0, -0.0, 1e-9][: min(n, 3)]
    enc = ctx.encrypt_vector(x)
    assert len(enc.chunks) == math.ceil(n / ctx.slot_count)
    out = ctx.decrypt(enc)
    assert out.shape == (n,)
    if n:
        assert np.abs(out - x).max() <= FRESH_NOISE_BOUND


def test_vector_arithmetic(ctx: CkksContext) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=5000), rng.normal(size=5000)
    enc_a, enc_b = ctx.encrypt_vector(a), ctx.encrypt_vector(b)
    assert np.abs(ctx.decrypt(enc_a + enc_b) - (a + b)).max() <= 2 * FRESH_NOISE_BOUND
    assert np.abs(ctx.decrypt(enc_a - enc_b) - (a - b)).max() <= 2 * FRESH_NOISE_BOUND
    assert np.abs(ctx.decrypt(enc_a.add_plain(b)) - (a + b)).max() <= 2 * FRESH_NOISE_BOUND
    with pytest.raises(InvalidArgument):
        _ = enc_a + ctx.encrypt_vector(a[:10])


def test_wire_refuses_wrong_key_and_corruption(ctx: CkksContext) -> None:
    other = CkksContext.create()
    enc = ctx.encrypt_vector(np.arange(10.0))
    wire = ctx.vector_to_wire(enc)
    assert wire.scheme == "ckks" and wire.width == 0 and wire.count == 1
    assert sum(wire.lengths) == len(wire.data)
    with pytest.raises(CryptoError):
        other.vector_from_wire(wire, 10)
    with pytest.raises(CryptoError):
        ctx.vector_from_wire(wire, 5000)  # needs two chunks
    with pytest.raises(CryptoError):
        ctx.vector_from_wire(wire.replace(data=wire.data[:-100]), 10)
    # A ciphertext relabelled with another key's fingerprint decrypts out of range.
    forged = other.vector_to_wire(other.encrypt_vector(np.arange(10.0)))
    relabelled = forged.replace(key_fingerprint=ctx.fingerprint)
    with pytest.raises(CryptoError):
        ctx.decrypt(ctx.vector_from_wire(relabelled, 10))
    # Flipped bytes are refused at parse time or at decryption.
    rng = np.random.default_rng(11)
    for pos in rng.integers(0, len(wire.data), 8):
        data = bytearray(wire.data)
        data[int(pos)] ^= 0x5A
        with pytest.raises(CryptoError):
            ctx.decrypt(ctx.vector_from_wire(wire.replace(data=bytes(data)), 10))


def test_out_of_range_values_refused(ctx: CkksContext) -> None:
    with pytest.raises(InvalidArgument):
        ctx.encrypt_vector(np.array([np.nan]))
    with pytest.raises(InvalidArgument):
        ctx.encrypt_vector(np.array([2.0**40]))


def test_symmetric_context() -> None:
    sym = CkksContext.create(symmetric=True)
    pub = CkksContext.from_bytes(sym.public_bytes())
    assert len(sym.public_bytes()) < 1000  # parameters and key id only
    assert sym.can_encrypt and not pub.can_encrypt and not pub.has_secret_key
    other = CkksContext.create(symmetric=True)
    assert other.fingerprint != sym.fingerprint  # the random key id tells keys apart
    with pytest.raises(CryptoError):
        pub.encrypt_vector(np.ones(3))
    d = np.random.default_rng(5).uniform(-1, 1, 5000)
    back = sym.vector_from_wire(sym.vector_to_wire(sym.encrypt_vector(d)), 5000)
    assert np.abs(sym.decrypt(back) - d).max() <= FRESH_NOISE_BOUND
    with pytest.raises(CryptoError):
        other.vector_from_wire(sym.vector_to_wire(sym.encrypt_vector(d)), 5000)
