"""Units of vertical LR: score packing, optimisers, params, batch plans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.crypto.paillier import PaillierKeypair
from models.errors import InvalidArgument
from models.logreg.he import ActiveCrypto, PassiveCrypto
from models.logreg.optim import (
    LrParams,
    Optimizer,
    batch_plan,
    learning_rate,
    log_loss,
    min_batch_rows,
)
from models.numerics import sigmoid


@pytest.fixture(scope="module")
def paillier_keys() -> ActiveCrypto:
    return ActiveCrypto("paillier", keypair=PaillierKeypair.generate(1024))


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


def test_nesterov_lookahead_and_penalty() -> None:
    p = LrParams(optimizer="precond", momentum=0.5, nesterov=True)
    opt = Optimizer(2, p, 0.1, intercept=True)
    opt.set_preconditioner(np.eye(2) * 2)
    assert np.array_equal(opt.lookahead(1.0), opt.w)
    opt.step(np.array([1.0, -1.0, 0.5]), 1.0)
    assert np.allclose(opt.lookahead(1.0), opt.w - 0.5 * opt.m)
    assert not np.allclose(opt.lookahead(1.0), opt.w)
    assert opt.penalty(np.array([3.0, 4.0, 100.0])) == pytest.approx(0.5 * 0.1 * 25.0)
    plain = Optimizer(2, LrParams(optimizer="precond", nesterov=False), 0.1, intercept=True)
    assert np.array_equal(plain.lookahead(1.0), plain.w)


def test_batch_plan_is_seeded_and_partitions() -> None:
    p = LrParams(batch_size=300, max_epochs=4)
    train = np.arange(10, 1010)
    seed = bytes(range(32))
    plan = batch_plan(p, train, seed, 0, 1)
    assert len(plan) == 3 and all(b.size >= 300 for b in plan)
    assert np.array_equal(np.sort(np.concatenate(plan)), train)
    again = batch_plan(p, train, seed, 0, 1)
    assert all(np.array_equal(x, y) for x, y in zip(plan, again, strict=True))
    other = batch_plan(p, train, seed, 1, 1)
    assert not np.array_equal(plan[0], other[0])
    full = batch_plan(LrParams(batch_size=0), train, seed, 3, 1)
    assert len(full) == 1 and np.array_equal(full[0], train)
    # the platform's floor: at least 256 rows, and 2 * epochs * (features + 2)
    assert min_batch_rows(LrParams(max_epochs=20), 24_000, 13, 10) == 600
    assert min_batch_rows(LrParams(max_epochs=2), 24_000, 3, 3) == 256
    assert min_batch_rows(LrParams(max_epochs=20), 100, 13, 10) == 100
    with pytest.raises(InvalidArgument):
        LrParams(batch_size=-1).validate()
    with pytest.raises(InvalidArgument):
        LrParams(sigmoid_terms=1).validate()
    with pytest.raises(InvalidArgument):
        LrParams(max_epochs=10_000).validate()
