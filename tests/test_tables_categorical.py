"""Categorical features on both sides, encoded by their owner (issue 16, item 1).

String columns are encoded locally (bank table, served platform table); SecureBoost splits a
categorical feature on a set of its bins chosen LightGBM-style by the bank; the platform keeps
the categories of its splits. Measured against LightGBM with native categoricals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import models.secureboost.passive  # noqa: F401  (registers the platform half)
from bank_node.loanbook import load_bank_table
from experiments.support.hetero import StaticProvider, joined, train_test_rows
from models.categorical import apply_categories, encode_column, encode_frame, recode
from models.dataset import PartyTable
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer, iter_values
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.binning import QuantileBinner
from models.secureboost.eini_platform import PlatformSplits
from models.secureboost.loss import auc
from models.secureboost.messages import SbInitResponse
from models.secureboost.reference import SecureBoostReference
from models.secureboost.splitter import SplitParams, best_split
from platform_node.data_provider import ServedTable, load_served_table
from proto.transport.codec import ProtobufCodec
from tests.tables_support import PLATFORM_TEXT, credit_tables

KEY_BITS = 1024
#: The federated model (= the reference) against LightGBM with native categoricals on the
#: joined table, same hyper-parameters and categorical settings (10,000 rows, 50 trees).
LGB_CAT_AUC_TOL = 0.003


# ---------------------------------------------------------------------------- encoding
def test_encoding_is_local_sorted_and_unseen_is_missing() -> None:
    codes, cats = encode_column(pd.Series(["b", "a", None, "b", 3.0]))
    assert cats == ("3", "a", "b")
    assert codes[[0, 1, 3, 4]].tolist() == [2.0, 1.0, 2.0, 0.0] and np.isnan(codes[2])
    later = apply_categories(pd.Series(["a", "zzz", None]), cats)
    assert later[0] == 1.0 and np.isnan(later[1:]).all()  # unseen -> missing
    X, found = encode_frame(
        pd.DataFrame({"n": [1.0, 2.0], "s": ["x", "y"], "c": [7, 9]}), ["n", "s", "c"], ["c"]
    )
    assert found == {"s": ("x", "y"), "c": ("7", "9")} and X.tolist() == [[1, 0, 0], [2, 1, 1]]
    # a table re-encoded with a new category keeps the model's codes
    assert recode(np.array([0.0, 1.0, 2.0, np.nan]), ("a", "b"), ("_new", "a", "b"))[:3].tolist()[
        1:
    ] == [0.0, 1.0]


def test_binner_gives_each_category_a_bin() -> None:
    x = np.array([[0.0], [2.0], [2.0], [5.0], [np.nan], [5.0]])
    b = QuantileBinner(4).fit(x, np.array([True]))
    assert b.n_value_bins.tolist() == [3] and b.categorical.tolist() == [True]
    codes = b.transform(np.array([[0.0], [2.0], [5.0], [3.0], [np.nan]]))[:, 0]
    assert codes.tolist() == [0, 1, 2, 4, 4]  # unseen code 3 and NaN -> the missing bin
    many = np.repeat(np.arange(10.0), np.arange(1, 11))[:, None]  # category k appears k+1 times
    top = QuantileBinner(4).fit(many, np.array([True]))
    assert top.categories_[0].tolist() == [6.0, 7.0, 8.0, 9.0]  # the 4 most frequent


def test_categorical_split_picks_the_best_subset() -> None:
    """Categories 1, 3, 5 have positive gradients: the best set separates them."""
    k, nb = 8, 8
    rng = np.random.default_rng(0)
    scale = 2**20
    g = np.where(np.isin(np.arange(k), [1, 3, 5]), 1.0, -1.0) * rng.uniform(0.5, 1, k) * 200
    G = np.zeros((1, nb + 1), np.int64)
    H = np.zeros((1, nb + 1), np.int64)
    G[0, :k] = np.round(g * scale)
    H[0, :k] = 200 * scale  # 800 rows per category at hessian 0.25
    cand = best_split(
        G,
        H,
        int(G.sum()),
        int(H.sum()),
        np.array([k]),
        np.array([True]),
        20,
        SplitParams(reg_lambda=1.0),
        categorical=np.array([True]),
        n_rows=6400,
    )
    assert cand is not None and cand.left_bins is not None and cand.bin == -1
    assert set(cand.left_bins) in ({1, 3, 5}, set(range(k)) - {1, 3, 5})
    assert not cand.missing_left


# ---------------------------------------------------------------------------- accuracy
def _joined_frames(shared_data: Path, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    bank, plat = credit_tables(shared_data, n)
    bf = [c for c in bank.columns if c not in ("id", "default")]
    pf = [c for c in plat.columns if c != "id"]
    Xb, cb = encode_frame(bank, bf)
    Xp, cp = encode_frame(plat, pf)
    names = bf + pf
    cat = np.array([c in cb or c in cp for c in names])
    y = (bank["default"] == "yes").to_numpy(float)
    return np.hstack([Xb, Xp]), y, cat, [names, len(bf)]


def test_reference_with_categoricals_matches_lightgbm_native(shared_data: Path) -> None:
    X, y, cat, (names, n_bank) = _joined_frames(shared_data, 10_000)
    tr, te = train_test_rows(len(y))
    p: dict[str, Any] = {"n_estimators": 50, "max_depth": 5, "learning_rate": 0.1}
    p |= {"reg_lambda": 1.0, "min_child_weight": 1.0, "n_bins": 32}
    ref = SecureBoostReference(**p).fit(
        X, y, n_bank_features=n_bank, categorical=cat, train_rows=tr
    )
    a_ref = auc(y[te], ref.predict_proba_plain(X)[:, 1][te])
    assert any(n.left_bins for t in ref.trees_ for n in t.split_nodes())
    frame = pd.DataFrame(X, columns=names)
    lgb_params = {
        "objective": "binary",
        "learning_rate": 0.1,
        "max_depth": 5,
        "num_leaves": 32,
        "min_sum_hessian_in_leaf": 1.0,
        "lambda_l2": 1.0,
        "min_data_in_leaf": 1,
        "max_bin": 32,
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "cat_smooth": 10.0,
        "cat_l2": 10.0,
        "max_cat_threshold": 32,
        "min_data_per_group": 100,
        "max_cat_to_onehot": 4,
    }
    ds = lgb.Dataset(
        frame.iloc[tr],
        y[tr],
        categorical_feature=[n for n, c in zip(names, cat, strict=True) if c],
        params={"max_bin": 32, "verbose": -1},
    )
    bst = lgb.train(lgb_params, ds, num_boost_round=50)
    a_lgb = auc(y[te], np.asarray(bst.predict(frame.iloc[te])))
    assert abs(a_ref - a_lgb) < LGB_CAT_AUC_TOL, (a_ref, a_lgb)


# ---------------------------------------------------------------------------- federated
def _raw_tables(shared_data: Path, tmp_path: Path, n: int) -> tuple[PartyTable, PartyTable]:
    """Both sides from raw CSVs with strings and a yes/no label, through the real loaders."""
    bank, plat = credit_tables(shared_data, n, seed=3)
    bank.to_csv(tmp_path / "bank.csv", index=False)
    plat.sample(frac=1.0, random_state=1).to_csv(tmp_path / "platform.csv", index=False)
    # the bank's strongest column (this month's status) left out, so the platform's statuses
    # (categorical) take part in the first trees
    b = load_bank_table(tmp_path / "bank.csv", label_column="default", exclude_columns=["status_0"])
    p = load_served_table(ServedTable(tmp_path / "platform.csv", "id")).align_to(b.ids)
    assert set(b.categories) == {"education", "marriage"}
    assert set(p.categories) == set(PLATFORM_TEXT)
    return b, p


def _peer(tmp_path: Path, plat: PartyTable, **extras: object) -> InProcessPeer:
    manager = SessionManager(tmp_path / "platform", StaticProvider(plat), context_extras=extras)
    return InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())


def _platform_strings(plat: PartyTable, bank: PartyTable) -> set[str]:
    """The platform's category strings and names that the bank does not hold itself."""
    own = {c for cats in bank.categories.values() for c in cats} | set(bank.feature_names)
    mine = {c for cats in plat.categories.values() for c in cats} | set(plat.feature_names)
    assert {"male", "female", "sex"} <= mine - own
    return mine - own


@pytest.mark.parametrize(
    ("privacy", "params"),
    [
        ("standard", {"n_estimators": 4, "max_depth": 3}),
        ("hardened", {"n_estimators": 4, "max_depth": 4}),
        ("strict", {"n_estimators": 2, "max_depth": 3}),
    ],
)
def test_federated_categorical_equals_reference(
    shared_data: Path, tmp_path: Path, privacy: str, params: dict[str, Any]
) -> None:
    bank, plat = _raw_tables(shared_data, tmp_path, 1500)
    tr, te = train_test_rows(bank.n_rows)
    params = {**params, "privacy": privacy, "min_data_per_group": 20, "cat_smooth": 5.0}
    peer = RecordingPeer(_peer(tmp_path, plat, secureboost_noise_scale="0"))
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS).fit(
        bank, peer, rows=tr, validation_rows=te, job_id=f"cat-{privacy}"
    )
    # no message from the platform carries one of its category strings or names
    secret = _platform_strings(plat, bank)
    for message in peer.transcript.to_active():
        for _path, leaf in iter_values(message):
            assert not (isinstance(leaf, str) and leaf in secret), leaf
    assert any(
        isinstance(m, SbInitResponse) and any(m.categorical) for m in peer.transcript.to_active()
    )
    cat = np.concatenate([bank.categorical_mask(), plat.categorical_mask()])
    ref = SecureBoostReference(**params).fit(
        joined(bank, plat),
        np.asarray(bank.y),
        n_bank_features=bank.n_features,
        categorical=cat,
        train_rows=tr,
    )
    assert [t.structure() for t in clf.trees_] == [t.structure() for t in ref.trees_]
    nodes = [n for t in clf.trees_ for n in t.split_nodes()]
    # (strict: the bank's categorical features lose to its numeric ones on this table)
    assert privacy == "strict" or any(n.left_bins and n.owner == "bank" for n in nodes)
    assert any(n.left_bins and n.owner == "platform" for n in nodes)
    # EINI prediction (set membership at the platform) equals plaintext routing of bins
    raw = clf.decision_function(
        bank.take(te), peer, platform_dataset="x", job_id=f"cat-{privacy}-p"
    )
    np.testing.assert_allclose(raw, ref.decision_function_plain(joined(bank, plat)[te]), atol=1e-6)
    # the bank's model file keeps no platform category or name; the platform part does
    path = tmp_path / "bank_model.json"
    clf.save_model(path)
    text = path.read_text()
    assert not [s for s in _platform_strings(plat, bank) if json.dumps(s) in text]
    assert "bank_categories" in text and '"university"' in text
    loaded = SecureBoostClassifier.load_model(path)
    np.testing.assert_allclose(
        loaded.decision_function(
            bank.take(te), peer, platform_dataset="x", job_id=f"cat-{privacy}-q"
        ),
        raw,
        atol=1e-9,
    )
    parts = list((tmp_path / "platform").rglob(f"cat-{privacy}.json"))
    part = [p for p in parts if "models" in p.parts]
    assert part and any(json.dumps(c) in part[0].read_text() for c in plat.categories["status_2"])


def test_unseen_categories_score_as_missing(shared_data: Path, tmp_path: Path) -> None:
    bank, plat = _raw_tables(shared_data, tmp_path, 1200)
    tr, te = train_test_rows(bank.n_rows)
    params = {"n_estimators": 2, "max_depth": 3, "min_data_per_group": 20, "cat_smooth": 5.0}
    peer = _peer(tmp_path, plat)
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS).fit(
        bank, peer, rows=tr, job_id="cat-unseen"
    )
    # the bank's table at scoring: a new education category, and re-sorted categories
    rows = bank.take(te[:40])
    j = rows.feature_names.index("education")
    cats = rows.categories["education"]
    new_cats = ("aaa new", *cats)
    X = rows.X.copy()
    X[:, j] = np.where(np.isnan(X[:, j]), np.nan, X[:, j] + 1)  # same strings, new codes
    X[:5, j] = 0.0  # "aaa new": unseen in training
    later = PartyTable(
        rows.ids,
        X,
        rows.feature_names,
        rows.feature_groups,
        rows.y,
        dict(rows.meta),
        {**rows.categories, "education": new_cats},
    )
    missing = rows.X.copy()
    missing[:5, j] = np.nan
    as_missing = PartyTable(
        rows.ids,
        missing,
        rows.feature_names,
        rows.feature_groups,
        rows.y,
        dict(rows.meta),
        dict(rows.categories),
    )
    a = clf.decision_function(later, peer, platform_dataset="x", job_id="cat-unseen-a")
    b = clf.decision_function(as_missing, peer, platform_dataset="x", job_id="cat-unseen-b")
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_platform_set_decisions_follow_the_current_categories() -> None:
    body = {
        "splits": {
            "1": {
                "feature_name": "sector",
                "threshold": None,
                "missing_left": False,
                "categories": ["mining", "retail"],
            },
            "2": {"feature_name": "x", "threshold": 1.5, "missing_left": True},
        }
    }
    splits = PlatformSplits.from_part(body)
    cats = {"sector": ("agri", "mining", "new one", "retail")}
    X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, np.nan], [3.0, 1.0], [np.nan, 0.0]])
    dec = splits.decisions(X, ["sector", "x"], cats)
    assert dec[:, 0].tolist() == [False, True, False, True, False]
    assert dec[:, 1].tolist() == [True, False, True, True, True]
    with pytest.raises(Exception, match="not categorical"):
        splits.decisions(X, ["sector", "x"], {})


def test_served_table_config_declares_categorical_columns(tmp_path: Path) -> None:
    from platform_node.config import PlatformConfig
    from platform_node.node import data_provider

    pd.DataFrame({"id": ["a", "b"], "sector": [11, 12], "x": [1.0, 2.0]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    (tmp_path / "platform.toml").write_text(
        '[platform]\ndata_dir = "var"\n[platform.known_parties]\nbank-a = "bank"\n'
        '[platform.tables.t]\npath = "t.csv"\nid_column = "id"\n'
        'categorical_columns = ["sector"]\n'
    )
    config = PlatformConfig.load(tmp_path / "platform.toml", plaintext=True)
    provider = data_provider(config)
    table = provider.load("t", Caller("bank-a", "bank"), {})
    assert table.categories == {"sector": ("11", "12")}
