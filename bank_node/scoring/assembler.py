"""Final score assembly on the bank: log-odds, probability, points, risk band, reason codes.

Only the bank ever holds the complete score. The pieces come from two places:

- trees: the margin from EINI prediction (:mod:`models.secureboost.predict`): the bank never
  learns the company's path at the platform's splits, only the sum of the selected leaves;
- linear models: the bank's own terms plus the platform's partial log-odds, which arrive
  encrypted under the bank's key and are decrypted here.

Reason codes are the factors that pushed the log-odds up the most. Linear models: each bank
term ``w_j * z_j`` is a contribution and the platform names its own adverse categories. Trees
(:class:`TreeExplainer`): the bank cannot follow the path through the platform's splits, so
its features get a *bank-conditional* Saabas attribution (walking each tree with its own
decisions at its splits and the training cover's proportions at the platform's, so a bank
split's contribution is the change of the expected leaf value it causes), and the rest of the
margin, ``margin - base - sum_t E[tree_t | bank features]``, is one platform factor
(``P:platform``): the platform's data taken together, no category named (naming categories
would need one more read-out per category, each a further functional of the platform's path).
Platform factors never carry a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.errors import InvalidArgument
from models.secureboost.tree import BANK, Node, Tree, left_child, right_child

BANK_SOURCE = "bank"
PLATFORM_SOURCE = "platform"


def sigmoid(z: float) -> float:
    """The logistic function, stable for large ``|z|`` (the formula training uses)."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


# ----------------------------------------------------------------------------- points and bands
@dataclass(frozen=True)
class PointsScale:
    """Scorecard points from odds: ``base_points`` at good:bad odds ``base_odds``, and
    ``pdo`` more points each time the odds double (higher = safer)."""

    base_points: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def points(self, pd: float) -> float:
        p = min(max(float(pd), 1e-15), 1.0 - 1e-15)
        factor = self.pdo / math.log(2.0)
        return self.base_points + factor * (math.log((1.0 - p) / p) - math.log(self.base_odds))


@dataclass(frozen=True)
class RiskBands:
    """Bands by probability of default: band ``names[i]`` for ``pd < upper[i]``, the last
    name above every bound."""

    upper: tuple[float, ...] = (0.01, 0.025, 0.05, 0.10, 0.20)
    names: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")

    def __post_init__(self) -> None:
        if len(self.names) != len(self.upper) + 1 or list(self.upper) != sorted(self.upper):
            raise InvalidArgument("risk bands need ascending bounds and one more name")

    def band(self, pd: float) -> str:
        for bound, name in zip(self.upper, self.names, strict=False):
            if pd < bound:
                return name
        return self.names[-1]


# ----------------------------------------------------------------------------- reasons
@dataclass(frozen=True)
class Reason:
    rank: int
    source: str
    factor: str
    code: str
    description: str


@dataclass
class Assembled:
    """A complete score before presentation."""

    log_odds: float
    pd: float
    contributions: dict[tuple[str, str], float] = field(default_factory=dict)
    platform_categories: list[str] = field(default_factory=list)
    platform_weight: float = 0.0
    points: float | None = None  # the model's own points (scorecards); else from the scale


def reason_code(source: str, factor: str) -> str:
    return f"{'B' if source == BANK_SOURCE else 'P'}:{factor}"


def rank_reasons(
    assembled: Assembled,
    limit: int,
    describe: Mapping[str, str] | None = None,
) -> list[Reason]:
    """The top ``limit`` adverse factors, most adverse first.

    ``contributions`` are (source, factor) -> log-odds contribution; only positive ones are
    reasons. ``platform_categories`` (linear models: the platform's own ranking, names only)
    enter as one block ranked by ``platform_weight`` (the platform's partial log-odds).
    """
    items: list[tuple[float, int, str, str]] = []
    for (source, factor), value in assembled.contributions.items():
        if value > 0:
            items.append((value, 0, source, factor))
    known = {f for (s, f) in assembled.contributions if s == PLATFORM_SOURCE}
    block = max(assembled.platform_weight, 0.0)
    for k, cat in enumerate(assembled.platform_categories):
        if cat not in known:
            items.append((block, k + 1, PLATFORM_SOURCE, cat))
    items.sort(key=lambda t: (-t[0], t[1], t[2], t[3]))
    out: list[Reason] = []
    for value, _, source, factor in items[: max(0, limit)]:
        del value  # reasons never carry their magnitude
        if source == BANK_SOURCE:
            text = (describe or {}).get(factor) or f"bank data: {factor}"
        elif factor == TREE_PLATFORM_FACTOR:
            text = "platform data, all categories together"
        else:
            text = f"platform data category: {factor}"
        out.append(Reason(len(out) + 1, source, factor, reason_code(source, factor), text))
    return out


# ----------------------------------------------------------------------------- trees
#: The one platform factor of a tree model's reasons (its data, all categories together).
TREE_PLATFORM_FACTOR = "platform"


def node_expectations(tree: Tree) -> dict[int, float]:
    """Expected leaf value below each node, weighted by training cover (hessian sums)."""
    return _expectations(tree)[0]


def _expectations(tree: Tree) -> tuple[dict[int, float], dict[int, float]]:
    values: dict[int, float] = {}
    covers: dict[int, float] = {}

    def visit(node: Node) -> tuple[float, float]:
        if node.is_leaf:
            values[node.node_id] = node.value
            covers[node.node_id] = max(node.hess, 0.0)
            return node.value, covers[node.node_id]
        lv, lw = visit(tree.nodes[left_child(node.node_id)])
        rv, rw = visit(tree.nodes[right_child(node.node_id)])
        total = lw + rw
        value = (lv * lw + rv * rw) / total if total > 0 else (lv + rv) / 2.0
        values[node.node_id], covers[node.node_id] = value, total
        return value, total

    visit(tree.nodes[0])
    return values, covers


class TreeExplainer:
    """Reason codes of a tree model from what the bank knows: its features and the margin.

    Compiled once into arrays: each bank split and each leaf with the bank decisions its path
    needs, the product of the platform splits' cover shares above it, and (splits) the change
    of the expected leaf value on either side.
    """

    def __init__(self, trees: Sequence[Tree], base_score: float, bank_names: Sequence[str]):
        self.base_score = float(base_score)
        self.bank_names = [str(n) for n in bank_names]
        feats: list[int] = []
        thresholds: list[float] = []
        missing: list[bool] = []
        splits: list[tuple[list[int], list[bool], float, int, float, float, int]] = []
        leaves: list[tuple[list[int], list[bool], float, float]] = []
        for tree in trees:
            mu, cover = _expectations(tree)
            col_of: dict[int, int] = {}
            for node in tree.split_nodes():
                if node.owner == BANK:
                    col_of[node.node_id] = len(feats)
                    feats.append(node.feature)
                    thresholds.append(math.inf if node.threshold is None else node.threshold)
                    missing.append(node.missing_left)
            stack: list[tuple[Node, list[int], list[bool], float]] = [(tree.nodes[0], [], [], 1.0)]
            while stack:
                node, cols, dirs, share = stack.pop()
                if node.is_leaf:
                    leaves.append((cols, dirs, share, node.value))
                    continue
                left = tree.nodes[left_child(node.node_id)]
                right = tree.nodes[right_child(node.node_id)]
                if node.owner == BANK:
                    c = col_of[node.node_id]
                    d_left = mu[left.node_id] - mu[node.node_id]
                    d_right = mu[right.node_id] - mu[node.node_id]
                    splits.append((cols, dirs, share, c, d_left, d_right, node.feature))
                    stack.append((left, [*cols, c], [*dirs, True], share))
                    stack.append((right, [*cols, c], [*dirs, False], share))
                else:
                    total = cover[left.node_id] + cover[right.node_id]
                    frac = cover[left.node_id] / total if total > 0 else 0.5
                    stack.append((left, cols, dirs, share * frac))
                    stack.append((right, cols, dirs, share * (1.0 - frac)))
        self._feat = np.asarray(feats, dtype=np.int64)
        self._thr = np.asarray(thresholds, dtype=np.float64)
        self._ml = np.asarray(missing, dtype=bool)
        n_cols = len(feats)

        def pad(rows: list[tuple[list[int], list[bool]]]) -> tuple[np.ndarray, np.ndarray]:
            width = max((len(c) for c, _ in rows), default=0) or 1
            idx = np.full((len(rows), width), n_cols, dtype=np.int64)
            want = np.ones((len(rows), width), dtype=bool)
            for k, (c, d) in enumerate(rows):
                idx[k, : len(c)] = c
                want[k, : len(d)] = d
            return idx, want

        self._s_idx, self._s_want = pad([(r[0], r[1]) for r in splits])
        self._s_share = np.asarray([r[2] for r in splits], dtype=np.float64)
        self._s_col = np.asarray([r[3] for r in splits], dtype=np.int64)
        self._s_dl = np.asarray([r[4] for r in splits], dtype=np.float64)
        self._s_dr = np.asarray([r[5] for r in splits], dtype=np.float64)
        self._s_feat = np.asarray([r[6] for r in splits], dtype=np.int64)
        self._l_idx, self._l_want = pad([(r[0], r[1]) for r in leaves])
        self._l_weight = np.asarray([r[2] * r[3] for r in leaves], dtype=np.float64)

    def bank_view(self, x_bank: np.ndarray) -> tuple[dict[tuple[str, str], float], float]:
        """(bank feature contributions, ``sum_t E[tree_t | bank features]``)."""
        x = np.asarray(x_bank, dtype=np.float64).reshape(-1)
        xs = x[self._feat]
        with np.errstate(invalid="ignore"):
            left = np.where(np.isnan(xs), self._ml, xs <= self._thr)
        ext = np.append(left, True)
        reach_s = np.all(ext[self._s_idx] == self._s_want, axis=1)
        step = (
            np.where(left[self._s_col], self._s_dl, self._s_dr) if self._s_col.size else self._s_dl
        )
        amounts = np.bincount(
            self._s_feat, weights=reach_s * self._s_share * step, minlength=len(self.bank_names)
        )
        used = np.unique(self._s_feat[reach_s]) if self._s_feat.size else self._s_feat
        contrib = {(BANK_SOURCE, self.bank_names[f]): float(amounts[f]) for f in used.tolist()}
        reach_l = np.all(ext[self._l_idx] == self._l_want, axis=1)
        return contrib, float(np.sum(self._l_weight[reach_l]))

    def assemble(self, x_bank: np.ndarray, raw: float) -> Assembled:
        """Score one company from its bank features and its margin (log-odds)."""
        contrib, expected = self.bank_view(x_bank)
        contrib[(PLATFORM_SOURCE, TREE_PLATFORM_FACTOR)] = raw - self.base_score - expected
        return Assembled(log_odds=raw, pd=sigmoid(raw), contributions=contrib)


# ----------------------------------------------------------------------------- linear models
def linear_assemble(
    z_bank: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    bank_names: Sequence[str],
    platform_partial: float,
    platform_categories: Sequence[str],
) -> Assembled:
    """Score one company of a linear model: ``z_b @ w_b + b + s_p``.

    ``z_bank`` is the bank's transformed feature row, ``platform_partial`` the decrypted
    platform partial log-odds.
    """
    z = np.asarray(z_bank, dtype=np.float64).reshape(1, -1)
    w = np.asarray(coef, dtype=np.float64)
    log_odds = float(np.asarray(z @ w + intercept + platform_partial)[0])
    terms = z[0] * w
    contrib = {(BANK_SOURCE, str(n)): float(t) for n, t in zip(bank_names, terms, strict=True)}
    return Assembled(
        log_odds=log_odds,
        pd=sigmoid(log_odds),
        contributions=contrib,
        platform_categories=list(platform_categories),
        platform_weight=float(platform_partial),
    )
