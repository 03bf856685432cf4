"""Federated prediction: the platform's decisions at its splits, the bank completes each path.

The bank sends the ids of the companies to score (in batches) and every platform split id of
the model; the platform answers a go-left bit per (split, id) without learning which splits a
company's path actually reaches, its bank features or its score.
"""

from __future__ import annotations

import numpy as np

from models.errors import FailedPrecondition, InvalidArgument
from models.secureboost.federated import unpack_decisions
from models.secureboost.messages import SbPredictRequest
from models.secureboost.stub import SecureBoostStub
from models.secureboost.tree import BANK, Node, Tree, value_decision


def platform_decisions(
    stub: SecureBoostStub,
    model_id: str,
    platform_digest: str,
    ids: np.ndarray,
    split_ids: list[int],
    batch_size: int = 4096,
) -> np.ndarray:
    """``(len(split_ids), len(ids))`` go-left decisions from the platform."""
    ids = np.asarray(ids).astype(str)
    out = np.zeros((len(split_ids), ids.size), dtype=bool)
    if not split_ids or ids.size == 0:
        return out
    if batch_size < 1:
        raise InvalidArgument("batch size must be positive")
    for b, start in enumerate(range(0, ids.size, batch_size)):
        chunk = ids[start : start + batch_size]
        resp = stub.predict(
            b, SbPredictRequest(model_id=model_id, ids=chunk.tolist(), split_ids=list(split_ids))
        )
        if platform_digest and resp.platform_digest != platform_digest:
            raise FailedPrecondition("the platform holds another version of this model")
        if list(resp.split_ids) != list(split_ids) or resp.n_rows != chunk.size:
            raise InvalidArgument("the platform answered for other splits or rows")
        out[:, start : start + chunk.size] = unpack_decisions(
            resp.decisions, len(split_ids), chunk.size
        )
    return out


def raw_scores(
    trees: list[Tree],
    base_score: float,
    X_bank: np.ndarray,
    split_ids: list[int],
    decisions: np.ndarray,
) -> np.ndarray:
    """Raw scores from the bank's feature values and the platform's decisions."""
    n = X_bank.shape[0]
    index = {sid: i for i, sid in enumerate(split_ids)}

    def decide(node: Node, idx: np.ndarray) -> np.ndarray:
        if node.owner == BANK:
            return value_decision(X_bank[idx, node.feature], node.threshold, node.missing_left)
        return decisions[index[node.split_id], idx]

    raw = np.full(n, float(base_score))
    for tree in trees:
        raw += tree.leaf_values(tree.route(n, decide))
    return raw
