"""Coefficient-encoded CKKS inner products: accuracy, hiding, rerandomisation, validation."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as seal

from models.crypto.ckks import CkksContext
from models.crypto.ckks_inner import (
    DEFAULT_FLOOD_SIGMA,
    FEATURE_SCALE_BITS,
    INNER_COEFF_MOD_BIT_SIZES,
    RESIDUAL_SCALE_BITS,
    InnerProductEvaluator,
    InnerProductKey,
    column_pair_poly,
    embed,
    flood_error_bound,
    residual_poly,
    scratch_dir,
)
from models.errors import CryptoError, InvalidArgument
from models.logreg.ckks_parallel import masked_xt_d


@pytest.fixture(scope="module")
def parties() -> tuple[InnerProductKey, InnerProductEvaluator]:
    ctx = CkksContext.create(coeff_mod_bit_sizes=INNER_COEFF_MOD_BIT_SIZES)
    public = CkksContext.from_bytes(ctx.public_bytes())
    assert public.can_encrypt and not public.has_secret_key
    return InnerProductKey(ctx), InnerProductEvaluator(public)


def _bound(d: np.ndarray, sigma: float = DEFAULT_FLOOD_SIGMA) -> float:
    """Per-entry error: flood decoding + feature rounding (2^-31 |d|_1) + encryption noise."""
    return flood_error_bound(sigma) + 2.0**-31 * float(np.abs(d).sum()) + 2.0**-24


@pytest.mark.parametrize(
    ("n", "f", "x_scale"), [(10, 3, 1.0), (4096, 1, 5.0), (4097, 2, 0.01), (9000, 5, 100.0)]
)
def test_inner_products_within_bound(
    parties: tuple[InnerProductKey, InnerProductEvaluator], n: int, f: int, x_scale: float
) -> None:
    key, ev = parties
    rng = np.random.default_rng(n + f)
    X, d = rng.normal(size=(n, f)) * x_scale, rng.uniform(-1, 1, n)
    enc_d = key.encrypt_residual(d)
    assert enc_d.count == -(-n // 4096)
    blobs, totals = ev.masked_xt_d(X, enc_d.split())
    assert len(blobs) == -(-f // 2) and totals.shape == (f,)
    masked = key.decrypt_pairs(key.wire(blobs), f)
    assert np.abs(masked - X.T @ d).min() > 1e3  # the floods dominate what the bank sees
    assert np.all(np.abs(masked - totals - X.T @ d) <= _bound(d))


def test_encodings_put_inner_products_at_the_read_out_coefficients() -> None:
    rng = np.random.default_rng(3)
    degree, half = 64, 32
    d, a, b = rng.uniform(-1, 1, half), rng.normal(size=half), rng.normal(size=half)
    D, W = residual_poly(d, degree), column_pair_poly(a, b, degree)
    # negacyclic product, computed directly
    full = np.convolve(D, W)
    prod = full[:degree].copy()
    prod[: full.size - degree] -= full[degree:]
    unit = 2.0 ** (RESIDUAL_SCALE_BITS + FEATURE_SCALE_BITS)
    assert abs(prod[0] / unit - a @ d) < 1e-6 and abs(prod[half] / unit - b @ d) < 1e-6
    # embedding is a ring homomorphism (slot-wise products) and reads back both coefficients
    slots = embed(D) * embed(W)
    assert np.allclose(slots, embed(prod), rtol=1e-9, atol=1e-3 * np.abs(slots).max() * 1e-9)
    assert abs(2.0 / degree * slots.real.sum() / unit - a @ d) < 1e-6
    assert abs(2.0 / degree * slots.imag.sum() / unit - b @ d) < 1e-6


def _recover_features(key: InnerProductKey, blob: bytes, d: np.ndarray) -> np.ndarray:
    """What a curious bank would try: divide the decrypted product by its own D(X)."""
    degree = key.degree
    ct = key.load(blob)
    pt = seal.Plaintext()
    seal.Decryptor(key.seal_context, key.ctx.native.secret_key().data).decrypt(ct, pt)
    slots = np.asarray(key.encoder.decode_complex(pt))
    w_slots = slots / embed(residual_poly(d, degree))
    # inverse embedding: fill the conjugate roots, undo the twisted FFT
    full = np.zeros(degree, dtype=complex)
    index = (np.array([pow(5, k, 2 * degree) for k in range(degree // 2)]) - 1) // 2
    full[index], full[degree - 1 - index] = w_slots, np.conj(w_slots)
    coeffs = (np.fft.fft(full) / degree / np.exp(1j * np.pi * np.arange(degree) / degree)).real
    r = np.arange(1, d.size)
    return np.concatenate([[coeffs[0]], -coeffs[degree - r]]) / 2.0**FEATURE_SCALE_BITS


def test_floods_hide_the_platform_features(
    parties: tuple[InnerProductKey, InnerProductEvaluator],
) -> None:
    key, ev = parties
    rng = np.random.default_rng(4)
    n = 4000
    X, d = rng.normal(size=(n, 2)), rng.uniform(-1, 1, n)
    blobs_d = key.encrypt_residual(d).split()
    # Without a flood, the key holder reads the features out of the product ...
    weak, _ = ev.masked_xt_d(X, blobs_d, sigma=2.0**-30)
    assert np.corrcoef(_recover_features(key, weak[0], d), X[:, 0])[0, 1] > 0.99
    # ... with the default flood it gets noise.
    blobs, _ = ev.masked_xt_d(X, blobs_d)
    assert abs(np.corrcoef(_recover_features(key, blobs[0], d), X[:, 0])[0, 1]) < 0.1


def test_results_are_rerandomised(parties: tuple[InnerProductKey, InnerProductEvaluator]) -> None:
    """Result minus the plain product is not transparent: its second component is fresh."""
    key, ev = parties
    rng = np.random.default_rng(5)
    X, d = rng.normal(size=(100, 2)), rng.uniform(-1, 1, 100)
    blob_d = key.encrypt_residual(d).split()[0]
    out, _ = ev.masked_xt_d(X, [blob_d])
    plain = key.encode(column_pair_poly(X[:, 0], X[:, 1], key.degree))
    raw = seal.Ciphertext()
    seal.Evaluator(key.seal_context).multiply_plain(key.load(blob_d), plain, raw)
    diff = seal.Ciphertext()
    seal.Evaluator(key.seal_context).sub(key.load(out[0]), raw, diff)
    assert not diff.is_transparent()
    again, _ = ev.masked_xt_d(X, [blob_d])
    assert again[0] != out[0]


def test_prepared_floods_are_used_and_helper_matches(
    parties: tuple[InnerProductKey, InnerProductEvaluator],
) -> None:
    key, ev = parties
    rng = np.random.default_rng(6)
    X, d = rng.normal(size=(9000, 6)), rng.uniform(-1, 1, 9000)
    enc_d = key.encrypt_residual(d)
    ev.prepare(3)
    assert ev.prepared == 3
    blobs, totals = ev.masked_xt_d(X, enc_d.split())
    assert ev.prepared == 0
    assert np.all(np.abs(key.decrypt_pairs(key.wire(blobs), 6) - totals - X.T @ d) <= _bound(d))
    public = ev.ctx
    for workers in (1, 2, 2):  # the second helper call reuses the helper's copy of X
        wire, totals = masked_xt_d(public, X, enc_d, workers=workers)
        got = key.decrypt_pairs(wire, 6) - totals
        assert np.all(np.abs(got - X.T @ d) <= _bound(d))


def test_bad_inputs_refused(parties: tuple[InnerProductKey, InnerProductEvaluator]) -> None:
    key, ev = parties
    d = np.linspace(-1, 1, 50)
    enc_d = key.encrypt_residual(d)
    with pytest.raises(InvalidArgument):
        key.encrypt_residual(np.array([1.5]))
    with pytest.raises(InvalidArgument):
        key.encrypt_residual(np.array([np.nan]))
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.ones((5000, 2)), enc_d.split())  # needs two chunks
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.full((50, 2), np.nan), enc_d.split())
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.full((50, 2), 2.0**20), enc_d.split())
    with pytest.raises(InvalidArgument):
        ev.masked_xt_d(np.ones((50, 2)), enc_d.split(), sigma=2.0**50)
    bad = bytearray(enc_d.split()[0])
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(CryptoError):  # refused on load, or the bank's decryption refuses it
        tampered, _ = ev.masked_xt_d(np.ones((50, 2)), [bytes(bad)])
        key.decrypt_pairs(key.wire(tampered), 2)
    other = CkksContext.create(coeff_mod_bit_sizes=INNER_COEFF_MOD_BIT_SIZES)
    foreign = InnerProductKey(other).encrypt_residual(d)
    with pytest.raises(CryptoError):
        masked_xt_d(ev.ctx, np.ones((50, 2)), foreign, workers=1)
    with pytest.raises(CryptoError):
        InnerProductEvaluator(CkksContext.from_bytes(CkksContext.create().public_bytes()))
    out, _ = ev.masked_xt_d(np.ones((50, 2)), enc_d.split())
    with pytest.raises(CryptoError):
        key.decrypt_pairs(key.wire(out), 3)  # three values need two ciphertexts
    other_key = InnerProductKey(other)
    with pytest.raises(CryptoError):  # labelled for another key
        other_key.decrypt_pairs(key.wire(out), 2)
    with pytest.raises(CryptoError):  # relabelled: decrypts to noise far out of range
        other_key.decrypt_pairs(other_key.wire(out), 2)


def test_scratch_directory_is_private(
    parties: tuple[InnerProductKey, InnerProductEvaluator],
) -> None:
    assert scratch_dir().stat().st_mode & 0o777 == 0o700
