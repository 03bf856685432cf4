"""Tree structure, its JSON form, and routing rows to leaves.

Nodes use heap numbering: the root is 0 and node ``i`` has children ``2i+1`` (left) and
``2i+2`` (right), so a node id fits in 16 bits for ``max_depth <= 15``. A split belongs to one
party (``owner``): the bank's splits carry their feature and threshold; the platform's carry
only an opaque ``split_id`` (and the platform feature index and bin the bank chose among the
candidates), the threshold stays in the platform's lookup table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.errors import DataLoss

BANK = "bank"
PLATFORM = "platform"
MAX_DEPTH = 15


def left_child(node_id: int) -> int:
    return 2 * node_id + 1


def right_child(node_id: int) -> int:
    return 2 * node_id + 2


def make_split_id(tree_index: int, node_id: int) -> int:
    """Platform split id: tree index in the high bits, heap node id in the low 16 bits."""
    return (int(tree_index) << 16) | int(node_id)


@dataclass
class Node:
    """One tree node.

    Attributes
    ----------
    node_id, depth:
        Heap id and depth (root: 0, 0).
    is_leaf, value:
        Leaf flag and leaf weight (learning rate already applied).
    owner:
        ``"bank"`` or ``"platform"`` for a split node.
    feature:
        The owner's own feature index.
    bin:
        Rows with bin code <= ``bin`` go left.
    missing_left:
        Where missing values go.
    threshold:
        Bank splits: the value threshold (``x <= threshold`` goes left; None = every
        non-missing value goes left). Always None for platform splits.
    split_id:
        Platform splits: the id in the platform's lookup table (-1 for bank splits).
    gain, hess, n_rows:
        Split gain, hessian sum (cover) and training rows in the node.
    left_bins:
        Categorical splits: the owner's bins that go left (a set; ``bin`` is -1, missing
        values and unseen categories go right). None for a threshold split.
    categories:
        Bank categorical splits: the category codes that go left (the bank's own encoding,
        recorded with its model). Platform categorical splits keep theirs on the platform.
    """

    node_id: int
    depth: int
    is_leaf: bool = True
    value: float = 0.0
    owner: str = ""
    feature: int = -1
    bin: int = -1
    missing_left: bool = False
    threshold: float | None = None
    split_id: int = -1
    gain: float = 0.0
    hess: float = 0.0
    n_rows: int = 0
    left_bins: tuple[int, ...] | None = None
    categories: tuple[float, ...] | None = None

    @property
    def is_categorical(self) -> bool:
        return self.left_bins is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.node_id, "depth": self.depth}
        if self.is_leaf:
            d.update(leaf=True, value=self.value, hess=self.hess, n_rows=self.n_rows)
            return d
        d.update(
            leaf=False,
            owner=self.owner,
            feature=self.feature,
            bin=self.bin,
            missing_left=self.missing_left,
            gain=self.gain,
            hess=self.hess,
            n_rows=self.n_rows,
        )
        if self.owner == BANK:
            d["threshold"] = self.threshold
        else:
            d["split_id"] = self.split_id
        if self.left_bins is not None:
            d["left_bins"] = list(self.left_bins)
        if self.categories is not None:
            d["categories"] = list(self.categories)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Node:
        try:
            if d["leaf"]:
                return cls(
                    node_id=int(d["id"]),
                    depth=int(d["depth"]),
                    is_leaf=True,
                    value=float(d["value"]),
                    hess=float(d.get("hess", 0.0)),
                    n_rows=int(d.get("n_rows", 0)),
                )
            thr = d.get("threshold")
            lb, cats = d.get("left_bins"), d.get("categories")
            return cls(
                node_id=int(d["id"]),
                depth=int(d["depth"]),
                is_leaf=False,
                owner=str(d["owner"]),
                feature=int(d["feature"]),
                bin=int(d["bin"]),
                missing_left=bool(d["missing_left"]),
                threshold=None if thr is None else float(thr),
                split_id=int(d.get("split_id", -1)),
                gain=float(d.get("gain", 0.0)),
                hess=float(d.get("hess", 0.0)),
                n_rows=int(d.get("n_rows", 0)),
                left_bins=None if lb is None else tuple(int(b) for b in lb),
                categories=None if cats is None else tuple(float(c) for c in cats),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataLoss("a tree node in the model is malformed") from exc


DecisionFn = Callable[[Node, np.ndarray], np.ndarray]


@dataclass
class Tree:
    """A regression tree over the raw score; ``nodes`` maps heap id -> node."""

    index: int
    nodes: dict[int, Node] = field(default_factory=dict)

    def split_nodes(self) -> list[Node]:
        return [n for _, n in sorted(self.nodes.items()) if not n.is_leaf]

    def leaves(self) -> list[Node]:
        return [n for _, n in sorted(self.nodes.items()) if n.is_leaf]

    def platform_split_ids(self) -> list[int]:
        return [n.split_id for n in self.split_nodes() if n.owner == PLATFORM]

    @property
    def depth(self) -> int:
        return max((n.depth for n in self.nodes.values()), default=0)

    def route(self, n_rows: int, decide: DecisionFn) -> np.ndarray:
        """Leaf id of each of ``n_rows`` rows; ``decide(node, positions)`` -> go-left mask."""
        pos = np.zeros(n_rows, dtype=np.int64)
        for node in self.split_nodes():  # heap order: parents before children
            idx = np.flatnonzero(pos == node.node_id)
            if idx.size == 0:
                continue
            go_left = np.asarray(decide(node, idx), dtype=bool)
            pos[idx] = np.where(go_left, left_child(node.node_id), right_child(node.node_id))
        return pos

    def leaf_values(self, leaf_ids: np.ndarray) -> np.ndarray:
        ids = sorted(k for k, n in self.nodes.items() if n.is_leaf)
        lookup = {k: i for i, k in enumerate(ids)}
        values = np.asarray([self.nodes[k].value for k in ids], dtype=np.float64)
        try:
            return values[np.asarray([lookup[int(i)] for i in leaf_ids], dtype=np.int64)]
        except KeyError:
            raise DataLoss("a row was routed to a node that is not a leaf") from None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "nodes": [n.to_dict() for _, n in sorted(self.nodes.items())]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tree:
        try:
            nodes = [Node.from_dict(x) for x in d["nodes"]]
            tree = cls(index=int(d["index"]), nodes={n.node_id: n for n in nodes})
        except (KeyError, TypeError) as exc:
            raise DataLoss("a tree in the model is malformed") from exc
        tree.validate()
        return tree

    def validate(self) -> None:
        """Structural check: a root, children of every split, depth bound."""
        if 0 not in self.nodes:
            raise DataLoss("a tree has no root")
        for n in self.nodes.values():
            if n.depth > MAX_DEPTH:
                raise DataLoss("a tree is deeper than allowed")
            if not n.is_leaf:
                if (
                    left_child(n.node_id) not in self.nodes
                    or right_child(n.node_id) not in self.nodes
                ):
                    raise DataLoss("a split node lacks a child")
                if n.owner not in (BANK, PLATFORM):
                    raise DataLoss("a split node has an unknown owner")

    def structure(self) -> list[tuple[Any, ...]]:
        """A comparable summary: (id, owner, feature, bin, missing_left) per split node."""
        return [
            (n.node_id, n.owner, n.feature, n.bin, n.missing_left, n.left_bins)
            for n in self.split_nodes()
        ]


def bin_decision(
    codes: np.ndarray,
    bin_index: int,
    missing_left: bool,
    missing_code: int,
    left_bins: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Go-left mask from bin codes: ``code <= bin`` for values, ``missing_left`` for missing.

    With ``left_bins`` (a categorical split): ``code in left_bins``; the missing bin goes
    ``missing_left``.
    """
    codes = np.asarray(codes)
    missing = codes == missing_code
    if left_bins is not None:
        member = np.isin(codes, np.asarray(left_bins, dtype=np.int64))
        return np.where(missing, missing_left, member)
    return np.where(missing, missing_left, codes <= bin_index)


def category_decision(
    values: np.ndarray, left_codes: tuple[float, ...], missing_left: bool
) -> np.ndarray:
    """Go-left mask of a categorical split from category codes: ``x in left_codes``.

    A missing value goes ``missing_left``; a code outside the left set (another category, or
    one unseen in training, which has no bin) goes right, the missing side of a set split.
    """
    x = np.asarray(values, dtype=np.float64)
    member = np.isin(x, np.asarray(left_codes, dtype=np.float64))
    return np.where(np.isnan(x), missing_left, member)


def value_decision(
    values: np.ndarray,
    threshold: float | None,
    missing_left: bool,
    left_codes: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Go-left mask from raw values: ``x <= threshold`` (None: all values), NaN -> default.

    With ``left_codes``: the categorical rule of :func:`category_decision`.
    """
    if left_codes is not None:
        return category_decision(values, left_codes, missing_left)
    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    if threshold is None:
        left = np.ones(x.shape, dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            left = x <= threshold
    return np.where(missing, missing_left, left)


def pack_bin_sets(sets: list[tuple[int, ...] | None]) -> tuple[list[int], list[int]]:
    """Categorical left-bin sets as (sizes, concatenated bins); size 0 = threshold split."""
    sizes = [0 if s is None else len(s) for s in sets]
    flat = [int(b) for s in sets if s is not None for b in s]
    return sizes, flat


def unpack_bin_sets(sizes: list[int], flat: list[int], n: int) -> list[tuple[int, ...] | None]:
    """Inverse of :func:`pack_bin_sets` for ``n`` splits (empty ``sizes``: no set splits)."""
    from models.errors import InvalidArgument

    if not sizes and not flat:
        return [None] * n
    if len(sizes) != n or any(int(k) < 0 for k in sizes) or sum(sizes) != len(flat):
        raise InvalidArgument("categorical split sets are malformed")
    out: list[tuple[int, ...] | None] = []
    pos = 0
    for k in sizes:
        k = int(k)
        out.append(None if k == 0 else tuple(int(b) for b in flat[pos : pos + k]))
        pos += k
    return out
