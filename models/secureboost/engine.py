"""The boosting loop shared by the plaintext reference and the federated bank.

Everything that decides the model (gradients, fixed-point scale, row and column sampling, GOSS,
early stopping) lives here and draws from one seeded generator, so the reference and the
federated run produce the same trees when their backends return the same histograms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from models.errors import Cancelled, InvalidArgument
from models.secureboost.grower import GrowParams, TreeBackend, grow_tree
from models.secureboost.loss import auc, base_score, grad_hess, ks, logloss
from models.secureboost.privacy import STANDARD, PrivacyPolicy, policy_for
from models.secureboost.splitter import SplitParams
from models.secureboost.tree import MAX_DEPTH, Tree

Callback = Callable[[dict[str, Any]], None]
StopCheck = Callable[[], bool]


#: Upper bound on the number of trees (each is a full federated round trip per level).
MAX_ESTIMATORS = 10_000
_INT_PARAMS = ("n_estimators", "max_depth", "n_bins", "early_stopping_rounds", "random_state")
_FLOAT_PARAMS = (
    "learning_rate",
    "min_child_weight",
    "reg_lambda",
    "gamma",
    "subsample",
    "colsample_bytree",
    "top_rate",
    "other_rate",
)


@dataclass(frozen=True)
class BoostParams:
    """Hyper-parameters of the algorithm (see :class:`SecureBoostClassifier`)."""

    n_estimators: int = 50
    learning_rate: float = 0.1
    max_depth: int = 5
    min_child_weight: float = 1.0
    reg_lambda: float = 1.0
    gamma: float = 0.0
    n_bins: int = 32
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    goss: bool = False
    top_rate: float = 0.2
    other_rate: float = 0.1
    early_stopping_rounds: int = 0
    random_state: int = 0
    privacy: str = STANDARD
    cat_smooth: float = 10.0
    cat_l2: float = 10.0
    max_cat_threshold: int = 32
    min_data_per_group: int = 100
    max_cat_to_onehot: int = 4

    @property
    def policy(self) -> PrivacyPolicy:
        """The privacy mode's tree schedule and protections (:mod:`.privacy`)."""
        return policy_for(self.privacy)

    def validate(self) -> None:
        for name in _INT_PARAMS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InvalidArgument(f"{name} must be an integer")
        for name in _FLOAT_PARAMS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise InvalidArgument(f"{name} must be a number")
            if not math.isfinite(float(value)):
                raise InvalidArgument(f"{name} must be finite")
        if not isinstance(self.goss, (bool, np.bool_)):
            raise InvalidArgument("goss must be true or false")
        if not isinstance(self.privacy, str):
            raise InvalidArgument("privacy must be a mode name")
        if self.n_estimators < 1:
            raise InvalidArgument("n_estimators must be at least 1")
        if self.n_estimators > MAX_ESTIMATORS:
            raise InvalidArgument(f"n_estimators must be at most {MAX_ESTIMATORS}")
        if not 0.0 < self.learning_rate <= 1.0:
            raise InvalidArgument("learning_rate must be in (0, 1]")
        if not 1 <= self.max_depth <= MAX_DEPTH:
            raise InvalidArgument("max_depth must be between 1 and 15")
        if self.min_child_weight < 0 or self.reg_lambda < 0 or self.gamma < 0:
            raise InvalidArgument("min_child_weight, reg_lambda and gamma must be non-negative")
        if not 2 <= self.n_bins <= 254:
            raise InvalidArgument("n_bins must be between 2 and 254")
        if not 0.0 < self.subsample <= 1.0 or not 0.0 < self.colsample_bytree <= 1.0:
            raise InvalidArgument("subsample and colsample_bytree must be in (0, 1]")
        if self.goss:
            if self.subsample < 1.0:
                raise InvalidArgument("GOSS and subsample cannot be combined")
            if not (0 < self.top_rate < 1 and 0 < self.other_rate < 1):
                raise InvalidArgument("GOSS rates must be in (0, 1)")
            if self.top_rate + self.other_rate > 1:
                raise InvalidArgument("GOSS top_rate + other_rate must not exceed 1")
        if self.early_stopping_rounds < 0:
            raise InvalidArgument("early_stopping_rounds must be non-negative")
        if self.cat_smooth < 0 or self.cat_l2 < 0 or self.min_data_per_group < 0:
            raise InvalidArgument("cat_smooth, cat_l2 and min_data_per_group must be non-negative")
        if self.max_cat_threshold < 1 or self.max_cat_to_onehot < 1:
            raise InvalidArgument("max_cat_threshold and max_cat_to_onehot must be at least 1")
        if self.early_stopping_rounds and not self.policy.routes_validation:
            raise InvalidArgument(
                "early stopping needs per-tree validation scores, which privacy = "
                "'hardened' or 'strict' does not compute (validation rows are scored once, "
                "after training); use privacy = 'standard' or early_stopping_rounds = 0"
            )

    @property
    def max_row_weight(self) -> float:
        """Largest factor a row's g/h is multiplied by (GOSS amplifies sampled small ones)."""
        if self.goss:
            return max(1.0, (1.0 - self.top_rate) / self.other_rate)
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Finest fixed-point scale used: 2**-32 is far below float32 gradient precision (LightGBM's),
#: and every extra bit widens the packed sums the platform shifts and the bank decrypts.
FRAC_BITS_MAX = 32


def frac_bits_for(n_rows: int, max_row_weight: float = 1.0) -> int:
    """Fixed-point scale keeping every histogram sum an exact float64 (< 2**52 in magnitude)."""
    bound = max(2.0, float(n_rows) * float(max_row_weight))
    return int(min(FRAC_BITS_MAX, 52 - math.ceil(math.log2(bound))))


@dataclass
class BoostState:
    """Everything needed to continue training after tree ``len(trees) - 1`` (checkpointable)."""

    base_score: float
    trees: list[Tree] = field(default_factory=list)
    raw_train: np.ndarray = field(default_factory=lambda: np.zeros(0))
    raw_valid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rng_state: dict[str, Any] = field(default_factory=dict)
    best_iteration: int = -1
    best_score: float = -math.inf
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False


def sample_rows(
    rng: np.random.Generator, g: np.ndarray, params: BoostParams
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into the training rows) used by one tree and their g/h weights."""
    n = g.size
    if params.goss:
        top_k = int(params.top_rate * n)
        other_k = int(params.other_rate * n)
        order = np.argsort(-np.abs(g), kind="stable")
        top, rest = order[:top_k], order[top_k:]
        other = rng.choice(rest, size=min(other_k, rest.size), replace=False)
        idx = np.concatenate([top, other])
        w = np.concatenate(
            [np.ones(top.size), np.full(other.size, (1.0 - params.top_rate) / params.other_rate)]
        )
        order2 = np.argsort(idx, kind="stable")
        return idx[order2], w[order2]
    if params.subsample < 1.0:
        k = max(1, round(params.subsample * n))
        idx = np.sort(rng.choice(n, size=k, replace=False))
        return idx, np.ones(k)
    return np.arange(n), np.ones(n)


def sample_features(rng: np.random.Generator, n_features: int, params: BoostParams) -> np.ndarray:
    mask = np.ones(n_features, dtype=bool)
    if params.colsample_bytree < 1.0:
        k = max(1, round(params.colsample_bytree * n_features))
        mask[:] = False
        mask[rng.choice(n_features, size=k, replace=False)] = True
    return mask


class BoostEngine:
    """Runs boosting rounds over a backend; positions index the (aligned) table.

    Parameters
    ----------
    params:
        Hyper-parameters.
    backend:
        Histogram/partition provider.
    y:
        Labels of every table position (only ``train_rows`` and ``valid_rows`` are read).
    train_rows, valid_rows:
        Positions of the training and validation rows.
    """

    def __init__(
        self,
        params: BoostParams,
        backend: TreeBackend,
        y: np.ndarray,
        train_rows: np.ndarray,
        valid_rows: np.ndarray,
    ) -> None:
        params.validate()
        self.params = params
        self.backend = backend
        self.train_rows = np.asarray(train_rows, dtype=np.int64)
        self.valid_rows = np.asarray(valid_rows, dtype=np.int64)
        self.y = np.asarray(y, dtype=np.float64)
        self.y_train = self.y[self.train_rows]
        self.y_valid = self.y[self.valid_rows]
        self.n_total = int(self.y.shape[0])
        self.frac_bits = frac_bits_for(self.train_rows.size, params.max_row_weight)
        self.policy = params.policy

    def initial_state(self) -> BoostState:
        base = base_score(self.y_train)
        rng = np.random.default_rng(self.params.random_state)
        return BoostState(
            base_score=base,
            raw_train=np.full(self.train_rows.size, base),
            raw_valid=np.full(self.valid_rows.size, base),
            rng_state=dict(rng.bit_generator.state),
        )

    def use_early_stopping(self) -> bool:
        return (
            self.params.early_stopping_rounds > 0
            and self.policy.routes_validation
            and self.valid_rows.size > 0
            and np.unique(self.y_valid).size == 2
        )

    def run(
        self,
        state: BoostState,
        *,
        callbacks: Sequence[Callback] = (),
        should_stop: StopCheck | None = None,
        on_tree: Callable[[BoostState], None] | None = None,
    ) -> BoostState:
        """Train trees ``len(state.trees) .. n_estimators - 1`` (or until early stopping)."""
        p = self.params
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng_state
        grow = GrowParams(
            p.max_depth,
            p.learning_rate,
            SplitParams(
                p.reg_lambda,
                p.min_child_weight,
                p.gamma,
                p.cat_smooth,
                p.cat_l2,
                p.max_cat_threshold,
                p.min_data_per_group,
                p.max_cat_to_onehot,
            ),
        )
        scale = float(2.0**self.frac_bits)
        while len(state.trees) < p.n_estimators and not state.stopped_early:
            if should_stop is not None and should_stop():
                raise Cancelled("training was cancelled")
            t = len(state.trees)
            started = time.perf_counter()
            g, h = grad_hess(state.raw_train, self.y_train)
            idx, w = sample_rows(rng, g, p)
            features = sample_features(rng, self.backend.n_features, p)
            if not self.policy.tree_uses_platform(t):
                features[self.backend.n_bank_features :] = False
            rows = self.train_rows[idx]
            gq = np.zeros(self.n_total, dtype=np.int64)
            hq = np.zeros(self.n_total, dtype=np.int64)
            gq[rows] = np.rint(g[idx] * w * scale).astype(np.int64)
            hq[rows] = np.rint(h[idx] * w * scale).astype(np.int64)
            order = np.argsort(rows, kind="stable")
            rows = rows[order]
            self.backend.begin_tree(t, gq, hq, rows, features)
            tree, leaf_rows = grow_tree(
                t,
                self.backend,
                gq,
                hq,
                rows,
                features,
                self.frac_bits,
                grow,
                should_stop,
                level_mask=self._level_mask(t, features),
            )
            self._update_scores(t, tree, leaf_rows, idx, state)
            self.backend.end_tree(t, tree)
            state.trees.append(tree)
            state.rng_state = dict(rng.bit_generator.state)
            info = self._evaluate(t, state, time.perf_counter() - started)
            state.history.append(info)
            if on_tree is not None:
                on_tree(state)
            for cb in callbacks:
                cb(dict(info))
        return state

    def _level_mask(self, t: int, features: np.ndarray) -> Callable[[int], np.ndarray]:
        """Features allowed at each depth of tree ``t`` (the privacy mode's schedule)."""
        bank_only = features.copy()
        bank_only[self.backend.n_bank_features :] = False

        def mask(depth: int) -> np.ndarray:
            return features if self.policy.level_uses_platform(t, depth) else bank_only

        return mask

    def _update_scores(
        self,
        t: int,
        tree: Tree,
        leaf_rows: dict[int, np.ndarray],
        sampled_idx: np.ndarray,
        state: BoostState,
    ) -> None:
        pos_to_train = np.full(self.n_total, -1, dtype=np.int64)
        pos_to_train[self.train_rows] = np.arange(self.train_rows.size)
        for leaf_id, rows in leaf_rows.items():
            state.raw_train[pos_to_train[rows]] += tree.nodes[leaf_id].value
        unsampled = np.ones(self.train_rows.size, dtype=bool)
        unsampled[sampled_idx] = False
        valid = self.valid_rows if self.policy.routes_validation else self.valid_rows[:0]
        other = np.concatenate([self.train_rows[unsampled], valid])
        if other.size == 0:
            return
        leaves = self.backend.route(t, tree, other)
        values = tree.leaf_values(leaves)
        n_un = int(unsampled.sum())
        state.raw_train[np.flatnonzero(unsampled)] += values[:n_un]
        if valid.size:
            state.raw_valid += values[n_un:]

    def _evaluate(self, t: int, state: BoostState, seconds: float) -> dict[str, Any]:
        info: dict[str, Any] = {
            "tree": t,
            "train_loss": logloss(self.y_train, state.raw_train),
            "val_auc": float("nan"),
            "val_ks": float("nan"),
            "seconds": seconds,
        }
        if self.valid_rows.size and self.policy.routes_validation:
            info["val_auc"] = auc(self.y_valid, state.raw_valid)
            info["val_ks"] = ks(self.y_valid, state.raw_valid)
        if self.use_early_stopping():
            score = float(info["val_auc"])
            if score > state.best_score:
                state.best_score = score
                state.best_iteration = t
            elif t - state.best_iteration >= self.params.early_stopping_rounds:
                state.stopped_early = True
        else:
            state.best_iteration = t
        return info

    def final_trees(self, state: BoostState) -> list[Tree]:
        """The trees of the final model (up to the best iteration under early stopping)."""
        if self.use_early_stopping() and state.best_iteration >= 0:
            return state.trees[: state.best_iteration + 1]
        return list(state.trees)
