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


@dataclass
class TreeExplainer:
    """Reason codes of a tree model from what the bank knows: its features and the margin."""

    trees: list[Tree]
    base_score: float
    bank_names: Sequence[str]
    expectations: list[dict[int, float]] = field(default_factory=list)
    covers: list[dict[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        pairs = [_expectations(t) for t in self.trees]
        self.expectations = [p[0] for p in pairs]
        self.covers = [p[1] for p in pairs]

    def bank_view(self, x_bank: np.ndarray) -> tuple[dict[tuple[str, str], float], float]:
        """(bank feature contributions, ``sum_t E[tree_t | bank features]``)."""
        x = [float(v) for v in np.asarray(x_bank, dtype=np.float64).reshape(-1)]
        contrib: dict[tuple[str, str], float] = {}
        expected = 0.0
        for tree, mu, cover in zip(self.trees, self.expectations, self.covers, strict=True):
            stack = [(tree.nodes[0], 1.0)]
            while stack:
                node, w = stack.pop()
                if node.is_leaf:
                    expected += w * node.value
                    continue
                left, right = (
                    tree.nodes[left_child(node.node_id)],
                    tree.nodes[right_child(node.node_id)],
                )
                if node.owner == BANK:
                    child = (
                        left
                        if _goes_left(x[node.feature], node.threshold, node.missing_left)
                        else right
                    )
                    key = (BANK_SOURCE, str(self.bank_names[node.feature]))
                    contrib[key] = contrib.get(key, 0.0) + w * (
                        mu[child.node_id] - mu[node.node_id]
                    )
                    stack.append((child, w))
                else:
                    total = cover[left.node_id] + cover[right.node_id]
                    share = cover[left.node_id] / total if total > 0 else 0.5
                    stack.append((left, w * share))
                    stack.append((right, w * (1.0 - share)))
        return contrib, expected

    def assemble(self, x_bank: np.ndarray, raw: float) -> Assembled:
        """Score one company from its bank features and its margin (log-odds)."""
        contrib, expected = self.bank_view(x_bank)
        contrib[(PLATFORM_SOURCE, TREE_PLATFORM_FACTOR)] = raw - self.base_score - expected
        return Assembled(log_odds=raw, pd=sigmoid(raw), contributions=contrib)


def _goes_left(value: float, threshold: float | None, missing_left: bool) -> bool:
    """:func:`models.secureboost.tree.value_decision` for one value."""
    if math.isnan(value):
        return missing_left
    return threshold is None or value <= threshold


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
