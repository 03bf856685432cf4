"""Privacy attacks: each script tries to recover the other side's data from what one party
legitimately sees, and reports the figure next to the best guess without the protocol.

One module per attack (``experiments/privacy/<family>_<attack>.py``), each exposing
``run(quick: bool = False) -> list[AttackResult]``. ``experiments/bench_privacy.py`` runs every
module listed in :data:`ATTACK_MODULES` and writes ``experiments/results/bench_privacy.{json,md}``;
the quick versions run in ``make test`` (``tests/test_privacy_*.py``), so a leak that comes back
fails CI.
"""

from __future__ import annotations

#: Attack modules run by ``experiments/bench_privacy.py``, in report order.
ATTACK_MODULES: tuple[str, ...] = (
    "binning_counts",
    "logreg_colspace",
    "logreg_gram",
    "logreg_repeated_eval",
    "logreg_val_metric",
    "logreg_ckks_lowbits",
    "logreg_ckks_noiseless",
    "secureboost_predict",
    "secureboost_bincount",
    "secureboost_labels",
    "secureboost_paths",
    "monitoring_differencing",
    "psi_membership",
    "alerts_volume",
)
