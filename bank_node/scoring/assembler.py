"""Final score assembly on the bank: log-odds, probability, points, risk band, reason codes.

Only the bank ever holds the complete score. The pieces come from two places:

- trees: the bank routes the company through every tree with its own feature values at its
  splits and the platform's go-left bits at the platform's splits, adding the leaf values in
  tree order exactly as offline prediction (:func:`models.secureboost.predict.raw_scores`);
- linear models: the bank's own terms plus the platform's partial log-odds, which arrive
  encrypted under the bank's key and are decrypted here.

Reason codes are the factors that pushed the log-odds up the most. For trees the change of
the expected leaf value along the company's path is attributed to each split's feature
(Saabas path attribution, expectations weighted by the training cover); for linear models each
bank term ``w_j * z_j`` is a contribution and the platform names its own adverse categories.
Platform factors are always named by category, never with a value.
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
        else:
            text = f"platform data category: {factor}"
        out.append(Reason(len(out) + 1, source, factor, reason_code(source, factor), text))
    return out


# ----------------------------------------------------------------------------- trees
def node_expectations(tree: Tree) -> dict[int, float]:
    """Expected leaf value below each node, weighted by training cover (hessian sums)."""
    out: dict[int, float] = {}

    def visit(node: Node) -> tuple[float, float]:
        if node.is_leaf:
            out[node.node_id] = node.value
            return node.value, max(node.hess, 0.0)
        lv, lw = visit(tree.nodes[left_child(node.node_id)])
        rv, rw = visit(tree.nodes[right_child(node.node_id)])
        total = lw + rw
        value = (lv * lw + rv * rw) / total if total > 0 else (lv + rv) / 2.0
        out[node.node_id] = value
        return value, total

    visit(tree.nodes[0])
    return out


@dataclass
class TreeModelView:
    """What the bank needs to assemble a SecureBoost score for one company."""

    trees: list[Tree]
    base_score: float
    platform_groups: Sequence[str]
    bank_names: Sequence[str]
    expectations: list[dict[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.expectations = [node_expectations(t) for t in self.trees]

    def assemble(
        self, x_bank: np.ndarray, split_ids: Sequence[int], go_left: np.ndarray
    ) -> Assembled:
        """Score one company from its bank features and the platform's decisions.

        ``go_left[i]`` is the platform's bit for ``split_ids[i]``.
        """
        x = [float(v) for v in np.asarray(x_bank, dtype=np.float64).reshape(-1)]
        bits = [bool(b) for b in np.asarray(go_left, dtype=bool).reshape(-1)]
        if len(bits) != len(split_ids):
            raise InvalidArgument("one platform decision per split is required")
        platform_left = dict(zip((int(s) for s in split_ids), bits, strict=True))
        raw = float(self.base_score)
        contrib: dict[tuple[str, str], float] = {}
        for tree, expect in zip(self.trees, self.expectations, strict=True):
            node = tree.nodes[0]
            while not node.is_leaf:
                if node.owner == BANK:
                    left = _goes_left(x[node.feature], node.threshold, node.missing_left)
                    key = (BANK_SOURCE, str(self.bank_names[node.feature]))
                else:
                    try:
                        left = platform_left[node.split_id]
                    except KeyError:
                        raise InvalidArgument("the platform did not answer every split") from None
                    key = (PLATFORM_SOURCE, str(self.platform_groups[node.feature]))
                child = tree.nodes[left_child(node.node_id) if left else right_child(node.node_id)]
                contrib[key] = contrib.get(key, 0.0) + expect[child.node_id] - expect[node.node_id]
                node = child
            raw += node.value  # tree order, as offline prediction adds them
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
