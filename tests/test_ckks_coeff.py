"""Exact coefficient inner products on CKKS (models/crypto/ckks_coeff.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.ckks_coeff import (
    CoeffEvaluator,
    CoeffKey,
    create_context,
    forward_poly,
    pair_poly,
    plain_to_ntt,
    uniform_residues,
)
from models.errors import CryptoError, InvalidArgument


@pytest.fixture(scope="module")
def keys() -> tuple[CoeffKey, CoeffEvaluator]:
    ctx = create_context()
    return CoeffKey(ctx), CoeffEvaluator(CkksContext.from_bytes(ctx.public_bytes()))


def test_encoding_is_exact(keys: tuple[CoeffKey, CoeffEvaluator]) -> None:
    key, _ = keys
    n = key.degree
    rng = np.random.default_rng(0)
    coeffs = rng.integers(-(2**45), 2**45, size=n).astype(np.float64)
    ntt = plain_to_ntt(key.encode(coeffs), len(key.layout.primes), n)
    for pos in (0, n // 2, 1, 17):
        assert key.layout.centred(key.layout.read(ntt, pos)) == int(coeffs[pos])


def test_two_inner_products_per_product(keys: tuple[CoeffKey, CoeffEvaluator]) -> None:
    key, ev = keys
    n, half = key.degree, key.degree // 2
    rng = np.random.default_rng(1)
    d, e = rng.uniform(-1, 1, half), rng.uniform(-1, 1, 1000)
    a, b = rng.uniform(-8, 8, half), rng.uniform(-8, 8, half - 3)
    blobs = key.encrypt([forward_poly(d, 36, n), forward_poly(d, 36, n, second=e)])
    pair = ev.dot([(ev.load(blobs[0]), ev.encode(pair_poly(a, b, 30, n)))])
    cross = ev.dot([(ev.load(blobs[1]), ev.encode(pair_poly(a, None, 30, n)))])
    out, _ = ev.seal(pair, reveal=(0, half))
    got = key.read_values(out, (0, half), 66, 2.0**40)
    assert got == pytest.approx([d @ a, d[: b.size] @ b], abs=1e-6)
    masked, kept = ev.seal(cross, keep=(0, half))
    raw = key.read(masked, (0, half))
    vals = [ev.unmask(r, kept[p]) / 2.0**66 for r, p in zip(raw, (0, half), strict=True)]
    assert vals == pytest.approx([d @ a, e @ a[: e.size]], abs=1e-6)
    # what the bank decrypts at a kept read-out is uniform, not the value
    assert all(abs(key.layout.centred(r)) > 2.0**80 for r in raw)


def test_other_coefficients_are_uniform_even_for_a_noiseless_ciphertext(
    keys: tuple[CoeffKey, CoeffEvaluator],
) -> None:
    """A bank that sends a crafted ciphertext (here: the platform's own encryption of a
    monomial, no noise to speak of) reads nothing but uniform residues off the read-out."""
    key, ev = keys
    n = key.degree
    probe = np.zeros(n)
    probe[5] = 2.0**36  # D = 2^36 X^5: D * W puts w_r at coefficient 5 - r
    w = np.arange(1, 101, dtype=np.float64)
    ct = ev.load(key.encrypt([probe])[0])
    out, _ = ev.seal(ev.dot([(ct, ev.encode(pair_poly(w, None, 30, n)))]), reveal=(0,))
    pt = seal.Plaintext()
    key._decryptor.decrypt(key.load(out), pt)
    ntt = plain_to_ntt(pt, len(key.layout.primes), n)
    coeffs = [key.layout.centred(key.layout.read(ntt, p)) for p in (1, 2, 3, 4, 5)]
    # unmasked, coefficient 5 - r would be ~2^66 * w_r; masked they are ~uniform mod q ~2^120
    assert min(abs(c) for c in coeffs) > 2.0**90
    # the revealed read-out is the inner product of the probe with w: w at index 5
    assert key.read_values(out, (0,), 66, 2.0**40)[0] == pytest.approx(w[5], abs=1e-6)


def test_uniform_residues_below_the_primes(keys: tuple[CoeffKey, CoeffEvaluator]) -> None:
    key, _ = keys
    res = uniform_residues(key.layout.primes, key.degree)
    for row, p in zip(res, key.layout.primes, strict=True):
        assert int(row.max()) < p
        # roughly uniform: the mean of uniform [0, p) is p / 2 (8192 draws: sd ~ p / 313)
        assert abs(float(row.astype(np.float64).mean()) / p - 0.5) < 0.02


def test_bad_input(keys: tuple[CoeffKey, CoeffEvaluator]) -> None:
    key, ev = keys
    n = key.degree
    with pytest.raises(InvalidArgument):
        forward_poly(np.zeros(n // 2 + 1), 36, n)
    with pytest.raises(InvalidArgument):
        forward_poly(np.array([np.nan]), 36, n)
    with pytest.raises(InvalidArgument):
        forward_poly(np.array([2.0**20]), 36, n)
    with pytest.raises(CryptoError):
        ev.load(b"\x00" * 64)
    blob = key.encrypt([forward_poly(np.ones(4), 36, n)])[0]
    other = CoeffKey(create_context())
    with pytest.raises(CryptoError):  # another key's ciphertexts are refused at the wire
        other.blobs(key.wire([blob]))
    ct = ev.load(blob)
    with pytest.raises(InvalidArgument):
        ev.seal(ct, reveal=(0,), keep=(0,))
    with pytest.raises(InvalidArgument):
        ev.unmask(-1, 0)
