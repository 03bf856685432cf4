"""Attack (c): the bank pins platform features into quantile bins from what prediction shows it.

The bank knows, for every platform split of its model, the platform feature and the bin it
chose during training (its model file) and how many bins each platform feature has. What a
scoring protocol adds is evidence on which side of those splits each scored company falls:

- ``standard-predict`` (the earlier decision-bit protocol, re-enacted here): the platform
  answers the go-left bit of every split of the model for every company. Intersecting the
  bits' bin ranges per feature pins the company's bin whenever the model splits its feature at
  consecutive bins around it.
- ``secure-predict`` (EINI, ``models/secureboost/predict.py``): the bank receives only each
  company's margin (run through the real protocol here). The best attack we know decodes the
  margin: the bank knows its own path in every tree, so each tree's output is one of its
  bank-consistent leaves; it enumerates the combinations (meet in the middle) whose sum equals
  the margin, and keeps the platform-split directions every such combination implies (a
  company whose combinations are too many to enumerate counts as not decoded; with ``2^c``
  combinations and a margin read to ``2^-34`` over a range ``r``, about ``2^c 2^-34 / r``
  combinations match anyway, so such a path is not determined by the margin).

The figure is the fraction of (scored company, platform feature used by the model) pairs
whose bin the bank pins (one feasible value bin: if the company has a value, the bank knows
its quantile bin, i.e. its percentile range on the feature). Its
``baseline`` is the same margin-decoding attack on the *plaintext* margin, i.e. what any
protocol that gives the bank the score allows: the rule is ``leak if recovered - baseline >
0.01``. The details also give the decoding rate at coarser margin resolutions (what rounding
the margin before the bank sees it would buy).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule, shared_data

PROTOCOL = "secureboost"
ATTACK = "bin-pinning-from-prediction"
TOLERANCE = 0.01
#: Largest enumeration per half of the meet-in-the-middle decoder (companies beyond: undecoded).
MAX_HALF = 1 << 18


@dataclass
class Constraint:
    feature: int
    bin: int
    missing_left: bool
    left: bool


@dataclass
class Candidate:
    value: float
    quant: int
    constraints: list[Constraint]


def _setup(quick: bool) -> dict[str, Any]:
    """Train a model in process (1024-bit keys) and keep what the attack needs."""
    import tempfile

    import models.secureboost.passive  # noqa: F401
    from experiments.support.hetero import StaticProvider, load_hetero
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from models.secureboost.active import SecureBoostClassifier
    from models.secureboost.binning import QuantileBinner
    from models.secureboost.model_io import load_part
    from models.secureboost.passive import PLATFORM_FORMAT

    data = shared_data()
    n = 1500 if quick else 6000
    if (data / "default_credit_hetero_guest.csv").exists():
        bank, plat = load_hetero(data, "default_credit", n, seed=0)
        source = "default_credit"
    else:  # pragma: no cover - the shared data are part of the environment
        from experiments.support.scoring import synthetic_tables

        bank, plat = synthetic_tables(n, seed=0)
        source = "synthetic"
    rng = np.random.default_rng(0)
    perm = rng.permutation(bank.n_rows)
    n_score = 150 if quick else 1000
    train, scored = np.sort(perm[n_score:]), np.sort(perm[:n_score])
    # trained in the standard mode (every feature at every depth): the most platform splits, so
    # the most decision bits for the old prediction to reveal (the hardened and strict modes
    # have fewer platform splits; EINI reveals none in any mode)
    params: dict[str, Any] = {"n_estimators": 10 if quick else 25, "max_depth": 4}
    params["privacy"] = "standard"
    work = Path(tempfile.mkdtemp(prefix="attack-sb-predict-"))
    manager = SessionManager(work / "platform", StaticProvider(plat))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"))
    clf = SecureBoostClassifier(**params, n_bins=32, key_bits=1024).fit(
        bank, peer, rows=train, job_id="attack-sb-predict"
    )
    part = work / "platform" / "models" / "secureboost" / "bank-a" / "attack-sb-predict.json"
    body, _ = load_part(part, PLATFORM_FORMAT)
    binner = QuantileBinner(32).fit(plat.X[train])  # the bank learns K_f at init
    return {
        "bank": bank,
        "plat": plat,
        "peer": peer,
        "clf": clf,
        "body": body,
        "scored": scored,
        "n_bins": binner.n_value_bins,
        "source": source,
        "params": params,
    }


def _feasible(constraints: list[Constraint], n_bins: np.ndarray) -> dict[int, np.ndarray]:
    """Per constrained feature, which bins (value bins, then the missing bin) remain."""
    out: dict[int, np.ndarray] = {}
    for c in constraints:
        k = int(n_bins[c.feature])
        allowed = np.zeros(k + 1, dtype=bool)
        if c.left:
            allowed[: c.bin + 1] = True
        else:
            allowed[c.bin + 1 : k] = True
        allowed[k] = c.missing_left == c.left
        cur = out.get(c.feature)
        out[c.feature] = allowed if cur is None else cur & allowed
    return out


def _pinned(feasible: dict[int, np.ndarray]) -> set[int]:
    """Features left with exactly one value bin (the missing bin aside: a company with a
    value has its bin known)."""
    return {f for f, a in feasible.items() if int(a[:-1].sum()) == 1}


def _candidates(setup: dict[str, Any], row: int, quant_bits: int) -> list[list[Candidate]]:
    """Per tree with platform splits, the bank-consistent leaves (what the bank knows)."""
    from models.secureboost.tree import BANK, PLATFORM, value_decision

    clf = setup["clf"]
    x = setup["bank"].X[row]
    out = []
    for tree in clf.trees_:
        if not tree.platform_split_ids():
            continue
        cands = []
        for leaf in tree.leaves():
            ok, cons, child = True, [], leaf.node_id
            while child:
                parent = (child - 1) // 2
                node, left = tree.nodes[parent], child == 2 * parent + 1
                if node.owner == BANK:
                    go = bool(value_decision(x[node.feature : node.feature + 1], node.threshold,
                                             node.missing_left)[0])  # fmt: skip
                    ok = ok and go == left
                elif node.owner == PLATFORM:
                    cons.append(Constraint(node.feature, node.bin, node.missing_left, left))
                child = parent
            if ok:
                q = int(np.round(leaf.value * 2.0**quant_bits))
                cands.append(Candidate(leaf.value, q, cons))
        out.append(cands)
    return out


def _combos(values: list[np.ndarray]) -> np.ndarray | None:
    """All sums over one choice per list (mixed-radix order), or None when too many."""
    total = 1
    for v in values:
        total *= v.size
    if total > MAX_HALF:
        return None
    sums = np.zeros(1, dtype=values[0].dtype if values else np.float64)
    for v in values:
        sums = np.add.outer(sums, v).reshape(-1)
    return sums


def _decode(
    cands: list[list[Candidate]], target: float, exact: int | None, resolution: float
) -> list[list[int]] | None:
    """Every choice of one candidate per tree whose sum matches the margin.

    ``exact``: the quantised integer sum (EINI's deterministic read-out), else ``target`` is
    matched within ``resolution``. None: too many combinations to enumerate.
    """
    ambiguous = [k for k, c in enumerate(cands) if len(c) > 1]
    fixed = [k for k, c in enumerate(cands) if len(c) == 1]
    if exact is not None:
        base_q = sum(cands[k][0].quant for k in fixed)
        vals = [np.asarray([c.quant for c in cands[k]], dtype=np.int64) for k in ambiguous]
        goal: float = float(exact - base_q)
        tol = 0.5
    else:
        base_v = sum(cands[k][0].value for k in fixed)
        vals = [np.asarray([c.value for c in cands[k]], dtype=np.float64) for k in ambiguous]
        goal, tol = target - base_v, resolution
    if not vals:
        return [[0] * len(cands)] if abs(goal) <= tol else []
    half = len(vals) // 2
    left, right = vals[:half], vals[half:]
    sa = _combos(left) if left else np.zeros(1)
    sb = _combos(right)
    if sa is None or sb is None:
        return None
    order = np.argsort(sb, kind="stable")
    sorted_b = sb[order]
    matches: list[tuple[int, int]] = []
    lo = np.searchsorted(sorted_b, goal - sa - tol, side="left")
    hi = np.searchsorted(sorted_b, goal - sa + tol, side="right")
    for i in np.flatnonzero(hi > lo).tolist():
        for j in order[lo[i] : hi[i]].tolist():
            matches.append((i, j))
            if len(matches) > 4096:
                return None
    out = []
    sizes_a = [v.size for v in left]
    sizes_b = [v.size for v in right]
    for i, j in matches:
        pick = [0] * len(cands)
        for pos, k in zip(_digits(i, sizes_a), ambiguous[:half], strict=True):
            pick[k] = pos
        for pos, k in zip(_digits(j, sizes_b), ambiguous[half:], strict=True):
            pick[k] = pos
        out.append(pick)
    return out


def _digits(index: int, sizes: list[int]) -> list[int]:
    """Mixed-radix digits of ``index`` (the first list varies slowest, as in np.add.outer)."""
    out = []
    for size in reversed(sizes):
        out.append(index % size)
        index //= size
    return list(reversed(out))


def _pinned_by_decoding(
    cands: list[list[Candidate]], picks: list[list[int]] | None, n_bins: np.ndarray
) -> set[int]:
    """Features pinned in every combination that matches (none when undecoded)."""
    if not picks:
        return set()
    union: dict[int, np.ndarray] = {}
    for pick in picks:
        cons = [c for k, choice in enumerate(pick) for c in cands[k][choice].constraints]
        feas = _feasible(cons, n_bins)
        for f in set(union) | set(feas):
            a, b = union.get(f), feas.get(f)
            if a is None or b is None:
                union[f] = np.ones(int(n_bins[f]) + 1, dtype=bool)  # unconstrained in one
            else:
                union[f] = a | b
    return _pinned(union)


def run(quick: bool = False) -> list[AttackResult]:
    from models.secureboost.eini_platform import PlatformSplits
    from models.secureboost.predict import raw_scores

    t0 = time.perf_counter()
    s = _setup(quick)
    clf, bank, plat, scored = s["clf"], s["bank"], s["plat"], s["scored"]
    n_bins = s["n_bins"]
    splits = PlatformSplits.from_part(s["body"])
    go_left = splits.decisions(plat.X[scored], plat.feature_names)  # (rows, splits)
    index = {int(sid): k for k, sid in enumerate(splits.split_ids.tolist())}
    used = sorted({n.feature for t in clf.trees_ for n in t.split_nodes() if n.owner == "platform"})
    pairs = len(scored) * len(used)
    # the plaintext margin (what any protocol that gives the bank the score reveals) ...
    plain = raw_scores(clf.trees_, clf.base_score_, bank.X[scored],
                       splits.split_ids.tolist(), go_left.T)  # fmt: skip
    # ... and what EINI gives the bank, through the real protocol
    t_eini = time.perf_counter()
    secure = clf.decision_function(bank.take(scored), s["peer"])
    t_eini = time.perf_counter() - t_eini
    pred = clf.secure_predictor()
    q = pred.quant_bits
    local, _ = pred.cells.values(bank.X[scored], q)

    standard = secure_hits = base_hits = 0
    decoded = {"secure": 0, "plaintext": 0}
    undecodable = 0
    coarse = {1e-6: 0, 1e-4: 0, 1e-2: 0}
    log2_combos: list[float] = []
    for k, row in enumerate(scored.tolist()):
        # the decision-bit protocol: every split's bit for this company
        cons = [
            Constraint(n.feature, n.bin, n.missing_left, bool(go_left[k, index[n.split_id]]))
            for t in clf.trees_
            for n in t.split_nodes()
            if n.owner == "platform"
        ]
        standard += len(_pinned(_feasible(cons, n_bins)))
        cands = _candidates(s, row, q)
        log2_combos.append(float(sum(np.log2(len(c)) for c in cands)))
        exact = round(float(secure[k] - clf.base_score_ - local[k]) * 2.0**q)
        picks = _decode(cands, 0.0, exact, 0.0)
        if picks is None:
            undecodable += 1
        decoded["secure"] += int(picks is not None and len(picks) == 1)
        secure_hits += len(_pinned_by_decoding(cands, picks, n_bins))
        target = float(plain[k] - clf.base_score_ - local[k])
        base_picks = _decode(cands, target, None, 1e-10)
        decoded["plaintext"] += int(base_picks is not None and len(base_picks) == 1)
        base_hits += len(_pinned_by_decoding(cands, base_picks, n_bins))
        for res in coarse:
            p = _decode(cands, target + float(np.random.default_rng(row).uniform(-res, res)),
                        None, res)  # fmt: skip
            coarse[res] += int(p is not None and len(p) == 1)
    std_frac, sec_frac, base_frac = standard / pairs, secure_hits / pairs, base_hits / pairs
    n = len(scored)
    details = {
        "data": s["source"],
        "model": s["params"],
        "platform_splits": len(index),
        "platform_features_used": len(used),
        "scored_companies": n,
        "max_margin_error": float(np.max(np.abs(secure - plain))),
        "eini_tolerance": pred.tolerance(),
        "eini_seconds": round(t_eini, 2),
        "path_decoded_secure": decoded["secure"] / n,
        "path_decoded_plaintext": decoded["plaintext"] / n,
        "path_decoded_at_resolution": {f"{r:g}": c / n for r, c in coarse.items()},
        "undecodable_companies": undecodable,
        # leaf combinations consistent with the bank's own features (per company): the
        # margin, at any resolution, can single one out only when this is small
        "log2_combinations_median": float(np.median(log2_combos)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out = []
    for variant, value in (("standard-predict", std_frac), ("secure-predict", sec_frac)):
        rule, leak = gap_rule(value, base_frac, TOLERANCE)
        out.append(AttackResult(PROTOCOL, ATTACK, variant, value, base_frac, rule, leak, details))
    return out


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r.to_json(), indent=2))
