"""City-wide volume through the alert stream (quick version of
experiments/privacy/alerts_volume.py): with the earlier flow's global positions a bank counts
every other company's event between two of its alerts exactly, and the earlier progress-mark
timing alone beats guessing from elapsed time; with sealed cursors and heartbeat-clocked
progress marks it does no better than the elapsed time."""

from __future__ import annotations

import pytest

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.alerts_volume import PROTOCOL, run
from experiments.privacy.common import AttackResult


@pytest.fixture(scope="module")
def results() -> dict[str, AttackResult]:
    rows = run(quick=True)
    assert all(r.protocol == PROTOCOL for r in rows)
    return {r.variant: r for r in rows}


def test_listed_in_the_benchmark() -> None:
    assert "alerts_volume" in ATTACK_MODULES


def test_the_earlier_flow_leaks(results: dict[str, AttackResult]) -> None:
    before = results["before"]
    assert before.details["intervals"] >= 200, before.details
    assert before.leak and before.recovered > 0.99 and before.details["rmse"] == 0.0
    timing = results["before-timing"]
    assert timing.leak and timing.recovered > timing.baseline + 0.08, timing


def test_sealed_cursors_reveal_nothing_beyond_elapsed_time(
    results: dict[str, AttackResult],
) -> None:
    sealed = results["sealed-cursor"]
    assert not sealed.leak, sealed
    assert sealed.recovered < sealed.baseline + 0.05
    # no better than guessing from the elapsed time, in error as well
    assert sealed.details["rmse"] >= 0.95 * sealed.details["rmse_elapsed_time"]
