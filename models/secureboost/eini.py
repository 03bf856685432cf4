"""EINI prediction for SecureBoost: layout of the encrypted inner products.

A tree's output for one company is ``sum_l v_l b_l p_l`` over its leaves: ``v_l`` the leaf
value, ``b_l`` = 1 iff every *bank* split on the path to ``l`` agrees with the company's bank
features, ``p_l`` = 1 iff every *platform* split on the path agrees with its platform features;
exactly one leaf has both. The bank (which knows ``v`` and ``b``) encrypts the vector ``v * b``,
the platform (which knows ``p``) multiplies by its plaintext 0/1 vector and sums; the bank
decrypts the margin (arXiv 2105.09540, written afresh here).

**Cells.** Leaves whose paths cross the same platform splits in the same directions have the
same ``p``; at most one of them is bank-consistent (two such leaves part at a bank split). So
the vectors run over *cells* (the distinct platform constraint sets of a tree) instead of
leaves: :func:`tree_cells` derives them from the heap ids of a tree's platform splits alone, so
the platform computes the layout from its own split table and the bank sends no structure at
all. A cell without constraints always has ``p = 1``: the bank adds those leaves (and trees
without platform splits) itself.

**Exact sums.** Leaf values are quantised to ``2^-Q`` and sent as multiples of
``2^(Q+GUARD_BITS)``; the platform's flood (``|f| <= 2^FLOOD_BITS``), the bank's own
encryption noise and that of the fresh encryption of zero (a few hundred units with
overwhelming probability) stay below ``2^(GUARD_BITS-1)``, so the bank rounds them away and
reads exactly ``sum_t round(v_t 2^Q) / 2^Q``: deterministic (equal paths give equal margins),
within ``T 2^-(Q+1)`` of plaintext prediction for ``T`` trees.

**Packing** (:class:`Packing`). With ``L`` cells per company the bank's polynomial of a group
of ``R`` companies holds company ``i``'s cell values at ``X^(iW + l)`` (``W`` = ``L`` or a chunk
of it), the platform's selection of company ``j`` goes to ``X^(jW(R-1) - l)``; the product's
coefficient ``jRW`` is then exactly company ``j``'s margin (all cross terms land elsewhere as
long as ``W (R^2 - R + 1) <= N``), and the platform seals the result revealing only those
``R`` coefficients (:mod:`models.crypto.ckks_readout`). Longer vectors are cut in chunks whose
products are summed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import FailedPrecondition, InvalidArgument
from models.secureboost.tree import BANK, PLATFORM, Tree, category_decision, left_child, right_child

Constraint = tuple[int, bool]  # (heap id of a platform split, goes left)
Cell = tuple[Constraint, ...]

#: Flood added by the platform at each read-out: uniform in ``[-2^FLOOD_BITS, 2^FLOOD_BITS]``.
FLOOD_BITS = 14
#: Cell values are multiples of ``2^GUARD_BITS``: flood and noise (below ``2^(GUARD_BITS-1)``)
#: round away, so the bank reads the exact sum of its quantised leaf values.
GUARD_BITS = FLOOD_BITS + 2
#: Leaf values are quantised to at least this many fractional bits.
MIN_QUANT_BITS = 30


def tree_cells(platform_nodes: Iterable[int]) -> list[Cell]:
    """The non-empty platform constraint sets of a tree, in canonical order.

    Only the heap ids of the tree's platform splits are needed: their ancestors are splits
    (the platform's or the bank's) and any subtree without a platform split forms one cell
    with no constraint, which is left out.
    """
    splits = {int(u) for u in platform_nodes}
    if not splits:
        return []
    above: set[int] = set()  # nodes with a platform split in their subtree
    for u in splits:
        x = u
        while x not in above:
            above.add(x)
            if x == 0:
                break
            x = (x - 1) // 2

    def cells(u: int) -> list[Cell]:
        if u not in above:
            return [()]
        left, right = cells(left_child(u)), cells(right_child(u))
        if u in splits:
            return [((u, True), *c) for c in left] + [((u, False), *c) for c in right]
        seen: dict[Cell, None] = {}
        for c in left + right:
            seen.setdefault(c, None)
        return list(seen)

    return [c for c in cells(0) if c]


@dataclass(frozen=True)
class CellLayout:
    """Cells of every tree that has platform splits, in tree order."""

    trees: tuple[int, ...]
    cells: tuple[tuple[Cell, ...], ...]

    @classmethod
    def from_split_ids(cls, split_ids: Iterable[int]) -> CellLayout:
        """From platform split ids ``(tree << 16) | node`` (the platform's own table)."""
        by_tree: dict[int, list[int]] = {}
        for sid in split_ids:
            by_tree.setdefault(int(sid) >> 16, []).append(int(sid) & 0xFFFF)
        return cls.from_nodes(by_tree)

    @classmethod
    def from_nodes(cls, nodes: Mapping[int, Iterable[int]]) -> CellLayout:
        trees = tuple(sorted(t for t, ns in nodes.items() if list(ns)))
        return cls(trees, tuple(tuple(tree_cells(nodes[t])) for t in trees))

    @property
    def n_cells(self) -> int:
        return sum(len(c) for c in self.cells)

    def offsets(self) -> dict[int, int]:
        out, pos = {}, 0
        for t, cs in zip(self.trees, self.cells, strict=True):
            out[t] = pos
            pos += len(cs)
        return out

    def digest(self) -> str:
        """A digest both parties compute to check that they agree on the layout."""
        doc = [
            [t, [[[u, d] for u, d in c] for c in cs]]
            for t, cs in zip(self.trees, self.cells, strict=True)
        ]
        return hashlib.sha256(json.dumps(doc, separators=(",", ":")).encode()).hexdigest()

    def constraint_matrix(self) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """``(index, wanted, split_ids)``: for cell ``c``, ``index[c]`` lists columns of the
        decision matrix over ``split_ids`` (padded with the extra always-true column
        ``len(split_ids)``) and ``wanted[c]`` the direction each must take."""
        split_ids = sorted(
            {
                (t << 16) | u
                for t, cs in zip(self.trees, self.cells, strict=True)
                for c in cs
                for u, _ in c
            }
        )
        col = {s: i for i, s in enumerate(split_ids)}
        width = max((len(c) for cs in self.cells for c in cs), default=1)
        index = np.full((self.n_cells, width), len(split_ids), dtype=np.int64)
        wanted = np.ones((self.n_cells, width), dtype=bool)
        k = 0
        for t, cs in zip(self.trees, self.cells, strict=True):
            for c in cs:
                for j, (u, d) in enumerate(c):
                    index[k, j] = col[(t << 16) | u]
                    wanted[k, j] = d
                k += 1
        return index, wanted, split_ids


# ----------------------------------------------------------------------------- packing
@dataclass(frozen=True)
class Packing:
    """How rows of ``n_cells`` values share ciphertexts of ring degree ``degree``.

    ``width`` cells per chunk, ``chunks`` chunks per row, ``group`` rows per ciphertext.
    """

    n_cells: int
    degree: int
    width: int
    chunks: int
    group: int

    @classmethod
    def for_cells(cls, n_cells: int, degree: int) -> Packing:
        if n_cells < 1 or degree < 4:
            raise InvalidArgument("a packing needs at least one cell")
        width = min(n_cells, degree // 2)
        chunks = -(-n_cells // width)
        group = 1
        while width * ((group + 1) ** 2 - group) <= degree:  # W (R^2 - R + 1) <= N
            group += 1
        return cls(n_cells, degree, width, chunks, group)

    def n_groups(self, rows: int) -> int:
        return -(-rows // self.group)

    def positions(self, rows_in_group: int) -> list[int]:
        """Read-out coefficient of each row of a group."""
        return [j * self.group * self.width for j in range(rows_in_group)]

    def _chunk(self, values: np.ndarray, c: int) -> np.ndarray:
        return values[:, c * self.width : min((c + 1) * self.width, self.n_cells)]

    def bank_polys(self, x: np.ndarray) -> list[np.ndarray]:
        """The bank's polynomials, group-major then chunk: row ``i`` of a group at ``X^(iW)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_cells:
            raise InvalidArgument("cell values have the wrong shape")
        out = []
        for g in range(self.n_groups(x.shape[0])):
            rows = x[g * self.group : (g + 1) * self.group]
            for c in range(self.chunks):
                part = self._chunk(rows, c)
                poly = np.zeros(self.degree)
                for i in range(part.shape[0]):
                    poly[i * self.width : i * self.width + part.shape[1]] = part[i]
                out.append(poly)
        return out

    def platform_polys(self, a: np.ndarray) -> list[np.ndarray]:
        """The platform's selection polynomials: row ``j`` at ``X^(jW(R-1) - l)``."""
        a = np.asarray(a, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != self.n_cells:
            raise InvalidArgument("selections have the wrong shape")
        out = []
        for g in range(self.n_groups(a.shape[0])):
            rows = a[g * self.group : (g + 1) * self.group]
            for c in range(self.chunks):
                part = self._chunk(rows, c)
                poly = np.zeros(self.degree)
                ls = np.arange(part.shape[1])
                for j in range(part.shape[0]):
                    exps = j * self.width * (self.group - 1) - ls
                    neg = exps < 0
                    poly[exps[~neg]] = part[j, ~neg]
                    poly[self.degree + exps[neg]] = -part[j, neg]
                out.append(poly)
        return out


# ----------------------------------------------------------------------------- the bank's side
@dataclass
class _LeafTable:
    """Leaves of all trees: bank path constraints, cell (or -1), value."""

    index: np.ndarray  # (leaves, depth) columns of the bank decision matrix (padded)
    wanted: np.ndarray  # (leaves, depth)
    cell: np.ndarray  # (leaves,) global cell index, -1: the bank adds it itself
    value: np.ndarray  # (leaves,) float64
    tree: np.ndarray  # (leaves,) tree position


class BankCells:
    """The bank's cell values ``v * b`` of a model, and the margins it adds itself.

    Parameters
    ----------
    trees:
        The model's trees.
    layout:
        The cell layout (from the trees' platform split ids).
    """

    def __init__(self, trees: Sequence[Tree], layout: CellLayout) -> None:
        self.layout = layout
        offsets = layout.offsets()
        cell_pos = {
            t: {c: offsets[t] + k for k, c in enumerate(cs)}
            for t, cs in zip(layout.trees, layout.cells, strict=True)
        }
        self.features: list[int] = []
        self.thresholds: list[float] = []
        self.missing_left: list[bool] = []
        self.categories: list[tuple[float, ...] | None] = []  # set splits: left codes
        rows: list[tuple[list[int], list[bool], int, float, int]] = []
        for pos, tree in enumerate(trees):
            col_of: dict[int, int] = {}
            for node in tree.split_nodes():
                if node.owner == BANK:
                    col_of[node.node_id] = len(self.features)
                    self.features.append(node.feature)
                    thr = node.threshold
                    self.thresholds.append(math.inf if thr is None else float(thr))
                    self.missing_left.append(node.missing_left)
                    self.categories.append(node.categories)
                elif node.owner != PLATFORM:
                    raise InvalidArgument("a split node has an unknown owner")
            for leaf in tree.leaves():
                cols, dirs, constraint = [], [], []
                child = leaf.node_id
                while child != 0:
                    parent = (child - 1) // 2
                    left = child == left_child(parent)
                    if parent in col_of:
                        cols.append(col_of[parent])
                        dirs.append(left)
                    else:
                        constraint.append((parent, left))
                    child = parent
                cell = -1
                if constraint:
                    key = tuple(reversed(constraint))
                    try:
                        cell = cell_pos[tree.index][key]
                    except KeyError:
                        raise FailedPrecondition(
                            "the cell layout does not match the trees"
                        ) from None
                rows.append((cols, dirs, cell, float(leaf.value), pos))
        depth = max((len(r[0]) for r in rows), default=1) or 1
        n_cols = len(self.features)
        self._table = _LeafTable(
            index=np.asarray(
                [r[0] + [n_cols] * (depth - len(r[0])) for r in rows], dtype=np.int64
            ).reshape(len(rows), depth),
            wanted=np.asarray(
                [r[1] + [True] * (depth - len(r[1])) for r in rows], dtype=bool
            ).reshape(len(rows), depth),
            cell=np.asarray([r[2] for r in rows], dtype=np.int64),
            value=np.asarray([r[3] for r in rows], dtype=np.float64),
            tree=np.asarray([r[4] for r in rows], dtype=np.int64),
        )
        self._feat = np.asarray(self.features, dtype=np.int64)
        self._thr = np.asarray(self.thresholds, dtype=np.float64)
        self._ml = np.asarray(self.missing_left, dtype=bool)
        in_cells = self._table.cell >= 0
        self._onehot = np.zeros((int(in_cells.sum()), layout.n_cells))
        self._onehot[np.arange(self._onehot.shape[0]), self._table.cell[in_cells]] = 1.0
        self.max_value = float(np.abs(self._table.value[in_cells]).max()) if in_cells.any() else 0.0
        per_tree = np.zeros(len(trees))
        np.maximum.at(per_tree, self._table.tree[in_cells], np.abs(self._table.value[in_cells]))
        self.read_bound = float(per_tree.sum())  # |margin read-out| <= this

    def bank_consistent(self, X: np.ndarray) -> np.ndarray:
        """``(rows, leaves)``: ``b_l`` for each row (the bank's own decisions only)."""
        X = np.asarray(X, dtype=np.float64)
        xs = X[:, self._feat] if self._feat.size else np.zeros((X.shape[0], 0))
        with np.errstate(invalid="ignore"):
            left = np.where(np.isnan(xs), self._ml[None, :], xs <= self._thr[None, :])
        for j, codes in enumerate(self.categories):
            if codes is not None:
                left[:, j] = category_decision(xs[:, j], codes, bool(self._ml[j]))
        ext = np.concatenate([left, np.ones((X.shape[0], 1), dtype=bool)], axis=1)
        t = self._table
        return np.all(ext[:, t.index] == t.wanted[None, :, :], axis=2)

    def values(self, X: np.ndarray, quant_bits: int) -> tuple[np.ndarray, np.ndarray]:
        """``(local, cells)``: what the bank adds itself (float) and the ``(rows, n_cells)``
        integer cell values ``round(v * 2^quant_bits) * 2^GUARD_BITS * b`` it encrypts."""
        b = self.bank_consistent(X)
        t = self._table
        own = t.cell < 0
        local = (b[:, own] * t.value[own][None, :]).sum(axis=1)
        scaled = np.round(t.value[~own] * 2.0**quant_bits) * 2.0**GUARD_BITS
        # at most one bank-consistent leaf per cell: every sum below has one nonzero term
        cells = (b[:, ~own] * scaled[None, :]) @ self._onehot
        return local, cells

    def quant_bits(self, max_coeff_bits: int = 49, read_bits: int = 56) -> int:
        """Fractional bits of the quantised leaf values: cell values below
        ``2^max_coeff_bits``, read-outs below ``2^read_bits`` (and at least
        :data:`MIN_QUANT_BITS`)."""
        vmax = max(self.max_value, 2.0**-20)
        bound = max(self.read_bound, 2.0**-20)
        s = min(
            math.floor(max_coeff_bits - math.log2(vmax)),
            math.floor(read_bits - math.log2(bound)),
            60,
        )
        q = s - GUARD_BITS
        if q < MIN_QUANT_BITS:
            raise InvalidArgument("leaf values are too large for exact secure prediction")
        return int(q)
