"""Vertical logistic regression (``models/logreg``): bank terms + decrypted platform partial."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bank_node.scoring.assembler import linear_assemble
from bank_node.scoring.families.common import Scored, ScoreJob, check_reply, header_for, refusal
from bank_node.scoring.keys import ScoringKeys
from models.federation.peer import ScoringPeer
from models.logreg.active import FederatedLogisticRegression
from models.logreg.scoring import LinearScoreRequest, LinearScoreResponse


def platform_partial(
    model: object, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys
) -> tuple[float, list[str], str, str]:
    """(decrypted platform partial, its adverse categories, consent id, as_of) of one company."""
    request = LinearScoreRequest(
        header=header_for(model, [job]),  # type: ignore[arg-type]
        public_key=keys.public_bytes(),
        max_reasons=job.max_reasons,
    )
    reply = platform.score(request, LinearScoreResponse)
    check_reply(reply.reply, 1)
    err = refusal(reply.reply, 0)
    if err is not None:
        raise err
    partial = float(keys.decrypt_values(reply.enc_values, 1)[0])
    names = list(reply.adverse_categories[0].names) if reply.adverse_categories else []
    return partial, names, reply.reply.consent_ids[0], reply.reply.as_of


class LogRegScoring:
    family = "logreg"

    def __init__(self, model: FederatedLogisticRegression) -> None:
        self.model_id: str = model.model_id_
        self.platform_digest: str = model.platform_digest_
        self.dataset: str = model.platform_dataset_
        self.bank_features: list[str] = list(model.feature_names_in_)
        self.describe: dict[str, str] = {}
        self.model = model
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = float(model.intercept_)

    @classmethod
    def load(cls, path: Path) -> LogRegScoring:
        return cls(FederatedLogisticRegression.load(path))

    def score(self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys) -> Scored:
        partial, names, consent_id, as_of = platform_partial(self, job, platform, keys)
        z = self.model.bank_design(np.asarray(job.x_bank, dtype=np.float64)[None, :])[0]
        # a categorical feature's columns count as one contribution, that of the feature
        terms = np.zeros(len(self.bank_features))
        np.add.at(terms, np.asarray(self.model.encoder_.sources_, dtype=np.int64), z * self.coef)
        assembled = linear_assemble(
            terms, np.ones(terms.size), self.intercept, self.bank_features, partial, names
        )
        return Scored(assembled, consent_id, as_of)
