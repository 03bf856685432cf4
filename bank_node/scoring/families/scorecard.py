"""Federated scorecards (``models/scorecard``): base + bank points + decrypted platform points.

The score is the scorecard's own points total; the probability of default is the one those
points imply (``logit = (offset - points) / factor``), exactly as the scorecard's offline
``predict_proba``. Reason codes: a feature whose points are below zero (worse than average
odds) contributes ``-points / factor`` to the log-odds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bank_node.scoring.assembler import BANK_SOURCE, Assembled, sigmoid
from bank_node.scoring.families.common import Scored, ScoreJob
from bank_node.scoring.families.logreg import LinearPartials
from bank_node.scoring.keys import ScoringKeys
from models.federation.peer import ScoringPeer
from models.scorecard.active import FederatedScorecard
from models.scorecard.points import sum_points


class ScorecardScoring:
    family = "scorecard"

    def __init__(self, card: FederatedScorecard) -> None:
        self.model_id: str = card.model_id_
        self.platform_digest: str = card.platform_digest_
        self.dataset: str = card.platform_dataset_
        self.bank_features: list[str] = list(card.feature_names_in_)
        self.describe: dict[str, str] = {}
        self.woe = card.bank_woe_
        self.points = list(card.bank_points_)
        self.base_points = float(card.base_points_)
        self.selected = list(card.bank_features_)
        self.scaling = card.scaling()
        self.partials = LinearPartials(self)

    @classmethod
    def load(cls, path: Path) -> ScorecardScoring:
        return cls(FederatedScorecard.load(path))

    def score(self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys) -> Scored:
        platform_points, names, consent_id, as_of = self.partials.partial(job, platform, keys)
        codes = self.woe.coarse_codes(np.asarray(job.x_bank, dtype=np.float64)[None, :])
        bank_points = self.base_points + sum_points(codes, self.points)
        total = float((bank_points + platform_points)[0])
        logit = float(self.scaling.logit_from_score(np.asarray([total]))[0])
        factor = self.scaling.factor
        contrib = {
            (BANK_SOURCE, name): -float(pts[codes[0, k]]) / factor
            for k, (name, pts) in enumerate(zip(self.selected, self.points, strict=True))
        }
        assembled = Assembled(
            log_odds=logit,
            pd=sigmoid(logit),
            contributions=contrib,
            platform_categories=names,
            platform_weight=-platform_points / factor if math.isfinite(factor) else 0.0,
            points=total,
        )
        return Scored(assembled, consent_id, as_of)
