"""Level-wise growth of one tree over a histogram backend.

The grower is shared by the plaintext reference and the federated bank: only the backend
differs (local histograms vs. the bank's own plus the platform's decrypted ones). Per level it
asks the backend for the histograms of the *smaller* child of every split pair and derives the
larger sibling by subtracting from the parent's histogram ("build the smaller child, derive its
sibling by subtraction"), chooses each node's best split, then asks the backend for the
partition of the split nodes' rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.errors import Cancelled
from models.secureboost.splitter import SplitParams, best_split, leaf_weight
from models.secureboost.tree import (
    BANK,
    PLATFORM,
    Node,
    Tree,
    left_child,
    make_split_id,
    right_child,
)

Hist = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class NodeRows:
    """A node and its (sorted) row positions."""

    node_id: int
    rows: np.ndarray


@dataclass(frozen=True)
class SplitOrder:
    """A split the bank has chosen: which rows, on which global feature and bin."""

    node_id: int
    rows: np.ndarray
    feature: int
    bin: int
    missing_left: bool
    split_id: int
    left_bins: tuple[int, ...] | None = None  # categorical split: the bins that go left


class TreeBackend(Protocol):
    """Where histograms and partitions come from (plaintext or federated)."""

    n_features: int
    n_bank_features: int
    n_slots: int
    n_value_bins: np.ndarray
    categorical: np.ndarray  # bool per global feature: split on sets of bins

    def begin_tree(
        self, t: int, gq: np.ndarray, hq: np.ndarray, rows: np.ndarray, features: np.ndarray
    ) -> None:
        """Start tree ``t``: fixed-point g/h over all positions (0 outside ``rows``)."""
        ...

    def histograms(
        self, t: int, depth: int, nodes: list[NodeRows], features: np.ndarray | None = None
    ) -> list[Hist]:
        """``(G, H)`` int64 arrays of shape ``(n_features, n_slots)`` for each node.

        ``features`` marks the features the level may split on (None: the tree's); columns of
        the others may be left zero."""
        ...

    def partition(self, t: int, depth: int, splits: list[SplitOrder]) -> list[np.ndarray]:
        """For each split, the go-left mask over its rows."""
        ...

    def route(self, t: int, tree: Tree, rows: np.ndarray) -> np.ndarray:
        """Leaf id of each row position (rows not used to grow the tree)."""
        ...

    def end_tree(self, t: int, tree: Tree) -> None:
        """Tree ``t`` is complete (the federated backend commits it on the platform)."""
        ...


@dataclass
class GrowParams:
    max_depth: int
    learning_rate: float
    split: SplitParams


@dataclass
class _Open:
    node_id: int
    depth: int
    rows: np.ndarray
    g: int
    h: int
    hist: Hist | None = None


def _splittable(node: _Open, params: GrowParams, scale: float) -> bool:
    h = float(node.h) * scale
    mcw = float(params.split.min_child_weight)
    return node.depth < params.max_depth and node.rows.size >= 2 and h > 0.0 and h >= 2.0 * mcw


def grow_tree(
    t: int,
    backend: TreeBackend,
    gq: np.ndarray,
    hq: np.ndarray,
    rows: np.ndarray,
    feature_mask: np.ndarray,
    frac_bits: int,
    params: GrowParams,
    should_stop: Callable[[], bool] | None = None,
    level_mask: Callable[[int], np.ndarray] | None = None,
) -> tuple[Tree, dict[int, np.ndarray]]:
    """Grow tree ``t`` on ``rows``; returns the tree and the rows of each leaf.

    ``level_mask(depth)`` (default: ``feature_mask`` at every depth) gives the features nodes
    at ``depth`` may split on: the privacy mode's schedule (:mod:`.privacy`).
    """
    scale = float(2.0**-frac_bits)
    tree = Tree(index=t)
    leaf_rows: dict[int, np.ndarray] = {}
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    level = [_Open(0, 0, rows, int(gq[rows].sum()), int(hq[rows].sum()))]
    parents: dict[int, Hist] = {}
    for depth in range(params.max_depth + 1):
        if should_stop is not None and should_stop():
            raise Cancelled("training was cancelled")
        splittable = [n for n in level if _splittable(n, params, scale)]
        mask = feature_mask if level_mask is None else level_mask(depth)
        if splittable:
            _fill_histograms(t, depth, backend, level, splittable, parents, mask)
        orders: list[SplitOrder] = []
        chosen: dict[int, tuple[_Open, int, int, bool, float]] = {}
        for node in splittable:
            assert node.hist is not None
            cand = best_split(
                node.hist[0],
                node.hist[1],
                node.g,
                node.h,
                backend.n_value_bins,
                mask,
                frac_bits,
                params.split,
                categorical=backend.categorical,
                n_rows=int(node.rows.size),
            )
            if cand is None:
                continue
            split_id = (
                make_split_id(t, node.node_id) if cand.feature >= backend.n_bank_features else -1
            )
            orders.append(
                SplitOrder(
                    node.node_id,
                    node.rows,
                    cand.feature,
                    cand.bin,
                    cand.missing_left,
                    split_id,
                    cand.left_bins,
                )
            )
            chosen[node.node_id] = (node, cand.feature, cand.bin, cand.missing_left, cand.gain)
        masks = backend.partition(t, depth, orders) if orders else []
        next_level: list[_Open] = []
        parents = {}
        for order, mask in zip(orders, masks, strict=True):
            node, feature, bin_, missing_left, gain = chosen[order.node_id]
            mask = np.asarray(mask, dtype=bool)
            owner = BANK if feature < backend.n_bank_features else PLATFORM
            local = feature if owner == BANK else feature - backend.n_bank_features
            tree.nodes[node.node_id] = Node(
                node_id=node.node_id,
                depth=node.depth,
                is_leaf=False,
                owner=owner,
                feature=local,
                bin=bin_,
                missing_left=missing_left,
                split_id=order.split_id,
                gain=gain,
                hess=float(node.h) * scale,
                n_rows=int(node.rows.size),
                left_bins=order.left_bins,
            )
            left_rows, right_rows = node.rows[mask], node.rows[~mask]
            lg, lh = int(gq[left_rows].sum()), int(hq[left_rows].sum())
            next_level.append(_Open(left_child(node.node_id), depth + 1, left_rows, lg, lh))
            next_level.append(
                _Open(right_child(node.node_id), depth + 1, right_rows, node.g - lg, node.h - lh)
            )
            assert node.hist is not None
            parents[node.node_id] = node.hist
        for node in level:
            if node.node_id in chosen:
                continue
            value = leaf_weight(
                float(node.g) * scale, float(node.h) * scale, params.split.reg_lambda
            )
            tree.nodes[node.node_id] = Node(
                node_id=node.node_id,
                depth=node.depth,
                is_leaf=True,
                value=float(value * params.learning_rate),
                hess=float(node.h) * scale,
                n_rows=int(node.rows.size),
            )
            leaf_rows[node.node_id] = node.rows
        level = next_level
        if not level:
            break
    return tree, leaf_rows


def _fill_histograms(
    t: int,
    depth: int,
    backend: TreeBackend,
    level: list[_Open],
    splittable: list[_Open],
    parents: dict[int, Hist],
    features: np.ndarray,
) -> None:
    """Histograms of the splittable nodes: build the smaller sibling, subtract for the other."""
    wanted = {n.node_id for n in splittable}
    by_id = {n.node_id: n for n in level}
    build: list[_Open] = []
    derive: list[tuple[_Open, _Open, int]] = []  # (node, built sibling, parent id)
    if depth == 0:
        build = list(splittable)
    else:
        for parent_id in sorted(parents):
            left = by_id[left_child(parent_id)]
            right = by_id[right_child(parent_id)]
            if left.node_id not in wanted and right.node_id not in wanted:
                continue
            small, large = (left, right) if left.rows.size <= right.rows.size else (right, left)
            build.append(small)
            if large.node_id in wanted:
                derive.append((large, small, parent_id))
    hists = backend.histograms(t, depth, [NodeRows(n.node_id, n.rows) for n in build], features)
    for node, hist in zip(build, hists, strict=True):
        node.hist = hist
    for node, sibling, parent_id in derive:
        assert sibling.hist is not None
        pg, ph = parents[parent_id]
        node.hist = (pg - sibling.hist[0], ph - sibling.hist[1])
