"""Vertical logistic regression (``models/logreg``): bank terms + decrypted platform partial."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bank_node.scoring.assembler import Assembled, linear_assemble
from bank_node.scoring.keys import ScoringKeys
from models.crypto.wire import CipherArray
from models.logreg.active import FederatedLogisticRegression
from proto.fedcredit.v1 import scoring_pb2
from proto.transport.codec import from_proto


class LogRegScoring:
    family = "logreg"
    needs_key = True

    def __init__(self, model: FederatedLogisticRegression) -> None:
        self.model_id: str = model.model_id_
        self.platform_digest: str = model.platform_digest_
        self.dataset: str = model.platform_dataset_
        self.bank_features: list[str] = list(model.feature_names_in_)
        self.describe: dict[str, str] = {}
        self.transform = model.transform_
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = float(model.intercept_)

    @classmethod
    def load(cls, path: Path) -> LogRegScoring:
        return cls(FederatedLogisticRegression.load(path))

    def assemble(
        self, x_bank: np.ndarray, reply: scoring_pb2.PlatformScoreResponse, keys: ScoringKeys
    ) -> Assembled:
        partial = float(keys.decrypt_values(from_proto(reply.enc_values, CipherArray), 1)[0])
        z = self.transform.transform(np.asarray(x_bank, dtype=np.float64)[None, :])[0]
        return linear_assemble(
            z,
            self.coef,
            self.intercept,
            self.bank_features,
            partial,
            list(reply.adverse_categories),
        )
