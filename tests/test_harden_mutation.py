"""The mutation check of the security checks (issue 14 row 13), run by ``make test-all``.

``experiments/mutation_check.py`` disables each authorisation, consent, size-limit, model-part,
certificate and replay check in a temporary copy of the tree and runs the tests that guard it;
every mutant must be killed (or be listed as equivalent, with the reason)."""

from __future__ import annotations

import pytest

from experiments import mutation_check as mc


def test_every_mutant_still_applies_to_the_source() -> None:
    """Cheap guard (every ``make test``): a refactoring that moves a check breaks this test
    instead of silently leaving the mutation check testing nothing."""
    names = [m.name for m in mc.MUTANTS]
    assert len(names) == len(set(names))
    for m in mc.MUTANTS:
        mc.check_applies(m)
        assert m.tests, m.name
    assert set(mc.EQUIVALENT) <= set(names)
    assert set(mc.SURVIVED_BEFORE) <= set(names)
    for required in (
        "body_size_limit_removed",
        "role_contradicting_registration_accepted",
        "another_banks_model_part_accepted",
        "consent_check_skipped_by_scorer",
        "part_signature_check_skipped",
        "ca_constraints_relaxed",
        "revocation_list_ignored",
        "replay_with_another_body_after_the_cache",
    ):
        assert required in names


@pytest.mark.slow
@pytest.mark.timeout(5400)  # ~35 mutants, each running its guarding tests (15-120 s each)
def test_mutation_check_kills_every_mutant(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outcomes = mc.run()
    summary = mc.write_results(outcomes, tmp_path)
    assert summary["baseline"] == "passed", outcomes[0].detail
    assert not summary["errors"], [o.detail for o in outcomes if o.status == "error"]
    assert not summary["survived"], summary["survived"]
