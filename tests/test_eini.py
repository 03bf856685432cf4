"""EINI prediction's layout (models/secureboost/eini.py): cells, packing, equality with
plaintext prediction, exact and deterministic margins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import models.secureboost.passive  # noqa: F401
from experiments.support.scoring import StaticProvider, synthetic_tables
from models.dataset import PartyTable
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.eini import GUARD_BITS, BankCells, CellLayout, Packing, tree_cells
from models.secureboost.eini_platform import PlatformSplits
from models.secureboost.model_io import load_part
from models.secureboost.passive import PLATFORM_FORMAT
from models.secureboost.predict import raw_scores
from models.secureboost.tree import BANK, PLATFORM, Node, Tree, make_split_id
from proto.transport.codec import ProtobufCodec


def _random_tree(rng: np.random.Generator, index: int, depth: int) -> Tree:
    nodes: dict[int, Node] = {}

    def grow(node_id: int, d: int) -> None:
        if d == depth or (d > 0 and rng.random() < 0.25):
            nodes[node_id] = Node(node_id, d, value=float(rng.normal()))
            return
        owner = PLATFORM if rng.random() < 0.5 else BANK
        nodes[node_id] = Node(
            node_id,
            d,
            is_leaf=False,
            owner=owner,
            feature=int(rng.integers(3)),
            threshold=float(rng.normal()) if owner == BANK else None,
            split_id=make_split_id(index, node_id) if owner == PLATFORM else -1,
        )
        grow(2 * node_id + 1, d + 1)
        grow(2 * node_id + 2, d + 1)

    grow(0, 0)
    return Tree(index, nodes)


def _leaf_constraints(tree: Tree) -> dict[int, tuple[tuple[int, bool], ...]]:
    out = {}
    for leaf in tree.leaves():
        path, child = [], leaf.node_id
        while child:
            parent = (child - 1) // 2
            if tree.nodes[parent].owner == PLATFORM:
                path.append((parent, child == 2 * parent + 1))
            child = parent
        out[leaf.node_id] = tuple(reversed(path))
    return out


def test_cells_come_from_the_platform_split_ids_alone() -> None:
    rng = np.random.default_rng(0)
    for t in range(200):
        tree = _random_tree(rng, t, int(rng.integers(1, 6)))
        platform_nodes = [s & 0xFFFF for s in tree.platform_split_ids()]
        cells = tree_cells(platform_nodes)
        constraints = _leaf_constraints(tree)
        assert set(cells) == {c for c in constraints.values() if c}
        assert len(set(cells)) == len(cells)
        # at most one bank-consistent leaf per cell, whatever the bank's decisions
        X = rng.normal(size=(20, 3))
        layout = CellLayout.from_split_ids(tree.platform_split_ids())
        if layout.n_cells:
            b = BankCells([tree], layout).bank_consistent(X)
            cell_of = [constraints[leaf.node_id] for leaf in tree.leaves()]
            for cell in cells:
                members = [k for k, c in enumerate(cell_of) if c == cell]
                assert np.all(b[:, members].sum(axis=1) <= 1)


def _negacyclic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = a.size
    full = np.convolve(a.astype(np.int64).astype(object), b.astype(np.int64).astype(object))
    out = np.zeros(n, dtype=object)
    out[:] = full[:n]
    out[: full.size - n] -= full[n:]
    return out


@pytest.mark.parametrize("n_cells", [1, 3, 7, 13, 31, 32, 40, 90])
def test_packing_puts_each_rows_sum_on_its_read_out(n_cells: int) -> None:
    degree = 64
    packing = Packing.for_cells(n_cells, degree)
    assert packing.width * (packing.group**2 - packing.group + 1) <= degree
    rng = np.random.default_rng(n_cells)
    rows = 2 * packing.group + 1
    x = rng.integers(-1000, 1000, size=(rows, n_cells)).astype(np.float64)
    a = rng.random((rows, n_cells)) < 0.5
    bank, plat = packing.bank_polys(x), packing.platform_polys(a)
    assert len(bank) == len(plat) == packing.n_groups(rows) * packing.chunks
    for g in range(packing.n_groups(rows)):
        idx = range(g * packing.chunks, (g + 1) * packing.chunks)
        acc = sum(_negacyclic(bank[i], plat[i]) for i in idx)
        first = g * packing.group
        count = min(packing.group, rows - first)
        expect = (x[first : first + count] * a[first : first + count]).sum(axis=1)
        got = [int(acc[k]) for k in packing.positions(count)]
        assert got == [int(v) for v in expect]


@dataclass
class Trained:
    clf: SecureBoostClassifier
    bank: PartyTable
    plat: PartyTable
    peer: InProcessPeer
    body: dict[str, Any]

    def plaintext(self) -> np.ndarray:
        """Plaintext prediction: both parties' decisions in one place."""
        splits = PlatformSplits.from_part(self.body)
        go_left = splits.decisions(self.plat.X, self.plat.feature_names)
        ids = splits.split_ids.tolist()
        return raw_scores(self.clf.trees_, self.clf.base_score_, self.bank.X, ids, go_left.T)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("eini")
    bank, plat = synthetic_tables(400, seed=4)
    manager = SessionManager(root / "platform", StaticProvider(plat))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    clf = SecureBoostClassifier(n_estimators=6, max_depth=3, n_bins=16, key_bits=1024).fit(
        bank, peer, job_id="eini-model"
    )
    part = root / "platform" / "models" / "secureboost" / "bank-a" / "eini-model.json"
    body, _ = load_part(part, PLATFORM_FORMAT)
    return Trained(clf, bank, plat, peer, body)


def test_cells_and_selections_give_plaintext_prediction(trained: Trained) -> None:
    clf, bank, plat = trained.clf, trained.bank, trained.plat
    splits = PlatformSplits.from_part(trained.body)
    layout = CellLayout.from_split_ids(clf.platform_split_ids())
    assert layout == splits.layout() and layout.digest() == splits.layout_digest()
    cells = BankCells(clf.trees_, layout)
    q = cells.quant_bits()
    local, values = cells.values(bank.X, q)
    selection = splits.select(splits.decisions(plat.X, plat.feature_names))
    margin = clf.base_score_ + local + (values * selection).sum(axis=1) / 2.0 ** (q + GUARD_BITS)
    assert np.max(np.abs(margin - trained.plaintext())) <= clf.secure_predictor().tolerance()


def test_secure_margins_are_exact_and_deterministic(trained: Trained) -> None:
    clf, bank, peer = trained.clf, trained.bank, trained.peer
    rows = np.arange(60)
    first = clf.decision_function(bank.take(rows), peer)
    again = clf.decision_function(bank.take(rows[::-1]), peer)[::-1]
    expect = trained.plaintext()[rows]
    tol = clf.secure_predictor().tolerance()
    assert 0 < tol < 1e-9
    assert np.max(np.abs(first - expect)) <= tol
    # no noise survives: the same company gets the same margin in any batch, and companies
    # on the same paths tie exactly, as in plaintext
    np.testing.assert_array_equal(first, again)
    _, inverse = np.unique(expect, return_inverse=True)
    for k in np.unique(inverse):
        assert np.unique(first[inverse == k]).size == 1
