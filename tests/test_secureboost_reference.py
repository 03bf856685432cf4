"""The plaintext SecureBoost reference: binning, split rule, and agreement with LightGBM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from experiments.support.hetero import joined, load_hetero, train_test_rows
from models.errors import Cancelled, InvalidArgument
from models.secureboost.binning import QuantileBinner, feature_edges
from models.secureboost.engine import frac_bits_for
from models.secureboost.ghpack import GHLayout
from models.secureboost.loss import auc
from models.secureboost.reference import SecureBoostReference
from models.secureboost.splitter import SplitParams, best_split

# A centralized model on the joined table; predictions must match LightGBM's to this precision
# when LightGBM is given the same bins (it uses float32 gradients, we use 2**-f fixed point).
LGB_PROBA_TOL = 1e-6
# With L2, LightGBM prunes some candidates (see test_reference_close_to_lightgbm_with_l2).
LGB_L2_MEAN_TOL = 0.01
LGB_L2_AUC_TOL = 0.005
# With its own binning LightGBM's AUC may differ a little (different bin edges, NaN handling).
LGB_RAW_AUC_TOL = 0.015


def _lgb_params(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "objective": "binary",
        "learning_rate": p["learning_rate"],
        "max_depth": p["max_depth"],
        "num_leaves": 2 ** p["max_depth"],
        "min_sum_hessian_in_leaf": p["min_child_weight"],
        "lambda_l2": p["reg_lambda"],
        "min_gain_to_split": p.get("gamma", 0.0),
        "min_data_in_leaf": 1,
        "max_bin": 255,
        "min_data_in_bin": 1,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
    }


def _lgb_on_codes(codes: np.ndarray, y: np.ndarray, tr: np.ndarray, p: dict[str, Any]) -> Any:
    ds = lgb.Dataset(
        codes[tr],
        y[tr],
        params={"max_bin": 255, "min_data_in_bin": 1, "feature_pre_filter": False, "verbose": -1},
    )
    return lgb.train(_lgb_params(p), ds, num_boost_round=int(p["n_estimators"]))


def test_quantile_edges_and_missing_bin() -> None:
    x = np.array([5.0, 1.0, 1.0, 2.0, np.nan, 3.0, 4.0, 4.0])
    e = feature_edges(x, 32)
    assert e.tolist() == [1.0, 2.0, 3.0, 4.0]  # few distinct values: one bin each
    binner = QuantileBinner(4).fit(np.arange(100, dtype=float)[:, None])
    assert binner.n_value_bins.tolist() == [4]
    codes = binner.transform(np.array([[-1.0], [np.nan], [1e9], [49.0]]))
    assert codes[:, 0].tolist() == [0, 4, 3, 1]
    # bin <= b goes left is exactly value <= threshold(b)
    rng = np.random.default_rng(0)
    v = rng.normal(size=1000)
    b2 = QuantileBinner(16).fit(v[:, None])
    c = b2.transform(v[:, None])[:, 0]
    for b in range(int(b2.n_value_bins[0]) - 1):
        thr = b2.threshold(0, b)
        assert thr is not None
        assert np.array_equal(c <= b, v <= thr)
    assert b2.threshold(0, int(b2.n_value_bins[0]) - 1) is None
    with pytest.raises(InvalidArgument):
        QuantileBinner(300)


def test_split_rule_prefers_missing_direction_and_respects_gamma() -> None:
    f = 10
    # one feature, 2 value bins + missing; rows with missing look like bin 1
    G = np.array([[-30, 0, 20, 10]], dtype=np.int64) << f
    H = np.array([[10, 0, 10, 5]], dtype=np.int64) << f
    kw: dict[str, Any] = {"n_value_bins": np.array([3]), "feature_mask": np.array([True])}
    kw["frac_bits"] = f
    cand = best_split(G, H, int(G.sum()), int(H.sum()), params=SplitParams(1.0, 1.0, 0.0), **kw)
    # bins 0 and 1 split identically (bin 1 is empty): the highest bin wins the tie
    assert cand is not None and cand.bin == 1 and not cand.missing_left
    assert best_split(G, H, int(G.sum()), int(H.sum()), params=SplitParams(1, 1, 1e6), **kw) is None
    assert best_split(G, H, int(G.sum()), int(H.sum()), params=SplitParams(1, 11, 0), **kw) is None


def test_packing_roundtrip_signed_sums() -> None:
    rng = np.random.default_rng(3)
    n, fb = 5000, frac_bits_for(5000)
    layout = GHLayout.for_rows(n, fb, 1.0, 1024)
    g = rng.uniform(-1, 1, n)
    h = rng.uniform(0, 0.25, n)
    gq = np.rint(g * 2.0**fb).astype(np.int64)
    hq = np.rint(h * 2.0**fb).astype(np.int64)
    packed = layout.pack(gq, hq)
    groups = [rng.choice(n, size=k, replace=False) for k in (1, 7, n)]
    sums = [sum(packed[i] for i in grp) for grp in groups]
    k = layout.slots_per_ciphertext
    compressed = [sum(v << (layout.slot_bits * j) for j, v in enumerate(sums[:k]))]
    back = layout.decompress(compressed, len(sums))
    gs, hs = layout.unpack(back)
    assert gs.tolist() == [int(gq[grp].sum()) for grp in groups]
    assert hs.tolist() == [int(hq[grp].sum()) for grp in groups]


@pytest.mark.parametrize(
    ("name", "rows", "params"),
    [
        ("breast", None, {"n_estimators": 8, "max_depth": 3, "min_child_weight": 1.0}),
        ("default_credit", None, {"n_estimators": 20, "max_depth": 5, "min_child_weight": 1.0}),
    ],
)
def test_reference_equals_lightgbm_on_same_bins(
    shared_data: Path, name: str, rows: int | None, params: dict[str, Any]
) -> None:
    """Same bins, no L2: LightGBM (leaf-wise, num_leaves = 2**depth) grows the same trees.

    With ``reg_lambda = 0`` a split's gain is never negative, so LightGBM's shortcut of not
    re-examining in a child a feature that had no valid split in its parent changes nothing.
    """
    bank, plat = load_hetero(shared_data, name, rows)
    X, y = joined(bank, plat), np.asarray(bank.y)
    tr, _te = train_test_rows(len(y))
    p = {"learning_rate": 0.1, "reg_lambda": 0.0, "gamma": 0.0, "n_bins": 32, **params}
    ref = SecureBoostReference(**p).fit(X, y, n_bank_features=bank.n_features, train_rows=tr)
    codes = ref.binner_.transform(X).astype(np.float64)
    bst = _lgb_on_codes(codes, y, tr, p)
    assert np.max(np.abs(ref.predict_proba_plain(X)[:, 1] - bst.predict(codes))) < LGB_PROBA_TOL
    assert len(ref.trees_) == p["n_estimators"]


def test_reference_close_to_lightgbm_with_l2(shared_data: Path) -> None:
    """With L2 the first tree is identical; later trees differ only where LightGBM skips a
    feature in a child because it had no valid split in the parent (a negative-gain case that
    this exact algorithm re-examines), so the models stay close."""
    bank, plat = load_hetero(shared_data, "default_credit", 6000)
    X, y = joined(bank, plat), np.asarray(bank.y)
    tr, te = train_test_rows(len(y))
    p: dict[str, Any] = {"learning_rate": 0.1, "reg_lambda": 1.0, "gamma": 0.0, "n_bins": 32}
    p |= {"n_estimators": 20, "max_depth": 4, "min_child_weight": 1.0}
    ref = SecureBoostReference(**p).fit(X, y, train_rows=tr)
    codes = ref.binner_.transform(X).astype(np.float64)
    bst = _lgb_on_codes(codes, y, tr, p)
    first = SecureBoostReference(**{**p, "n_estimators": 1}).fit(X, y, train_rows=tr)
    assert (
        np.max(np.abs(first.predict_proba_plain(X)[:, 1] - bst.predict(codes, num_iteration=1)))
        < LGB_PROBA_TOL
    )
    p_ref, p_lgb = ref.predict_proba_plain(X)[:, 1], bst.predict(codes)
    assert np.mean(np.abs(p_ref - p_lgb)) < LGB_L2_MEAN_TOL
    assert abs(auc(y[te], p_ref[te]) - auc(y[te], p_lgb[te])) < LGB_L2_AUC_TOL
    # and with LightGBM's own binning of the raw features, the AUCs are close
    raw = lgb.train(
        {**_lgb_params(p), "max_bin": 32},
        lgb.Dataset(X[tr], y[tr], params={"max_bin": 32, "verbose": -1}),
        num_boost_round=int(p["n_estimators"]),
    )
    assert abs(auc(y[te], p_ref[te]) - auc(y[te], np.asarray(raw.predict(X[te])))) < LGB_RAW_AUC_TOL


def test_missing_values_learn_a_direction(shared_data: Path) -> None:
    bank, plat = load_hetero(shared_data, "default_credit", 3000)
    X, y = joined(bank, plat), np.asarray(bank.y)
    rng = np.random.default_rng(1)
    X[rng.random(X.shape) < 0.1] = np.nan
    informative = bank.n_features + 5  # PAY_0 on the platform side
    X[(y == 1) & (rng.random(y.size) < 0.3), informative] = np.nan
    tr, te = train_test_rows(len(y))
    p: dict[str, Any] = {"n_estimators": 10, "max_depth": 4, "learning_rate": 0.1}
    p["min_child_weight"] = 1.0
    ref = SecureBoostReference(**p, reg_lambda=1.0).fit(X, y, train_rows=tr)
    splits = [n for t in ref.trees_ for n in t.split_nodes()]
    assert any(n.missing_left for n in splits) and any(not n.missing_left for n in splits)
    # a row whose informative feature is missing scores higher than the same row without
    probe = X[te].copy()
    probe[:, informative] = np.nanmedian(X[:, informative])
    lifted = probe.copy()
    lifted[:, informative] = np.nan
    assert np.mean(ref.decision_function_plain(lifted) - ref.decision_function_plain(probe)) > 0
    bst = lgb.train(
        {**_lgb_params({**p, "reg_lambda": 1.0}), "max_bin": 32},
        lgb.Dataset(X[tr], y[tr], params={"max_bin": 32, "verbose": -1}),
        num_boost_round=10,
    )
    p_ref = ref.predict_proba_plain(X[te])[:, 1]
    assert auc(y[te], p_ref) > auc(y[te], np.asarray(bst.predict(X[te]))) - LGB_RAW_AUC_TOL


def test_sampling_is_seeded_and_early_stopping_keeps_best(shared_data: Path) -> None:
    bank, plat = load_hetero(shared_data, "breast")
    X, y = joined(bank, plat), np.asarray(bank.y)
    tr, te = train_test_rows(len(y))
    p = {"n_estimators": 6, "max_depth": 3, "subsample": 0.7, "colsample_bytree": 0.5}
    a = SecureBoostReference(**p, random_state=4).fit(X, y, train_rows=tr)
    b = SecureBoostReference(**p, random_state=4).fit(X, y, train_rows=tr)
    c = SecureBoostReference(**p, random_state=5).fit(X, y, train_rows=tr)
    assert [t.structure() for t in a.trees_] == [t.structure() for t in b.trees_]
    assert [t.structure() for t in a.trees_] != [t.structure() for t in c.trees_]
    g = SecureBoostReference(n_estimators=6, max_depth=3, goss=True, random_state=1).fit(
        X, y, train_rows=tr
    )
    assert auc(y[te], g.predict_proba_plain(X[te])[:, 1]) > 0.9
    es = SecureBoostReference(
        n_estimators=200, max_depth=3, learning_rate=0.5, early_stopping_rounds=3
    ).fit(X, y, train_rows=tr, valid_rows=te)
    assert es.state_.stopped_early
    assert len(es.trees_) == es.state_.best_iteration + 1 < len(es.state_.trees)
    best = max(h["val_auc"] for h in es.history_)
    assert es.history_[es.state_.best_iteration]["val_auc"] == best


def test_should_stop_cancels_between_trees(shared_data: Path) -> None:
    bank, plat = load_hetero(shared_data, "breast")
    X, y = joined(bank, plat), np.asarray(bank.y)
    seen: list[int] = []
    with pytest.raises(Cancelled):
        SecureBoostReference(n_estimators=5, max_depth=2).fit(
            X,
            y,
            callbacks=[lambda info: seen.append(info["tree"])],
            should_stop=lambda: len(seen) >= 2,
        )
    assert seen == [0, 1]
