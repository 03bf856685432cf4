"""The LR batch step in both modes: separable expansions, packed/coefficient term layouts,
the bank's own gradient, a uniformly masked gradient for the platform."""

from __future__ import annotations

import numpy as np
import pytest

from models.crypto.paillier import PaillierKeypair
from models.errors import CryptoError, InvalidArgument, OverflowDetected
from models.logreg.he import ActiveCrypto, PassiveCrypto
from models.logreg.separable import (
    coarse_interval,
    normalised,
    psi,
    residual_terms,
)
from models.numerics import sigmoid


@pytest.fixture(scope="module")
def keys() -> dict[str, ActiveCrypto]:
    return {
        "paillier": ActiveCrypto("paillier", keypair=PaillierKeypair.generate(1024)),
        "ckks": ActiveCrypto.generate("ckks"),
    }


def _batch(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    Xb, Xp = rng.normal(size=(n, 4)), rng.normal(size=(n, 3)) * 2
    a = Xb @ np.array([0.5, -1.0, 0.2, 0.0]) - 1.2
    u = Xp @ np.array([0.8, -0.3, 0.5])
    y = (rng.random(n) < sigmoid(a + u)).astype(float)
    return {"Xb": Xb, "Xp": Xp, "a": a, "u": u, "y": y}


def _expected(b: dict[str, np.ndarray], K: int, basis: str) -> dict[str, np.ndarray | float]:
    lo, hi = coarse_interval(b["u"])
    P = psi(normalised(b["u"], lo, hi), K, basis)
    d = (residual_terms(b["a"], b["y"], lo, hi, K, basis) * P).sum(axis=1)
    return {"d": d, "gb": b["Xb"].T @ d, "gp": b["Xp"].T @ d, "sum_d": float(d.sum())}


@pytest.mark.parametrize("basis", ["chebyshev", "monomial"])
def test_separable_expansion_matches_the_logistic_function(basis: str) -> None:
    b = _batch(4000)
    exact_d = sigmoid(b["a"] + b["u"]) - b["y"]
    # (terms, uniform residual error, mean gradient error); measured 0.18 / 8.8e-4 with 3
    # terms and 0.057 / 3.0e-4 with 5 on this batch (partial scores spanning ~12)
    for K, uniform, grad in ((3, 0.25, 2e-3), (5, 0.08, 5e-4)):
        e = _expected(b, K, basis)
        d = np.asarray(e["d"])
        assert np.abs(d - exact_d).max() < uniform
        assert np.abs(b["Xb"].T @ (d - exact_d)).max() / b["Xb"].shape[0] < grad
        assert abs(float(e["sum_d"]) - exact_d.sum()) / b["Xb"].shape[0] < grad


def test_interval_is_coarse_and_covers() -> None:
    u = np.array([-1.03, 0.2, 2.51])
    lo, hi = coarse_interval(u)
    assert lo <= u.min() and hi >= u.max()
    assert (lo * 16).is_integer() and (hi * 16).is_integer()
    assert coarse_interval(np.zeros(5)) == (-1 / 16, 1 / 16)
    t = normalised(u, lo, hi)
    assert np.all(np.abs(t) <= 1.0)
    with pytest.raises(InvalidArgument):
        coarse_interval(np.array([1e6]))


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_batch_step_gives_each_party_its_own_aggregates(
    keys: dict[str, ActiveCrypto], mode: str
) -> None:
    bank = keys[mode]
    platform = PassiveCrypto(mode, bank.public_bytes(), workers=1)
    b = _batch(700 if mode == "paillier" else 5000, seed=1)
    K = 3
    lo, hi = coarse_interval(b["u"])
    enc = bank.encrypt_terms(residual_terms(b["a"], b["y"], lo, hi, K, bank.basis), b["Xb"])
    P = psi(normalised(b["u"], lo, hi), K, platform.basis)
    enc_bank, enc_plat, state = platform.combine(enc, P, b["Xp"], 4)
    out = bank.decrypt_bank_output(enc_bank, 4)
    e = _expected(b, K, bank.basis)
    tol = 1e-5 * b["Xb"].shape[0]
    assert np.allclose(out.gradient, e["gb"], atol=tol)
    assert out.residual_sum == pytest.approx(e["sum_d"], abs=tol)
    returned = bank.decrypt_masked(enc_plat, 3)
    gp = platform.unmask(state, returned)
    assert np.allclose(gp, e["gp"], atol=tol)
    # what the bank handed back is uniform noise to it, nowhere near the gradient
    raw = np.array([int.from_bytes(r, "big") for r in returned], dtype=object)
    assert all(abs(float(v)) > 1e20 for v in raw)
    # a tampered hand-back is caught; so is a wrong count
    bad = list(returned)
    bad[0] = bytes([bad[0][0] ^ 0x40]) + bad[0][1:]
    with pytest.raises((OverflowDetected, InvalidArgument)):
        platform.unmask(state, bad)
    with pytest.raises(InvalidArgument):
        platform.unmask(state, returned[:2])


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_bad_terms_are_refused(keys: dict[str, ActiveCrypto], mode: str) -> None:
    bank = keys[mode]
    platform = PassiveCrypto(mode, bank.public_bytes(), workers=1)
    b = _batch(300 if mode == "paillier" else 5000, seed=2)
    lo, hi = coarse_interval(b["u"])
    r = residual_terms(b["a"], b["y"], lo, hi, 3, bank.basis)
    enc = bank.encrypt_terms(r, b["Xb"])
    P = psi(normalised(b["u"], lo, hi), 3, platform.basis)
    m = 200 if mode == "paillier" else 3000  # CKKS: fewer chunks of N/2 rows
    with pytest.raises((CryptoError, InvalidArgument)):  # the batch has other rows
        platform.combine(enc, P[:m], b["Xp"][:m], 4)
    P4 = psi(normalised(b["u"], lo, hi), 4, platform.basis)
    with pytest.raises((CryptoError, InvalidArgument)):  # another number of terms
        platform.combine(enc, P4, b["Xp"], 4)
    other = ActiveCrypto.generate(mode, 1024)
    with pytest.raises(CryptoError):  # another key
        PassiveCrypto(mode, other.public_bytes(), workers=1).combine(enc, P, b["Xp"], 4)
    with pytest.raises(InvalidArgument):  # out of the fixed-point range
        bank.encrypt_terms(r, b["Xb"] * 1e6)
    with pytest.raises(InvalidArgument):
        bank.encrypt_terms(r * np.nan, b["Xb"])
