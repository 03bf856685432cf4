"""Plaintext GBDT of exactly the SecureBoost algorithm: the lossless reference.

Same binning (quantiles on the training rows, a missing bin), same fixed-point gradients, same
sampling, same split rule and the same level-wise grower as the federated model; only the
backend differs (all features local). A federated model must reproduce its trees exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models.errors import InvalidArgument
from models.secureboost.binning import QuantileBinner
from models.secureboost.engine import BoostEngine, BoostParams, BoostState, Callback, StopCheck
from models.secureboost.grower import Hist, NodeRows, SplitOrder
from models.secureboost.loss import sigmoid
from models.secureboost.plain_hist import plain_histograms
from models.secureboost.tree import BANK, Node, Tree, bin_decision


class PlainBackend:
    """All features local: histograms and partitions straight from the bin codes."""

    def __init__(self, bins: np.ndarray, binner: QuantileBinner, n_bank_features: int) -> None:
        self.bins = bins
        self.binner = binner
        self.n_features = bins.shape[1]
        self.n_bank_features = n_bank_features
        self.n_slots = binner.n_slots
        self.n_value_bins = binner.n_value_bins
        self.categorical = binner.categorical
        self._gq = np.zeros(0, dtype=np.int64)
        self._hq = np.zeros(0, dtype=np.int64)

    def begin_tree(
        self, t: int, gq: np.ndarray, hq: np.ndarray, rows: np.ndarray, features: np.ndarray
    ) -> None:
        self._gq, self._hq = gq, hq

    def histograms(
        self, t: int, depth: int, nodes: list[NodeRows], features: np.ndarray | None = None
    ) -> list[Hist]:
        return [
            plain_histograms(self.bins, n.rows, self._gq, self._hq, self.n_slots) for n in nodes
        ]

    def partition(self, t: int, depth: int, splits: list[SplitOrder]) -> list[np.ndarray]:
        mc = self.binner.missing_code
        return [
            bin_decision(self.bins[s.rows, s.feature], s.bin, s.missing_left, mc, s.left_bins)
            for s in splits
        ]

    def _global(self, node: Node) -> int:
        return node.feature if node.owner == BANK else self.n_bank_features + node.feature

    def route(self, t: int, tree: Tree, rows: np.ndarray) -> np.ndarray:
        return route_bins(tree, self.bins[rows], self._global, self.binner.missing_code)

    def end_tree(self, t: int, tree: Tree) -> None:
        return None


def route_bins(tree: Tree, codes: np.ndarray, column: Any, missing_code: int) -> np.ndarray:
    """Leaf ids from bin codes; ``column(node)`` gives the code column of a split node."""

    def decide(node: Node, idx: np.ndarray) -> np.ndarray:
        return bin_decision(
            codes[idx, column(node)], node.bin, node.missing_left, missing_code, node.left_bins
        )

    return tree.route(codes.shape[0], decide)


class SecureBoostReference:
    """Centralized GBDT on the joined table with the SecureBoost algorithm.

    Parameters are those of :class:`~models.secureboost.engine.BoostParams`. ``fit`` takes the
    joined feature matrix; ``n_bank_features`` marks the first columns as the bank's so that
    split ownership (and platform split ids) match a federated run column for column;
    ``categorical`` (bool per column) marks category-code columns (set splits).
    """

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return dict(self.params)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        n_bank_features: int | None = None,
        categorical: np.ndarray | None = None,
        train_rows: np.ndarray | None = None,
        valid_rows: np.ndarray | None = None,
        callbacks: Sequence[Callback] = (),
        should_stop: StopCheck | None = None,
    ) -> SecureBoostReference:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise InvalidArgument("X must be 2-D with one label per row")
        params = BoostParams(**self.params)
        params.validate()
        n = X.shape[0]
        train = np.arange(n) if train_rows is None else np.asarray(train_rows, dtype=np.int64)
        valid = np.zeros(0, np.int64) if valid_rows is None else np.asarray(valid_rows, np.int64)
        self.binner_ = QuantileBinner(params.n_bins).fit(X[train], categorical)
        bins = self.binner_.transform(X)
        nb = X.shape[1] if n_bank_features is None else int(n_bank_features)
        self.n_bank_features_ = nb
        self.backend_ = PlainBackend(bins, self.binner_, nb)
        self.engine_ = BoostEngine(params, self.backend_, y, train, valid)
        state: BoostState = self.engine_.initial_state()
        state = self.engine_.run(state, callbacks=callbacks, should_stop=should_stop)
        self.state_ = state
        self.trees_ = self.engine_.final_trees(state)
        self.base_score_ = state.base_score
        self.history_ = state.history
        self.frac_bits_ = self.engine_.frac_bits
        return self

    def decision_function_plain(self, X: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) for rows of the joined table."""
        codes = self.binner_.transform(np.asarray(X, dtype=np.float64))
        raw = np.full(codes.shape[0], self.base_score_)
        for tree in self.trees_:
            leaves = route_bins(tree, codes, self.backend_._global, self.binner_.missing_code)
            raw += tree.leaf_values(leaves)
        return raw

    def predict_proba_plain(self, X: np.ndarray) -> np.ndarray:
        p = sigmoid(self.decision_function_plain(X))
        return np.column_stack([1.0 - p, p])
