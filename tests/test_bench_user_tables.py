"""The raw user tables of bench_user_tables (issue 16, item 6): shapes and mess as specified,
and the benchmark's end-to-end path on a small table."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.support.user_tables import CREDIT150K, MARKETING, user_tables


def _text(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def test_marketing_shape_has_text_columns_and_a_yes_no_label() -> None:
    bank, plat = user_tables(replace(MARKETING, rows=4000), seed=1)
    assert len(bank) == len(plat) == 4000
    assert bank.shape[1] - 2 == 8 and plat.shape[1] - 1 == 8  # id (+ label) excluded
    assert set(bank["subscribed"]) == {"yes", "no"}
    rate = float((bank["subscribed"] == "yes").mean())
    assert 0.10 < rate < 0.14
    text = [c for c in _text(bank) if c not in ("id", "subscribed")] + [
        c for c in _text(plat) if c != "id"
    ]
    assert len(text) == 9
    assert set(bank["id"]) == set(plat["id"])
    assert bank[["num0", "num1", "num2"]].isna().any().any()  # missing values on the bank side


def test_credit150k_shape_has_missing_values_and_signal() -> None:
    bank, plat = user_tables(replace(CREDIT150K, rows=6000), seed=2)
    assert bank.shape[1] - 2 == 5 and plat.shape[1] - 1 == 5
    assert 0.17 < float(bank["x0"].isna().mean()) < 0.23
    y = bank["default"].astype(int).to_numpy()
    assert 0.05 < y.mean() < 0.08
    # every column carries some signal about the label (the latent quality drives all)
    for frame in (bank, plat):
        for col in [c for c in frame.columns if c.startswith("x")]:
            v = frame[col].to_numpy(float)
            ok = ~np.isnan(v)
            assert abs(np.corrcoef(v[ok], y[ok])[0, 1]) > 0.02, col


def test_tables_are_reproducible() -> None:
    a, _ = user_tables(replace(MARKETING, rows=500), seed=3)
    b, _ = user_tables(replace(MARKETING, rows=500), seed=3)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_bench_quick_runs_end_to_end(tmp_path: Path) -> None:
    from experiments.bench_user_tables import main

    assert main(["--quick", "--rows", "1500", "--tables", "marketing", "--out", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "bench_user_tables.json").read_text())["runs"][0]
    for key in (
        "rows",
        "bank_features",
        "platform_features",
        "seconds_total",
        "seconds_per_tree",
        "auc_federated",
        "auc_lightgbm",
        "lightgbm_seconds",
    ):
        assert key in run
    assert run["auc_federated"] > 0.8 and abs(run["auc_federated"] - run["auc_lightgbm"]) < 0.05
    assert (tmp_path / "bench_user_tables.md").read_text().count("| marketing |") == 1
