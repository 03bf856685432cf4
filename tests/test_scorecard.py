"""Federated scorecard: points add up to the scaled log-odds; accuracy; parts stay apart."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import models.scorecard.passive  # noqa: F401  (registers the platform party)
from experiments.support.vertical import TableProvider, VerticalData, load_vertical
from models.binning.transform import WoeTransform
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.logreg.model_io import read_json
from models.scorecard.active import FederatedScorecard
from models.scorecard.points import ScoreScaling, points_table, sum_points
from proto.transport.codec import ProtobufCodec


@pytest.fixture(scope="module")
def credit(shared_data: Path) -> VerticalData:
    return load_vertical(shared_data, "default_credit", n_rows=3000, seed=7)


def test_scaling_conventions() -> None:
    s = ScoreScaling(base_score=600, pdo=20, base_odds=50)
    at_base = s.score_from_logit(np.array([-math.log(50.0)]))  # odds good:bad = 50
    assert np.isclose(at_base[0], 600.0)
    doubled = s.score_from_logit(np.array([-math.log(100.0)]))
    assert np.isclose(doubled[0] - at_base[0], 20.0)
    assert np.allclose(s.logit_from_score(s.score_from_logit(np.array([0.3, -2.0]))), [0.3, -2.0])
    pts = points_table(np.array([-0.5, 1.0]), [np.array([0.2, -0.1]), np.array([1.0])], s.factor)
    codes = np.array([[0, 0], [1, 0]])
    logit = 0.1 + np.array([-0.5 * 0.2 + 1.0, -0.5 * -0.1 + 1.0])
    assert np.allclose(s.base_points(0.1) + sum_points(codes, pts), s.score_from_logit(logit))


def _platform_part(tmp_path: Path, model_id: str) -> dict[str, object]:
    part = read_json(tmp_path / "platform" / "models" / "scorecard" / f"{model_id}.json")
    assert isinstance(part, dict)
    return part


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_scorecard_points_consistency_and_accuracy(
    credit: VerticalData, tmp_path: Path, mode: str
) -> None:
    manager = SessionManager(tmp_path / "platform", TableProvider(credit.platform))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    card = FederatedScorecard(
        binning_method="optimal",
        n_bins=20,
        max_bins=5,
        iv_threshold=0.02,
        mode=mode,
        C=1.0,
        max_epochs=10,
        key_bits=1024,
        random_state=0,
    )
    card.fit(credit.bank, peer, rows=credit.train, model_id=f"sc-{mode}")
    scores = card.points(credit.bank, peer, rows=credit.test)
    # 1. points add up to the scaled log-odds of the joint WOE model
    part = _platform_part(tmp_path, f"sc-{mode}")
    wt_p = WoeTransform.from_dict(part["woe_transform"])  # type: ignore[arg-type]
    w_p = np.asarray(part["weights"])
    logit = (
        card.bank_woe_.transform(credit.bank.X[credit.test]) @ card.coef_
        + card.intercept_
        + wt_p.transform(credit.platform.X[credit.test]) @ w_p
    )
    tol = 1e-6 if mode == "paillier" else 1e-4
    assert np.allclose(scores, card.scaling().score_from_logit(logit), atol=tol, rtol=0)
    # 2. accuracy: the same WOE features and penalty, fitted centrally by scikit-learn
    y = credit.bank.y
    assert y is not None
    woe_all = np.hstack(
        [card.bank_woe_.transform(credit.bank.X), wt_p.transform(credit.platform.X)]
    )
    ref = LogisticRegression(C=1.0, max_iter=10_000, tol=1e-10)
    ref.fit(woe_all[credit.train], y[credit.train])
    auc_ref = roc_auc_score(y[credit.test], ref.decision_function(woe_all[credit.test]))
    auc_card = roc_auc_score(y[credit.test], -scores)  # higher score = lower risk
    assert abs(auc_card - auc_ref) <= 0.005
    proba = card.predict_proba(credit.bank, peer, rows=credit.test)
    assert proba.shape == (credit.test.size, 2) and np.allclose(
        proba[:, 1], 1 / (1 + np.exp(-logit)), atol=1e-6
    )
    # 3. the bank's part holds no platform points or weights; the table names them only
    table = card.points_table()
    plat = table[table["party"] == "platform"]
    assert list(plat["feature"]) == card.platform_features_ and plat["points"].isna().all()
    assert table.iloc[0]["feature"] == "(base)"
    body = card.to_dict()
    assert "woe_transform" in body and all(
        len(p) == len(w) for p, w in zip(body["points"], card.bank_woe_.woe, strict=True)
    )
    assert len(w_p) == len(card.platform_features_) and "weights" not in body


def test_rounded_points_and_model_files(credit: VerticalData, tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "platform", TableProvider(credit.platform))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    card = FederatedScorecard(
        binning_method="quantile",
        n_bins=5,
        iv_threshold=None,
        top_k=6,
        mode="ckks",
        round_points=True,
        max_epochs=6,
        key_bits=1024,
        random_state=0,
    )
    card.fit(credit.bank, peer, rows=credit.train, model_id="sc-round")
    scores = card.points(credit.bank, peer, rows=credit.test)
    assert np.allclose(scores, np.round(scores), atol=1e-5)  # integer points
    part = _platform_part(tmp_path, "sc-round")
    wt_p = WoeTransform.from_dict(part["woe_transform"])  # type: ignore[arg-type]
    logit = (
        card.bank_woe_.transform(credit.bank.X[credit.test]) @ card.coef_
        + card.intercept_
        + wt_p.transform(credit.platform.X[credit.test]) @ np.asarray(part["weights"])
    )
    n_terms = 1 + len(card.coef_) + len(part["weights"])  # type: ignore[arg-type]
    exact = card.scaling().score_from_logit(logit)
    assert np.all(np.abs(scores - exact) <= 0.5 * n_terms + 1e-6)
    card.save(tmp_path / "card.json")
    loaded = FederatedScorecard.load(tmp_path / "card.json")
    assert np.allclose(loaded.points(credit.bank, peer, rows=credit.test), scores, atol=1e-5)
    assert len(loaded.points_table()) == len(card.points_table())


def test_scorecard_over_both_transports(
    credit: VerticalData, make_peer: Callable[..., object]
) -> None:
    peer = make_peer(TableProvider(credit.platform))
    card = FederatedScorecard(
        binning_method="quantile",
        n_bins=5,
        top_k=4,
        iv_threshold=None,
        mode="paillier",
        max_epochs=3,
        key_bits=1024,
        random_state=0,
    )
    card.fit(credit.bank, peer, rows=credit.train)  # type: ignore[arg-type]
    scores = card.points(credit.bank, peer, rows=credit.test[:200])  # type: ignore[arg-type]
    assert scores.shape == (200,) and np.all(np.isfinite(scores))
    assert len(card.platform_features_) + len(card.coef_) == 4
