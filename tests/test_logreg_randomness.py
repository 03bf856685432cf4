"""The bank's background pool of encryption randomness (issue 12): every precomputed value is
used once, the pool is dropped when training ends, results are unchanged."""

from __future__ import annotations

import time

import numpy as np
import pytest

from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.logreg import paillier_terms
from models.logreg.he import ActiveCrypto, PassiveCrypto


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


def _wait_pool(kp: PaillierKeypair, size: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while kp.pool_size < size:
        assert time.monotonic() < end, "the background refill did not fill the pool"
        time.sleep(0.02)


def test_background_pool_values_are_fresh_and_used_once(
    keypair: PaillierKeypair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEDCREDIT_CRYPTO_WORKERS", raising=False)
    seen: list[int] = []
    with keypair.background_pool(200, chunk=64) as running:
        assert running
        _wait_pool(keypair, 200)
        assert keypair.pool_size <= 200 + 64  # topped up to the target, not beyond a chunk
        for _ in range(3):
            # E(0) is the obfuscator itself: every ciphertext shows its randomness
            enc = keypair.encrypt([0] * 150, workers=1)
            seen.extend(int(c) for c in enc.values)
        _wait_pool(keypair, 200)
        pooled = [int(v) for v in keypair._pool]
    assert keypair.refilled >= 400
    assert len(set(seen)) == len(seen) == 450  # never an r twice
    assert not set(seen) & set(pooled)  # what was handed out left the pool
    assert keypair.pool_size == 0  # dropped when the block ends
    n2 = int(keypair.public_key.n2)
    assert all(1 < v < n2 for v in seen)
    msgs = list(range(-50, 50))
    assert keypair.decrypt(keypair.encrypt(msgs, workers=1)) == msgs


def test_background_pool_off_without_helpers(
    keypair: PaillierKeypair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDCREDIT_CRYPTO_WORKERS", "1")
    before = keypair.refilled
    with keypair.background_pool(100) as running:
        assert not running
        time.sleep(0.1)
    assert keypair.refilled == before and keypair.pool_size == 0


def test_terms_decrypt_the_same_with_pooled_randomness(
    keypair: PaillierKeypair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEDCREDIT_CRYPTO_WORKERS", raising=False)
    keys = ActiveCrypto("paillier", keypair=keypair)
    rng = np.random.default_rng(0)
    resid = rng.normal(size=(40, 3)) * 0.3
    Xb = rng.normal(size=(40, 4))
    with keys.background_randomness(40, 3, 4) as running:
        assert running
        _wait_pool(keypair, 40 * 3)
        enc = keys.encrypt_terms(resid, Xb)
    vec = EncryptedVector.from_wire(enc, keypair.public_key)
    assert len(set(int(v) for v in vec.values)) == len(vec) == 120
    layout = paillier_terms.Layout(5, keypair.public_key.key_bits)
    widths = layout.widths(0)
    for k in range(3):
        plain = keypair.decrypt(vec[k * 40 : (k + 1) * 40])
        scale = 2.0 ** (paillier_terms.F_COEF + (paillier_terms.F_PSI if k == 0 else 0))
        got = np.array([paillier_terms._unpack(int(p), widths) for p in plain]) / scale
        want = np.column_stack([resid[:, k], resid[:, k : k + 1] * Xb])
        assert np.allclose(got, want, atol=1e-6)
    assert ActiveCrypto.generate("ckks").background_randomness(10, 4, 4).__enter__() is False


def test_both_outputs_rerandomised_in_one_call(
    keypair: PaillierKeypair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform rerandomises its two outputs together (threads share the r^n): each
    ciphertext of both outputs gets its own fresh r^n, the plaintexts are unchanged."""
    monkeypatch.delenv("FEDCREDIT_CRYPTO_WORKERS", raising=False)
    bank = ActiveCrypto("paillier", keypair=keypair)
    platform = PassiveCrypto("paillier", bank.public_bytes())
    rng = np.random.default_rng(3)
    n = 64
    resid = rng.normal(size=(n, 3)) * 0.2
    Xb, Xp = rng.normal(size=(n, 4)), rng.normal(size=(n, 5))
    P = np.column_stack([np.ones(n), rng.random(n), rng.random(n)])
    enc = bank.encrypt_terms(resid, Xb)
    runs = [platform.combine(enc, P, Xp, 4) for _ in range(2)]
    (b1, p1, s1), (b2, p2, s2) = runs
    pk = keypair.public_key
    c1 = [int(v) for v in EncryptedVector.from_wire(b1, pk).values]
    c1 += [int(v) for v in EncryptedVector.from_wire(p1, pk).values]
    c2 = [int(v) for v in EncryptedVector.from_wire(b2, pk).values]
    c2 += [int(v) for v in EncryptedVector.from_wire(p2, pk).values]
    assert len(c1) == 6 and len(set(c1 + c2)) == 12  # no ciphertext repeats
    g1, g2 = bank.decrypt_bank_output(b1, 4), bank.decrypt_bank_output(b2, 4)
    assert np.array_equal(g1.gradient, g2.gradient)
    assert g1.residual_sum == g2.residual_sum
    u1 = platform.unmask(s1, bank.decrypt_masked(p1, 5))
    u2 = platform.unmask(s2, bank.decrypt_masked(p2, 5))
    d = (resid * P).sum(axis=1)
    assert np.array_equal(u1, u2)
    assert np.allclose(u1, Xp.T @ d, atol=1e-3)
    assert np.allclose(g1.gradient, Xb.T @ d, atol=1e-3)


def test_ciphertext_formula_is_the_textbook_one(keypair: PaillierKeypair) -> None:
    """``r + n (m r mod n)`` is ``(1 + m n) r mod n^2`` for any m (signed too) and r."""
    from models.crypto.paillier import _with_obfuscators

    pk = keypair.public_key
    n, n2 = pk.n, pk.n2
    rng = np.random.default_rng(5)
    ms = pk.encode([0, 1, -1, pk.max_int, -pk.max_int, int(n) - 1, *rng.integers(-9, 9, 20)])
    rn = [n2 - 1, *(keypair._obfuscators(len(ms) - 1, 1))]
    want = [(1 + m * n) * r % n2 for m, r in zip(ms, rn, strict=True)]
    assert _with_obfuscators(ms, rn, n, n2) == want
