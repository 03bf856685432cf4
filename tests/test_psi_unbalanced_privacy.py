"""Unbalanced PSI's measured leakage (experiments/privacy/psi_membership.py, quick): with
the key reused, a bank re-tests its old ids against a later population offline (the attack
works); after a key rotation it cannot."""

from __future__ import annotations

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.psi_membership import run


def test_offline_retest_works_under_key_reuse_and_not_after_rotation() -> None:
    assert "psi_membership" in ATTACK_MODULES
    results = {r.variant: r for r in run(quick=True)}
    standard, rotated = results["standard"], results["rotated"]
    assert standard.details["n_changed"] >= 15
    # key reused: every changed company's current membership, no new evaluation
    assert standard.leak and standard.recovered == 1.0
    assert standard.details["evaluations_of_old_ids_in_job_2"] == 0
    # rotated: old OPRF values match nothing in the new cache
    assert not rotated.leak and rotated.recovered == 0.5
    assert not rotated.details["same_key"]
