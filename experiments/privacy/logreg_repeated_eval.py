"""LR attack: repeated ``eval`` / prediction calls on rows outside the training set.

The old ``scores(purpose="eval")`` answered ``wx_p`` for any aligned rows, any number of times.
A bank that asks for every aligned row after every epoch gets one vector ``X_p w_p^(t)`` per
weight state: asking twice between two updates gives nothing new, but every update adds a
direction until the column space of ``X_p`` on rows it never trained on is spanned.

Input: a :class:`~experiments.privacy.logreg_view.BankView` (``per_row_vectors`` holds the
eval answers; ``final_partial`` the final model's partial score on every row the bank may
score: the product) and the raw platform features (truth).

Figure: ``R^2`` of the recovered raw platform features on the aligned rows outside training
(minus ``k = 50`` rows whose raw platform values the bank knows), mean over features, best
predictor per feature; ``details.directions``: independent directions of ``X_p`` revealed on
those rows. Baseline: the same predictors from the bank's features, labels **and the final
model's partial score** (one direction: the product reveals it anyway), fitted on the same
rows. Rule: leak if recovered - baseline > 0.02.

Entry points: ``attack(view, X_p, target_rows, k)`` and ``result(...)``.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.logreg_colspace import attack as colspace_attack
from experiments.privacy.logreg_new_flow import new_run
from experiments.privacy.logreg_old_flow import Scenario, old_run, split_rows
from experiments.privacy.logreg_recover import numerical_rank
from experiments.privacy.logreg_view import BankView

TOLERANCE = 0.02
KNOWN = 50


def directions(view: BankView, rows: np.ndarray) -> int:
    """Independent directions the per-row vectors that cover all ``rows`` reveal there."""
    M = view.revealed(rows)
    M = M[:, np.all(np.isfinite(M), axis=0)]
    return numerical_rank(M) if M.shape[1] else 0


def result(
    view: BankView,
    X_p: np.ndarray,
    target_rows: np.ndarray,
    protocol: str,
    variant: str,
    k: int = KNOWN,
    seed: int = 0,
) -> AttackResult:
    """One report row: recovery on ``target_rows`` (rows outside training) with ``k`` known."""
    t0 = time.perf_counter()
    fig = colspace_attack(view, X_p, k, target=target_rows, seed=seed, complete_only=True)
    rule, leak = gap_rule(fig.recovered, fig.baseline, TOLERANCE)
    final = view.final_partial is not None and bool(
        np.all(np.isfinite(np.asarray(view.final_partial)[target_rows]))
    )
    details = {
        "figure": "mean R^2 of the raw platform features on aligned rows outside training",
        "k": k,
        "scored_rows": int(len(target_rows) - k),
        "directions": directions(view, np.asarray(target_rows)),
        "baseline_directions": 1 if final else 0,
        "baseline_includes_final_score": final,
        "per_feature_recovered": fig.per_feature_recovered,
        "per_feature_baseline": fig.per_feature_baseline,
        "baseline_bank_only": fig.details.get("baseline_bank_only"),
        "eval_calls": sum(
            1 for v in view.per_row_vectors if np.all(np.isfinite(v[np.asarray(target_rows)]))
        ),
        "seconds": round(time.perf_counter() - t0, 2),
        **{f"view_{key}": val for key, val in view.notes.items()},
    }
    return AttackResult(
        protocol, f"repeated-eval-k{k}", variant, fig.recovered, fig.baseline, rule, leak, details
    )


def run(quick: bool = False) -> list[AttackResult]:
    sc = Scenario.of(quick, n_validation=500 if quick else 3000)
    _, _, rest = split_rows(sc)
    out = []
    for mode in ("paillier", "ckks"):
        run_ = old_run(sc, mode, probe_all=True)
        out.append(result(run_.view, run_.X_p, rest, f"logreg-{mode}", "before"))
        new = new_run(sc, mode, score_rest=True)
        out.append(result(new.view, new.X_p, rest, f"logreg-{mode}", mode))
    return out
