"""Units of vertical LR: masked gradients (both modes), score packing, optimisers, params."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.crypto.ckks_inner import DEFAULT_FLOOD_SIGMA, flood_error_bound
from models.crypto.paillier import PaillierKeypair
from models.errors import InvalidArgument, OverflowDetected
from models.logreg.he import (
    FEATURE_FRAC_BITS,
    RESIDUAL_FRAC_BITS,
    ActiveCrypto,
    PassiveCrypto,
)
from models.logreg.optim import LrParams, Optimizer, learning_rate, log_loss
from models.numerics import sigmoid


@pytest.fixture(scope="module")
def paillier_keys() -> ActiveCrypto:
    return ActiveCrypto("paillier", keypair=PaillierKeypair.generate(1024))


def _exact_fixed_xtd(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    xi = np.rint(np.ldexp(X, FEATURE_FRAC_BITS)).astype(np.int64)
    di = [int(v) for v in np.rint(np.ldexp(d, RESIDUAL_FRAC_BITS)).astype(np.int64)]
    out = []
    for j in range(X.shape[1]):
        s = sum(int(a) * b for a, b in zip(xi[:, j].tolist(), di, strict=True))
        out.append(s / 2 ** (FEATURE_FRAC_BITS + RESIDUAL_FRAC_BITS))
    return np.asarray(out)


def test_paillier_masked_gradient_is_exact(paillier_keys: ActiveCrypto) -> None:
    rng = np.random.default_rng(0)
    n, f = 300, 13  # 13 entries need two packed ciphertexts at 1024 bits
    X = rng.normal(size=(n, f)) * 3
    X[:, 0] = 0.0
    d = rng.uniform(-1, 1, n)
    d[:3] = [1.0, -1.0, 0.0]
    platform = PassiveCrypto("paillier", paillier_keys.public_bytes(), workers=1)
    enc, state = platform.masked_gradient(X, paillier_keys.encrypt_residual(d))
    assert enc.count == state.n_ciphertexts == 2
    packed, sums = paillier_keys.decrypt_masked(enc, f)
    assert sums.size == 0 and len(packed) == 2
    # what the bank sees is dominated by the masks: every slot is far from the gradient
    g = platform.unmask(state, packed, sums)
    assert np.array_equal(g, _exact_fixed_xtd(X, d))
    assert np.allclose(g, X.T @ d, atol=1e-3)
    # a modified plaintext is caught when unmasking
    tampered = [
        (int.from_bytes(packed[0], "big") ^ (1 << (state.slot_bits - 1))).to_bytes(
            len(packed[0]), "big"
        ),
        packed[1],
    ]
    with pytest.raises(OverflowDetected):
        platform.unmask(state, tampered, sums)
    with pytest.raises(InvalidArgument):
        platform.unmask(state, packed[:1], sums)


def test_ckks_masked_gradient_within_bound() -> None:
    keys = ActiveCrypto.generate("ckks")
    rng = np.random.default_rng(1)
    n, f = 5000, 4
    X, d = rng.normal(size=(n, f)), rng.uniform(-1, 1, n)
    platform = PassiveCrypto("ckks", keys.public_bytes())
    assert platform.ckks is not None and platform.ckks.can_encrypt  # rerandomises results
    assert not platform.ckks.has_secret_key
    enc, state = platform.masked_gradient(X, keys.encrypt_residual(d))
    assert enc.count == f // 2  # two inner products per ciphertext
    packed, masked = keys.decrypt_masked(enc, f)
    assert packed == [] and np.abs(masked - X.T @ d).min() > 1e3  # floods dominate
    g = platform.unmask(state, packed, masked)
    bound = flood_error_bound(DEFAULT_FLOOD_SIGMA) + 2.0**-31 * np.abs(d).sum() + 2.0**-24
    assert np.all(np.abs(g - X.T @ d) <= bound)


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_score_round_trip(paillier_keys: ActiveCrypto, mode: str) -> None:
    keys = paillier_keys if mode == "paillier" else ActiveCrypto.generate("ckks", scoring=True)
    platform = PassiveCrypto(mode, keys.public_bytes())
    scores = np.array([0.0, -0.0, 1.5, -3.25, 123.456, -1e-9, 7.0] * 31)
    enc, bits, per_ct = platform.encrypt_scores(scores)
    if mode == "paillier":
        assert per_ct > 1 and enc.count == math.ceil(scores.size / per_ct)
    got = keys.decrypt_scores(enc, scores.size, bits, per_ct)
    assert np.allclose(got, scores, atol=2e-9 if mode == "paillier" else 1e-6)


def test_residuals_out_of_range_refused(paillier_keys: ActiveCrypto) -> None:
    with pytest.raises(InvalidArgument):
        paillier_keys.encrypt_residual(np.array([1.5]))
    with pytest.raises(InvalidArgument):
        paillier_keys.encrypt_residual(np.array([np.nan]))


def test_params_round_trip_and_validation() -> None:
    p = LrParams(mode="ckks", penalty="l1", C=0.5, batch_size=100, fit_intercept=False)
    assert LrParams.from_params(p.to_params()) == p
    for bad in (
        {"mode": "rsa"},
        {"penalty": "elasticnet"},
        {"optimizer": "precond", "penalty": "l1"},
        {"C": 0.0},
        {"schedule": "exponential", "decay": 2.0},
    ):
        with pytest.raises(InvalidArgument):
            LrParams(**bad).validate()
    assert p.reg_strength(1000) == pytest.approx(1 / (0.5 * 1000))
    assert LrParams(penalty="none").reg_strength(10) == 0.0
    assert LrParams(alpha=0.3).reg_strength(10) == 0.3


def test_schedules() -> None:
    assert learning_rate(LrParams(schedule="constant", learning_rate=0.3), 7) == 0.3
    assert learning_rate(LrParams(schedule="invscaling", decay=0.5), 2) == pytest.approx(0.5)
    assert learning_rate(LrParams(schedule="exponential", decay=0.5), 3) == pytest.approx(0.125)
    assert learning_rate(LrParams(schedule="step", step_epochs=2), 5) == pytest.approx(0.25)


def test_optimisers_decrease_a_logistic_loss() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 4)) @ np.array(
        [[1, 0.9, 0, 0], [0, 0.4, 0, 0], [0, 0, 1, 0], [0, 0, 0, 2.0]]
    )
    y = (rng.random(500) < sigmoid(X @ np.array([1.0, -2.0, 0.5, 0.0]))).astype(float)
    for name in ("sgd", "momentum", "adam", "precond"):
        p = LrParams(optimizer=name, learning_rate=0.5 if name != "adam" else 0.05)
        opt = Optimizer(4, p, p.reg_strength(500), intercept=True)
        if name == "precond":
            opt.set_preconditioner(X)
        losses = []
        for _ in range(30):
            z = X @ opt.weights + opt.bias
            losses.append(log_loss(y, z))
            d = sigmoid(z) - y
            opt.step(np.append(X.T @ d, d.sum()) / 500, p.learning_rate)
        assert losses[-1] < losses[0] - 0.05, name
    # L1: the proximal step zeroes a useless weight and never penalises the intercept
    p = LrParams(penalty="l1", alpha=0.05, learning_rate=0.5)
    opt = Optimizer(4, p, 0.05, intercept=True)
    for _ in range(200):
        z = X @ opt.weights + opt.bias
        d = sigmoid(z) - y
        opt.step(np.append(X.T @ d, d.sum()) / 500, 0.5)
    assert opt.weights[3] == 0.0 and opt.bias != 0.0
    state = opt.state()
    other = Optimizer(4, p, 0.05, intercept=True)
    other.load_state(state)
    assert np.array_equal(other.w, opt.w)
