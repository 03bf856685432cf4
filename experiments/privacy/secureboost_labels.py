"""Attack (b): the platform labels the training rows from the node row sets it receives.

SecureBoost's known disclosure (FATE issue #1171): the platform receives the rows of every node
it builds a histogram for and of every node it splits, so it can group the training rows by the
bank's splits. Per tree, rows that fall in exactly the same received (or derived) sets form a
group. The attack is scored as an **oracle upper bound**:

- ``per tree``: each row gets its group's true default rate (the best ordering of the groups
  the platform can form; in-sample, as in the issue);
- ``cumulative``: over the whole run, each row gets the sum over trees of the log-odds of its
  group's default rate, the rates estimated on the other half of the rows (2-fold: a platform
  that knows half the labels, e.g. from court enforcement records, labels the other half).

``recovered`` is the larger of the best per-tree AUC and the cumulative AUC; the baseline is
0.5 (no groups). In the hardened and strict modes the platform receives no row set, so every
tree leaves one group.

A second row measures what the platform learns from *which* of its own cuts the bank chooses
(its feature, bin and missing direction at each platform split, which every mode reveals): the
same cumulative oracle over the groups those cuts form on all training rows, against the same
number of random cuts of its features per tree. The cuts are the platform's own data; what the
choice tells it is where its data predicts the label.

Run alone: ``python -m experiments.privacy.secureboost_labels [--quick]``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.secureboost_common import (
    MODES,
    PROTOCOL,
    Observation,
    atoms,
    auc_of,
    observe,
    platform_sets,
)

TOLERANCE = 0.05


def group_auc(y: np.ndarray, group: np.ndarray) -> float:
    """AUC of scoring each row by its group's (in-sample) default rate."""
    sums = np.bincount(group, weights=y)
    counts = np.bincount(group)
    return auc_of(y, sums[group] / counts[group])


def cumulative_auc(
    y: np.ndarray, groupings: list[np.ndarray], seed: int = 0, prior: float = 2.0
) -> float:
    """Sum over groupings of the smoothed log-odds of each row's group, estimated on the other
    fold (2-fold cross-fitting); the AUC within each fold (scores of one fold come from the
    same estimates), averaged over the two folds."""
    if not groupings:
        return 0.5
    n = y.size
    fold = np.random.default_rng(seed).permutation(n) % 2
    base = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    score = np.zeros(n)
    for group in groupings:
        for k in (0, 1):
            known = fold != k
            sums = np.bincount(group[known], weights=y[known], minlength=group.max() + 1)
            counts = np.bincount(group[known], minlength=group.max() + 1)
            rate = (sums + prior * base) / (counts + prior)
            rate = np.clip(rate, 1e-6, 1 - 1e-6)
            target = fold == k
            score[target] += np.log(rate[group[target]] / (1 - rate[group[target]]))
    return float(np.mean([auc_of(y[fold == k], score[fold == k]) for k in (0, 1)]))


def membership_groups(obs: Observation) -> list[np.ndarray]:
    """Per tree, the group of every training row (positions in ``obs.train`` order)."""
    sets = platform_sets(obs)
    n_total = obs.y.size
    out = []
    for t in range(len(obs.trees)):
        known = list(sets.get(t, {}).values())
        out.append(np.unique(atoms(known, n_total, seed=t)[obs.train], return_inverse=True)[1])
    return out


def choice_groups(obs: Observation, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Per tree, groups formed by the platform's chosen cuts on all training rows; with ``rng``,
    by as many random cuts (feature, bin, missing direction) instead."""
    from models.secureboost.tree import PLATFORM, bin_decision

    codes = obs.platform_codes[obs.train]
    out = []
    for tree in obs.trees:
        cuts = [
            (n.feature, n.bin, n.missing_left) for n in tree.split_nodes() if n.owner == PLATFORM
        ]
        if rng is not None:
            feats = rng.integers(0, codes.shape[1], size=len(cuts))
            cuts = [
                (int(f), int(rng.integers(0, obs.platform_value_bins[f])), bool(rng.integers(0, 2)))
                for f in feats
            ]
        sides = [
            np.flatnonzero(bin_decision(codes[:, f], b, ml, obs.missing_code)) for f, b, ml in cuts
        ]
        out.append(atoms(sides, codes.shape[0], seed=len(out)))
    return out


def attack(obs: Observation) -> list[AttackResult]:
    y = obs.y[obs.train]
    groups = membership_groups(obs)
    per_tree = [group_auc(y, g) for g in groups]
    n_groups = [int(g.max()) + 1 for g in groups]
    cumulative = cumulative_auc(y, groups)
    recovered = max(max(per_tree, default=0.5), cumulative)
    rule, leak = gap_rule(recovered, 0.5, TOLERANCE)
    membership = AttackResult(
        protocol=PROTOCOL,
        attack="label-from-node-rows",
        variant=obs.mode,
        recovered=recovered,
        baseline=0.5,
        rule=rule,
        leak=leak,
        details={
            "what": "oracle AUC of labelling training rows from the groups formed by the node "
            "row sets the platform received (max of best single tree, in-sample, and the whole "
            "run, 2-fold cross-fitted)",
            "auc_per_tree": [round(a, 4) for a in per_tree],
            "auc_tree0": round(per_tree[0], 4) if per_tree else None,
            "auc_best_tree": round(max(per_tree, default=0.5), 4),
            "auc_cumulative": round(cumulative, 4),
            "groups_per_tree": n_groups,
            "model_test_auc": round(obs.test_auc, 4),
            "train_seconds": round(obs.seconds, 1),
            **obs.settings,
        },
    )
    chosen = cumulative_auc(y, choice_groups(obs, None))
    random_cuts = float(
        np.mean([cumulative_auc(y, choice_groups(obs, np.random.default_rng(s))) for s in range(3)])
    )
    rule2, leak2 = gap_rule(chosen, random_cuts, TOLERANCE)
    choice = AttackResult(
        protocol=PROTOCOL,
        attack="label-from-split-choice",
        variant=obs.mode,
        recovered=chosen,
        baseline=random_cuts,
        rule=rule2,
        leak=leak2,
        details={
            "what": "oracle AUC (2-fold cross-fitted, whole run) of the groups formed on all "
            "training rows by the platform cuts the bank chose; baseline: as many random cuts "
            "of the platform's features per tree (mean of 3 draws). Inherent to every mode: "
            "the platform applies its own splits.",
            "platform_splits": int(sum(len(t.platform_split_ids()) for t in obs.trees)),
        },
    )
    return [membership, choice]


def run(quick: bool = False) -> list[AttackResult]:
    out: list[AttackResult] = []
    for mode in MODES:
        out.extend(attack(observe(mode, quick)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    for r in run(args.quick):
        extra: dict[str, Any] = {
            k: v for k, v in r.details.items() if k.startswith("auc_") and k != "auc_per_tree"
        }
        value = r.recovered if math.isfinite(r.recovered) else float("nan")
        print(f"{r.variant:9s} {r.attack:24s} {value:.4f} (baseline {r.baseline:.4f}) {extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
