"""SecureBoost (``models/secureboost``): trees routed with the platform's decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bank_node.scoring.assembler import Assembled, TreeModelView
from bank_node.scoring.keys import ScoringKeys
from models.errors import FailedPrecondition
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.federated import unpack_decisions
from proto.fedcredit.v1 import scoring_pb2


class SecureBoostScoring:
    family = "secureboost"
    needs_key = False

    def __init__(self, model: SecureBoostClassifier) -> None:
        self.model_id: str = model.model_id_
        self.platform_digest: str = model.platform_digest_
        self.dataset: str = model.platform_dataset_
        self.bank_features: list[str] = list(model.bank_feature_names_)
        self.describe: dict[str, str] = {}
        self.split_ids = set(model.platform_split_ids())
        self.view = TreeModelView(
            trees=model.trees_,
            base_score=model.base_score_,
            platform_groups=list(model.platform_feature_groups_),
            bank_names=self.bank_features,
        )

    @classmethod
    def load(cls, path: Path) -> SecureBoostScoring:
        return cls(SecureBoostClassifier.load_model(path))

    def assemble(
        self, x_bank: np.ndarray, reply: scoring_pb2.PlatformScoreResponse, keys: ScoringKeys
    ) -> Assembled:
        ids = [int(s) for s in reply.split_ids]
        if not self.split_ids <= set(ids):
            raise FailedPrecondition("the platform's part does not hold every split of the model")
        bits = unpack_decisions(np.frombuffer(reply.decisions, dtype=np.uint8), len(ids), 1)
        return self.view.assemble(x_bank, ids, bits[:, 0])
