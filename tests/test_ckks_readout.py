"""Many exact read-outs per CKKS product at the last level (models/crypto/ckks_readout.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.ckks_coeff import create_context, plain_to_ntt
from models.crypto.ckks_readout import ReadoutEvaluator, ReadoutKey
from models.errors import CryptoError, InvalidArgument


@pytest.fixture(scope="module")
def keys() -> tuple[ReadoutKey, ReadoutEvaluator]:
    ctx = create_context()
    return ReadoutKey(ctx), ReadoutEvaluator(CkksContext.from_bytes(ctx.public_bytes()))


def negacyclic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact product in Z[X]/(X^N + 1) with Python integers."""
    n = a.size
    full = np.convolve(a.astype(np.int64).astype(object), b.astype(np.int64).astype(object))
    out = np.zeros(n, dtype=object)
    out[:] = full[:n]
    out[: full.size - n] -= full[n:]
    return out


def test_reads_many_coefficients_exactly(keys: tuple[ReadoutKey, ReadoutEvaluator]) -> None:
    key, ev = keys
    n = key.degree
    rng = np.random.default_rng(0)
    d = np.zeros(n)
    d[:300] = rng.integers(-(2**40), 2**40, 300)
    w = np.zeros(n)
    w[rng.choice(n, 200, replace=False)] = rng.choice([-1.0, 1.0], 200)
    prod = ev.dot([(ev.load(key.encrypt([d])[0]), ev.encode(w))])
    positions = [0, 17, 300, n // 2, n - 5]
    blob = ev.seal(prod, positions, 10)
    exact = negacyclic(d, w)
    got = [key.centred(r) for r in key.read(blob, positions)]
    for k, g in zip(positions, got, strict=True):
        assert abs(g - int(exact[k])) <= 2**10 + 2**12  # flood + encryption noise
    # every other coefficient is uniform modulo the prime
    others = [key.centred(r) for r in key.read(blob, [1, 2, 299, 301, 5000])]
    assert min(abs(o) for o in others) > 2**40


def test_pivot_systems_for_arithmetic_positions(keys: tuple[ReadoutKey, ReadoutEvaluator]) -> None:
    """Evenly spaced read-outs (the EINI layout) of any count get an exact mask."""
    key, ev = keys
    n = key.degree
    for count, step in ((1, 0), (2, 4096), (6, 1566), (32, 256), (64, 128)):
        positions = [j * step for j in range(count)]
        values = [j - 3 for j in range(count)]
        ntt = ev.mask(positions, values)
        got = [key.centred(c) for c in key.coefficients(ntt, positions)]
        assert got == values
        assert abs(key.centred(key.coefficients(ntt, [n - 1])[0])) > 2**40


def test_a_crafted_ciphertext_reads_nothing_but_its_read_outs(
    keys: tuple[ReadoutKey, ReadoutEvaluator],
) -> None:
    """A bank that encrypts a monomial probe (to move platform values onto other
    coefficients) reads uniform residues there; only the sealed positions carry values."""
    key, ev = keys
    n = key.degree
    probe = np.zeros(n)
    probe[5] = 2.0**30
    w = np.zeros(n)
    w[:100] = 1.0
    blob = ev.seal(ev.dot([(ev.load(key.encrypt([probe])[0]), ev.encode(w))]), [0], 8)
    pt = seal.Plaintext()
    key._decryptor.decrypt(key.load(blob), pt)
    ntt = plain_to_ntt(pt, 1, n)[0]
    moved = [key.centred(c) for c in key.coefficients(ntt, [5, 6, 50, 104])]
    assert min(abs(c) for c in moved) > 2**40  # unmasked they would be 2^30 each


def test_pooled_zeros_and_bad_input(keys: tuple[ReadoutKey, ReadoutEvaluator]) -> None:
    key, ev = keys
    n = key.degree
    assert ev.prepare(2) >= 2 and ev.pooled >= 2
    ev.keep_pooled(3)
    ev.keep_pooled(0)
    with pytest.raises(CryptoError):
        ev.load(b"\x00" * 64)
    top = create_context()  # a top-level ciphertext (two primes) is not a read-out ciphertext
    from models.crypto.ckks_coeff import CoeffKey, forward_poly

    other = CoeffKey(top)
    with pytest.raises(CryptoError):
        ReadoutEvaluator(CkksContext.from_bytes(top.public_bytes())).load(
            other.encrypt([forward_poly(np.ones(3), 10, n)])[0]
        )
    with pytest.raises(CryptoError):  # another key's ciphertexts are refused at the wire
        ReadoutKey(top).blobs(key.wire(key.encrypt([np.zeros(n)])))
    with pytest.raises(InvalidArgument):
        key.encode(np.full(n, 2.0**51))
    with pytest.raises(InvalidArgument):
        key.encode(np.zeros(n - 1))
    with pytest.raises(InvalidArgument):
        ev.mask([3, 3], [0, 0])
    with pytest.raises(InvalidArgument):
        ev.seal(ev.zero(), [0], 60)
    # tampered results: a broken header, a truncated body, a value far out of range
    blob = ev.seal(ev.zero(), [0], 4)
    for bad in (_flip(blob, 100), blob[:-9], _flip(blob, len(blob) - 10)):
        with pytest.raises(CryptoError):
            key.read_values(bad, [0], 20, 2.0**10)


def _flip(blob: bytes, pos: int) -> bytes:
    out = bytearray(blob)
    out[pos] ^= 0x01
    return bytes(out)


def test_sealing_uses_each_pooled_randomizer_once(
    keys: tuple[ReadoutKey, ReadoutEvaluator],
) -> None:
    """A seal takes one pooled randomizer (fresh zero and mask, made ahead) and never reuses
    it: two seals of the same product read the same values within the flood at the read-outs
    and unrelated uniform residues everywhere else; read-outs at any positions stay exact."""
    key, ev = keys
    n = key.degree
    d = np.zeros(n)
    d[:10] = np.arange(1, 11) * 2.0**20
    w = np.zeros(n)
    w[0] = 1.0
    ct = key.encrypt([d])[0]
    ev.keep_pooled(0)  # no filler: the pool changes only by what is taken
    before = ev.prepare(4)
    positions = [0, 3, 9]
    reads = []
    for _ in range(2):
        blob = ev.seal(ev.dot([(ev.load(ct), ev.encode(w))]), positions, 10)
        pt = seal.Plaintext()
        key._decryptor.decrypt(key.load(blob), pt)
        ntt = plain_to_ntt(pt, 1, n)[0]
        reads.append([key.centred(c) for c in key.coefficients(ntt, [*positions, 1, 500])])
    assert ev.pooled == before - 2  # one randomizer per seal, each taken out of the pool
    for got in reads:
        for pos, value in zip(positions, got[:3], strict=True):
            assert abs(value - d[pos]) <= 2**10 + 2**9  # flood 2^10 plus noise
        assert min(abs(v) for v in got[3:]) > 2**40  # masked: uniform mod p
    assert reads[0][3:] != reads[1][3:]  # a fresh mask each time
    assert reads[0][:3] != reads[1][:3]  # fresh floods (equal with probability ~2^-33)
