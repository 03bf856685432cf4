"""Attack (c), quick version: the bank pins platform features into quantile bins from what
prediction shows it. The decision-bit protocol must be detected as leaking (so the attack is
shown to work); EINI prediction must stay at the baseline (what the margin alone allows)."""

from __future__ import annotations

import pytest

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.common import AttackResult
from experiments.privacy.secureboost_predict import ATTACK, PROTOCOL, run


@pytest.fixture(scope="module")
def results() -> dict[str, AttackResult]:
    return {r.variant: r for r in run(quick=True)}


def test_registered() -> None:
    assert "secureboost_predict" in ATTACK_MODULES


def test_decision_bits_leak_and_eini_does_not(results: dict[str, AttackResult]) -> None:
    standard, secure = results["standard-predict"], results["secure-predict"]
    for r in (standard, secure):
        assert r.protocol == PROTOCOL and r.attack == ATTACK
        assert r.to_json()["rule"].startswith("leak if")
    assert standard.leak and standard.recovered > standard.baseline + 0.05
    assert not secure.leak
    assert secure.recovered <= secure.baseline + 0.01
    details = secure.details
    # the margins the attack decoded are the protocol's, equal to plaintext within tolerance
    assert details["max_margin_error"] <= details["eini_tolerance"] < 1e-9
