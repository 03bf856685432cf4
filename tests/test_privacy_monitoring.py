"""Differencing attack on feature monitoring (quick version of
experiments/privacy/monitoring_differencing.py): without the differencing rule a bank reads
whether one borrower's record went missing from two adjacent populations (the attack works);
with it the adjacent query is refused. The residual through populations 50 apart is reported
and must stay well below the adjacent attack."""

from __future__ import annotations

import pytest

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.common import REMAINING_LEAKS, AttackResult
from experiments.privacy.monitoring_differencing import PROTOCOL, run


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], AttackResult]:
    rows = run(quick=True)
    assert all(r.protocol == PROTOCOL for r in rows)
    return {(r.attack, r.variant): r for r in rows}


def test_listed_in_the_benchmark() -> None:
    assert "monitoring_differencing" in ATTACK_MODULES
    assert ("monitoring", "wide-populations", "differencing-rule") in REMAINING_LEAKS


def test_adjacent_populations(results: dict[tuple[str, str], AttackResult]) -> None:
    before = results[("adjacent-populations", "before")]
    assert before.leak and before.recovered > 0.8, before.details  # the attack works
    now = results[("adjacent-populations", "differencing-rule")]
    assert not now.leak
    assert now.details["refused"] == now.details["trials"]  # every adjacent query refused


def test_wide_populations_residual(results: dict[tuple[str, str], AttackResult]) -> None:
    before = results[("adjacent-populations", "before")]
    wide = results[("wide-populations", "differencing-rule")]
    assert wide.details["refused"] == 0  # 50 apart is allowed
    assert wide.recovered < before.recovered - 0.15, (wide.recovered, before.recovered)
