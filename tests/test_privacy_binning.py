"""Privacy attacks on federated binning (quick versions of experiments/privacy/binning_counts.py).

The exact variant is today's documented disclosure, so the attacks must detect it (the attack
works); the DP variant must hold them at the noise the stated epsilon allows. Fails if a leak
comes back or if an attack stops seeing the documented one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.binning_counts import PROTOCOL, run
from experiments.privacy.common import AttackResult


@pytest.fixture(scope="module")
def results(shared_data: Path) -> dict[tuple[str, str], AttackResult]:
    rows = run(quick=True)
    assert all(r.protocol == PROTOCOL for r in rows)
    return {(r.attack, r.variant): r for r in rows}


def test_listed_in_the_benchmark() -> None:
    assert "binning_counts" in ATTACK_MODULES


def test_exact_counts_are_recovered(results: dict[tuple[str, str], AttackResult]) -> None:
    r = results[("bin-counts", "exact")]
    assert r.leak and r.recovered == 1.0 and r.baseline < 0.2
    pin = results[("row-pinning", "exact")]
    assert pin.leak and pin.recovered == 1.0  # the documented disclosure pins a lone event


def test_dp_counts_carry_noise_of_the_stated_scale(
    results: dict[tuple[str, str], AttackResult],
) -> None:
    r = results[("bin-counts", "dp-eps1")]
    assert not r.leak, r.details
    assert 0.8 <= r.details["rmse_over_noise_std"] <= 1.25
    assert r.details["platform_record"]["epsilon"] == 1.0
    pin = results[("row-pinning", "dp-eps1")]
    assert not pin.leak and pin.recovered <= pin.details["dp_bound"] + 0.05


def test_woe_exchange_lone_labels(results: dict[tuple[str, str], AttackResult]) -> None:
    # documented disclosure: the platform reads the label of a company alone in a bin from the
    # WOE it receives; noise on the counts does not help (the platform knows its own noise)
    for variant in ("exact", "dp-eps1"):
        r = results[("woe-lone-labels", variant)]
        assert r.leak and r.details["lone_companies"] >= 5 and r.recovered >= 0.9
