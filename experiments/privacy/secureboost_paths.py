"""Attack (d): the platform learns the bank's decisions from the row sets it receives.

At a bank split the platform should learn nothing: neither the feature nor which rows go which
way. But the rows of the next level's nodes reach it (it builds their histograms), and a parent
minus one child gives the other child, so in the standard mode it learns, for most rows, the
side they took at most bank splits: the bank's partition of its own data.

``recovered`` is the fraction of (bank split, training row in the split node) decisions that
the platform can determine from the node row sets it received or derived; the baseline is 0
(without row sets it determines none: guessing is right half of the time, which is no
knowledge). ``details`` also give the fraction of (tree, row) pairs (rows that meet at least one
bank split in the tree) whose whole path through the tree's bank splits the platform knows.

Run alone: ``python -m experiments.privacy.secureboost_paths [--quick]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.secureboost_common import (
    MODES,
    PROTOCOL,
    Observation,
    node_rows,
    observe,
    platform_sets,
)

TOLERANCE = 0.01


def attack(obs: Observation) -> AttackResult:
    from models.secureboost.tree import BANK, left_child, right_child

    sets = platform_sets(obs)
    known_decisions = 0
    total_decisions = 0
    paths_known = 0
    paths_total = 0
    for t, tree in enumerate(obs.trees):
        truth = node_rows(obs, t)
        seen = sets.get(t, {})
        unknown_rows: set[int] = set()
        through_bank: set[int] = set()
        for node in tree.split_nodes():
            if node.owner != BANK:
                continue
            rows = truth[node.node_id]
            total_decisions += rows.size
            children = [seen.get(left_child(node.node_id)), seen.get(right_child(node.node_id))]
            knows = np.zeros(rows.size, dtype=bool)
            for child in children:
                if child is not None:
                    knows |= np.isin(rows, child)
            known_decisions += int(knows.sum())
            unknown_rows.update(rows[~knows].tolist())
            through_bank.update(rows.tolist())
        paths_total += len(through_bank)
        paths_known += len(through_bank - unknown_rows)
    recovered = known_decisions / max(1, total_decisions)
    rule, leak = gap_rule(recovered, 0.0, TOLERANCE)
    return AttackResult(
        protocol=PROTOCOL,
        attack="bank-split-decisions",
        variant=obs.mode,
        recovered=recovered,
        baseline=0.0,
        rule=rule,
        leak=leak,
        details={
            "what": "fraction of (bank split, row) decisions the platform determines from the "
            "node row sets it received or derived",
            "bank_split_decisions": int(total_decisions),
            "known_decisions": int(known_decisions),
            "rows_with_whole_bank_path_known": round(paths_known / max(1, paths_total), 4),
            **obs.settings,
        },
    )


def run(quick: bool = False) -> list[AttackResult]:
    return [attack(observe(mode, quick)) for mode in MODES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    for r in run(args.quick):
        print(
            f"{r.variant:9s} {r.attack}: {r.recovered:.4f} (baseline {r.baseline:.4f}) "
            f"whole paths known: {r.details['rows_with_whole_bank_path_known']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
