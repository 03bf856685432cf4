"""Quick version of ``experiments/privacy/logreg_val_metric.py``: the per-epoch validation
log-loss (one scalar per epoch) gives the bank no gain over the product in recovering the
platform's features, while per-row validation scores per epoch would give it all of them."""

from __future__ import annotations

from pathlib import Path

from experiments.privacy import ATTACK_MODULES
from experiments.privacy.logreg_val_metric import PROTOCOL, TOLERANCE, run


def test_val_metric_scalars_do_not_leak(shared_data: Path) -> None:
    assert "logreg_val_metric" in ATTACK_MODULES
    results = {r.variant: r for r in run(quick=True)}
    before, after = results["before"], results["paillier"]
    assert before.protocol == after.protocol == PROTOCOL
    # the attack works on per-row scores: the column space of X_p is spanned
    assert before.leak and before.recovered - before.baseline > 0.5
    # one scalar per epoch: no gain over the product
    assert not after.leak
    assert after.recovered - after.baseline <= TOLERANCE
    assert after.details["directions"] <= 2
    assert after.details["expansion_relative_error_max"] < 1e-2
