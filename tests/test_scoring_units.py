"""Scoring pieces without servers: assembly, reasons, points and bands, model store, feature
sources, settings, batch input, the platform's feature cache and adverse categories."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bank_node.scoring.assembler import (
    Assembled,
    PointsScale,
    RiskBands,
    TreeExplainer,
    linear_assemble,
    node_expectations,
    rank_reasons,
)
from bank_node.scoring.batch import read_batch_input
from bank_node.scoring.features import TableSource, feature_vector
from bank_node.scoring.model_store import ModelStore
from bank_node.scoring.settings import ScoringSettings
from experiments.support.scoring import (
    TEST_APPROVAL,
    StaticProvider,
    serve_approved,
    synthetic_tables,
    train_models,
)
from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument, NotFound
from models.federation.party import Caller
from models.logreg.scoring import adverse_categories
from models.secureboost.predict import raw_scores
from models.secureboost.tree import BANK, PLATFORM, Node, Tree
from platform_node.scoring.features import FeatureRows, IndexedTable


def _tree() -> Tree:
    """root: bank f0 <= 0.5; left: platform split 7 (category via feature 1); right: leaf."""
    nodes = [
        Node(0, 0, is_leaf=False, owner=BANK, feature=0, threshold=0.5, missing_left=True, hess=10),
        Node(1, 1, is_leaf=False, owner=PLATFORM, feature=1, split_id=7, hess=6),
        Node(2, 1, value=0.3, hess=4),
        Node(3, 2, value=-0.2, hess=2),
        Node(4, 2, value=0.5, hess=4),
    ]
    return Tree(index=0, nodes={n.node_id: n for n in nodes})


def test_node_expectations_are_cover_weighted() -> None:
    e = node_expectations(_tree())
    assert e[1] == pytest.approx((-0.2 * 2 + 0.5 * 4) / 6)
    assert e[0] == pytest.approx((e[1] * 6 + 0.3 * 4) / 10)


def test_tree_explainer_attributes_what_the_bank_knows() -> None:
    """Bank splits: the change of the expected leaf value they cause; platform splits are
    averaged by training cover; the rest of the margin is one platform factor."""
    explainer = TreeExplainer([_tree()], 0.1, ["bank_a"])
    e = node_expectations(_tree())
    # bank goes left (0.2 <= 0.5): below the platform split, platform went right (leaf 0.5)
    got = explainer.assemble(np.asarray([0.2]), 0.1 + 0.5)
    assert got.log_odds == pytest.approx(0.6) and got.pd == pytest.approx(1 / (1 + math.exp(-0.6)))
    assert got.contributions[("bank", "bank_a")] == pytest.approx(e[1] - e[0])
    assert got.contributions[("platform", "platform")] == pytest.approx(0.5 - e[1])
    assert sum(got.contributions.values()) == pytest.approx(0.5 - e[0])  # Saabas' total
    # bank goes right: a leaf with no platform split above it, the platform adds nothing
    right = explainer.assemble(np.asarray([0.9]), 0.1 + 0.3)
    assert right.contributions[("bank", "bank_a")] == pytest.approx(0.3 - e[0])
    assert right.contributions[("platform", "platform")] == pytest.approx(0.0, abs=1e-15)
    # a missing bank value goes the default (left) way
    missing = explainer.bank_view(np.asarray([np.nan]))[1]
    assert missing == pytest.approx(e[1])
    reasons = rank_reasons(got, 4)
    assert reasons[0].code == "P:platform" and "all categories" in reasons[0].description


def test_tree_explainer_totals_on_a_trained_model(tmp_path: Path) -> None:
    bank, plat = synthetic_tables(160, seed=3)
    trained = train_models(bank, plat, tmp_path / "p", tmp_path / "b", n_estimators=3)
    sb = trained.sb
    explainer = TreeExplainer(sb.trees_, sb.base_score_, bank.feature_names)
    ids = sb.platform_split_ids()
    rng = np.random.default_rng(0)
    decisions = rng.random((len(ids), bank.n_rows)) < 0.5
    offline = raw_scores(sb.trees_, sb.base_score_, bank.X, ids, decisions)
    roots = sum(node_expectations(t)[0] for t in sb.trees_)
    for i in range(0, bank.n_rows, 7):
        got = explainer.assemble(bank.X[i], float(offline[i]))
        total = sum(got.contributions.values())
        assert total == pytest.approx(got.log_odds - sb.base_score_ - roots, abs=1e-12)
        assert {s for s, _ in got.contributions} <= {"bank", "platform"}


def test_linear_assembly_and_reason_ranking() -> None:
    got = linear_assemble(
        np.asarray([1.0, -2.0, 0.5]),
        np.asarray([0.5, 0.25, -1.0]),
        -1.0,
        ["a", "b", "c"],
        platform_partial=0.7,
        platform_categories=["judicial", "tax"],
    )
    assert got.log_odds == pytest.approx(0.5 - 0.5 - 0.5 - 1.0 + 0.7)
    assert got.pd == pytest.approx(1 / (1 + math.exp(-got.log_odds)))
    reasons = rank_reasons(got, 4, {"a": "balance falling"})
    # bank a (+0.5) ranks below the platform block (0.7); b and c lowered the risk
    assert [(r.source, r.factor) for r in reasons] == [
        ("platform", "judicial"),
        ("platform", "tax"),
        ("bank", "a"),
    ]
    assert reasons[2].description == "balance falling" and reasons[0].code == "P:judicial"
    assert [r.rank for r in reasons] == [1, 2, 3]
    assert len(rank_reasons(got, 1)) == 1
    none = Assembled(log_odds=-3.0, pd=0.05, contributions={("bank", "a"): -1.0})
    assert rank_reasons(none, 4) == []


def test_points_and_bands() -> None:
    scale = PointsScale(600, 50, 20)
    assert scale.points(1 / 51) == pytest.approx(600)
    assert scale.points(1 / 101) == pytest.approx(620, abs=0.3)  # odds ~doubled
    assert scale.points(0.5) < scale.points(0.1) < scale.points(0.01)
    assert math.isfinite(scale.points(0.0)) and math.isfinite(scale.points(1.0))
    bands = RiskBands()
    assert [bands.band(p) for p in (0.0, 0.01, 0.03, 0.07, 0.15, 0.9)] == list("ABCDEF")
    with pytest.raises(InvalidArgument):
        RiskBands((0.2, 0.1), ("A", "B", "C"))


def test_settings_round_trip(tmp_path: Path) -> None:
    assert ScoringSettings.load(tmp_path) == ScoringSettings()
    s = ScoringSettings(key_bits=1024, max_reasons=2, risk_bands=RiskBands((0.1,), ("low", "high")))
    s.save(tmp_path)
    assert ScoringSettings.load(tmp_path) == s
    (tmp_path / "scoring" / "settings.json").write_text('{"key_bits": 512}')
    with pytest.raises(InvalidArgument):
        ScoringSettings.load(tmp_path)


def test_model_store_resolution(tmp_path: Path) -> None:
    bank, plat = synthetic_tables(120, seed=4)
    trained = train_models(bank, plat, tmp_path / "p", tmp_path / "b", n_estimators=2)
    store = ModelStore(tmp_path / "b")
    with pytest.raises(NotFound):
        store.resolve("")
    serve_approved(store, "pd", trained.sb_path, version="1")
    serve_approved(store, "pd", trained.lr_path, alias="challenger", version="2")
    assert store.resolve("").model_id == trained.sb.model_id_
    assert store.resolve("pd@2").family == "logreg"  # an approved version by number
    assert store.resolve("pd").model_id == trained.sb.model_id_
    assert store.resolve("pd@challenger").family == "logreg"
    assert store.resolve(trained.lr.model_id_).version == "2"
    with pytest.raises(NotFound):
        store.resolve("pd@nope")
    loaded = store.load("pd@champion")
    assert loaded.model.bank_features == bank.feature_names and loaded.source is None
    assert store.load("pd@champion") is loaded  # cached
    # a promotion is picked up from the file by another store (another process)
    ModelStore(tmp_path / "b").approve("pd", "champion", trained.lr.model_id_, TEST_APPROVAL)
    assert store.resolve("pd").family == "logreg"
    assert "pd@challenger" not in store.aliases()  # the challenger became champion
    with pytest.raises(InvalidArgument):
        store.register("a@b", trained.sb_path)
    # one part served under another name keeps its own settings; the first entry is unchanged
    serve_approved(store, "pd-frozen", trained.sb_path, as_of="2022-01-01")
    assert store.resolve("pd-frozen").as_of == "2022-01-01"
    assert store.resolve("pd@1").as_of == ""
    assert store.resolve("").name == "pd"  # another model's champion stays the default


def test_model_store_concurrent_first_loads_load_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Officers racing on a cold model share one load (one adapter, one coalescer)."""
    import threading

    import bank_node.scoring.model_store as model_store

    bank, plat = synthetic_tables(120, seed=5)
    trained = train_models(bank, plat, tmp_path / "p", tmp_path / "b", n_estimators=2)
    store = ModelStore(tmp_path / "b")
    serve_approved(store, "pd", trained.sb_path, version="1")
    calls: list[int] = []
    real = model_store.load_bank_model
    gate = threading.Barrier(8)

    def counting(path: Path) -> object:
        calls.append(1)
        return real(path)

    monkeypatch.setattr(model_store, "load_bank_model", counting)
    out: list[object] = []

    def officer() -> None:
        gate.wait()
        out.append(store.load("pd@champion"))

    threads = [threading.Thread(target=officer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(out) == 8 and all(o is out[0] for o in out)
    with pytest.raises(InvalidArgument):
        store.register("x", trained.sb_path, as_of="2022/01/01")


def test_bank_feature_vector(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    pd.DataFrame(
        {"id": ["c1", "c2"], "app": ["a1", "a2"], "x": [1.0, 2.0], "y": [3.0, None]}
    ).to_csv(path, index=False)
    src = TableSource(path, "id", "app")
    day = dt.date(2025, 1, 1)
    np.testing.assert_array_equal(feature_vector(["y", "x"], src, "c1", "", {}, day), [3.0, 1.0])
    got = feature_vector(["x", "y", "z"], src, "c2", "a2", {"z": 5.0}, day)
    np.testing.assert_array_equal(got, [2.0, np.nan, 5.0])
    assert feature_vector(["x"], src, "c1", "", {"x": 9.0}, day)[0] == 9.0
    with pytest.raises(NotFound):
        feature_vector(["x"], src, "c3", "", {}, day)  # no record, no fields
    with pytest.raises(NotFound):
        feature_vector(["x"], src, "c1", "a9", {}, day)
    with pytest.raises(InvalidArgument):
        feature_vector(["x"], src, "c1", "", {"w": 1.0}, day)
    np.testing.assert_array_equal(feature_vector(["x"], None, "c9", "", {"x": 1.0}, day), [1.0])


def test_batch_input_formats(tmp_path: Path) -> None:
    txt = tmp_path / "a.txt"
    txt.write_text("C1\n# comment\n\n C2  # trailing\n")
    assert [r.uscc for r in read_batch_input(txt)] == ["C1", "C2"]
    csv = tmp_path / "a.csv"
    pd.DataFrame({"uscc": ["C1", "C2"], "application_id": ["A1", ""]}).to_csv(csv, index=False)
    rows = read_batch_input(csv)
    assert [(r.uscc, r.application_id) for r in rows] == [("C1", "A1"), ("C2", "")]
    pd.DataFrame({"code": ["C1"]}).to_csv(csv, index=False)
    with pytest.raises(InvalidArgument):
        read_batch_input(csv)
    with pytest.raises(NotFound):
        read_batch_input(tmp_path / "missing.txt")


def test_platform_feature_rows_cached_per_bank_and_date() -> None:
    table = PartyTable(
        ids=np.asarray(["c1", "c2"]),
        X=np.asarray([[1.0, 2.0], [3.0, np.nan]]),
        feature_names=["f", "g"],
        feature_groups=["tax", "judicial"],
    )
    provider = StaticProvider(table)
    rows = FeatureRows(provider, max_tables=2)
    bank = Caller("bank-a", "bank")
    t = rows.table("catalogue", bank, "2025-01-01")
    assert rows.table("catalogue", bank, "2025-01-01") is t and provider.loads == 1
    rows.table("catalogue", Caller("bank-b", "bank"), "2025-01-01")
    rows.table("catalogue", bank, "2025-01-02")
    assert provider.loads == 3
    rows.table("catalogue", bank, "2025-01-01")  # evicted (LRU of 2), loaded again
    assert provider.loads == 4
    np.testing.assert_array_equal(t.values("c2", ["g", "f"]), [np.nan, 3.0])
    with pytest.raises(NotFound):
        t.row("c3")
    with pytest.raises(FailedPrecondition):
        t.values("c1", ["h"])
    assert isinstance(t, IndexedTable)


def test_adverse_categories_names_only() -> None:
    groups = ["tax", "tax", "judicial", "utilities"]
    terms = np.asarray([0.2, 0.3, 0.4, -0.1])
    assert adverse_categories(groups, terms, 5) == ["tax", "judicial"]
    assert adverse_categories(groups, terms, 1) == ["tax"]
    assert adverse_categories(groups, -terms, 5) == ["utilities"]
    assert adverse_categories(groups, terms, 0) == []


def test_loanbook_source_matches_the_training_table(tmp_path: Path) -> None:
    from bank_node.loanbook.loader import load_loanbook_table, window_applications
    from bank_node.scoring.features import LoanBookSource
    from experiments.synthetic_city import generate_city

    generate_city(400, seed=5, out_dir=tmp_path / "city")
    bank_dir = tmp_path / "city" / "bank"
    day = dt.date(2022, 1, 1)
    apps, _ = window_applications(bank_dir, day)
    table = load_loanbook_table(bank_dir, day)
    assert table.n_rows == len(apps) > 3
    src = LoanBookSource(bank_dir)
    for i in range(min(6, table.n_rows)):
        uscc, app = str(apps["uscc"][i]), str(apps["application_id"][i])
        got = feature_vector(table.feature_names, src, uscc, app, {}, day)
        np.testing.assert_allclose(got, table.X[i], rtol=0, atol=1e-12, equal_nan=True)
    # without an application: the company's own features, application terms missing
    uscc = str(apps["uscc"][0])
    no_app = feature_vector(table.feature_names, src, uscc, "", {}, day)
    assert np.isnan(no_app[table.feature_names.index("app_amount")])
    with pytest.raises(NotFound):  # an application of another company
        feature_vector(table.feature_names, src, uscc, str(apps["application_id"][1]), {}, day)
