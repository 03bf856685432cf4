"""The stability index against a direct numpy computation, and the alert thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from bank_node.monitoring.runner import Thresholds
from models.errors import InvalidArgument
from models.stability import alert_level, contributions, stability_index, stability_indices
from tests.monitoring_support import direct_psi


def test_index_matches_direct_numpy() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=2000)
    for shift, scale, missing in [(0.0, 1.0, 0.0), (0.3, 1.0, 0.02), (1.0, 1.5, 0.1)]:
        cur = rng.normal(shift, scale, size=1500)
        cur[rng.random(cur.size) < missing] = np.nan
        assert stability_index(ref, cur) == pytest.approx(direct_psi(ref, cur), rel=1e-12)
        assert stability_index(ref, cur, 5) == pytest.approx(direct_psi(ref, cur, 5), rel=1e-12)
        assert contributions(ref, cur).sum() == pytest.approx(stability_index(ref, cur))
    # a discrete feature: repeated deciles merge into fewer bins
    counts_ref = rng.poisson(0.3, size=800).astype(float)
    counts_cur = rng.poisson(0.9, size=800).astype(float)
    assert stability_index(counts_ref, counts_cur) == pytest.approx(
        direct_psi(counts_ref, counts_cur), rel=1e-12
    )
    both = stability_indices(np.c_[ref[:800], counts_ref], np.c_[ref[800:1600], counts_cur])
    assert both[1] == pytest.approx(direct_psi(counts_ref, counts_cur))


def test_same_distribution_is_stable_and_a_shift_is_not() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=5000)
    assert stability_index(ref, rng.permutation(ref)) == pytest.approx(0.0, abs=1e-12)
    assert stability_index(ref, rng.normal(size=5000)) < 0.02
    assert stability_index(ref, rng.normal(1.0, 1.0, size=5000)) > 0.25


def test_thresholds_raise_the_right_level() -> None:
    assert [alert_level(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "ok",
        "ok",
        "warning",
        "warning",
        "action",
        "action",
    ]
    custom = Thresholds(0.05, 0.2)
    assert [custom.level(v) for v in (0.04, 0.05, 0.2)] == ["ok", "warning", "action"]
    with pytest.raises(InvalidArgument):
        Thresholds(0.3, 0.2)
    with pytest.raises(InvalidArgument):
        alert_level(float("nan"))
    with pytest.raises(InvalidArgument):
        stability_index(np.array([np.nan]), np.array([]))


def test_categorical_index_has_one_bin_per_label() -> None:
    from models.stability import categorical_index, label_counts

    ref = np.array(["A"] * 50 + ["B"] * 30 + ["C"] * 20)
    cur = np.array(["A"] * 20 + ["B"] * 30 + ["C"] * 40 + ["D"] * 10)
    labels, p, q = label_counts(ref, cur)
    assert labels == ["A", "B", "C", "D"] and p.tolist() == [50, 30, 20, 0]
    assert q.tolist() == [20, 30, 40, 10]
    ps = np.clip(np.array([0.5, 0.3, 0.2, 0.0]), 1e-4, None)
    qs = np.array([0.2, 0.3, 0.4, 0.1])
    expected = float(np.sum((qs - ps) * np.log(qs / ps)))
    assert categorical_index(ref, cur) == pytest.approx(expected)
    assert categorical_index(ref, np.random.default_rng(0).permutation(ref)) == 0.0
