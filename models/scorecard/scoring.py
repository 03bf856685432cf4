"""Online scoring of scorecards: the encrypted sum of the platform's points.

The platform part (``<data_dir>/models/scorecard/[<bank>/]<model_id>.json``, saved by
:mod:`models.scorecard.passive`) holds the platform's WOE transform (its private cut points) and
its points per bin. For each company the platform sums the points of its bins (exactly as the
protocol's scoring step does), encrypts the sum under the bank's Paillier key and names the
categories whose points lowered the score most (points below zero mean worse than average
odds, i.e. a positive log-odds term ``-points / factor``).

**What this implies.** The bank decrypts the sum of the platform's points of each company it
scores (the product: the score is base + bank points + platform points). The sum is a step
function of the platform's features through its private bins; the bank learns that number and
up to ``max_reasons`` category names, never the bins or the features. Same messages and same
encryption as :mod:`models.logreg.scoring`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.binning.transform import WoeTransform, by_index
from models.errors import DataLoss, InvalidArgument
from models.federation.scoring import register_scoring
from models.logreg.model_io import SCORECARD_PLATFORM_FORMAT, load_part
from models.logreg.scoring import LinearScoring
from models.scorecard.points import sum_points


@dataclass(frozen=True)
class ScorecardPart:
    """A scorecard platform part: WOE transform, points per bin, category per feature."""

    model_id: str
    digest: str
    bank_party: str
    dataset: str
    source_features: tuple[str, ...]
    groups: tuple[str, ...]  # category of each selected feature
    woe: WoeTransform
    points: tuple[np.ndarray, ...]
    factor: float

    @classmethod
    def load(cls, path: Path) -> ScorecardPart:
        body, digest = load_part(path, SCORECARD_PLATFORM_FORMAT)
        try:
            part = cls(
                model_id=str(body["model_id"]),
                digest=digest,
                bank_party=str(body.get("bank_party", "")),
                dataset=str(body.get("dataset", "")),
                source_features=tuple(str(f) for f in body["source_feature_names"]),
                groups=tuple(str(g) for g in body["feature_groups"]),
                woe=WoeTransform.from_dict(body["woe_transform"]),
                points=tuple(np.asarray(p, dtype=np.float64) for p in body["points"]),
                factor=float(body["factor"]),
            )
        except (KeyError, TypeError, ValueError, InvalidArgument) as exc:
            raise DataLoss("the platform model part is malformed") from exc
        if len(part.groups) != len(part.points) or not part.factor > 0:
            raise DataLoss("the platform model part is malformed")
        return part

    def partial(
        self, X: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sum of each row's platform points, log-odds term ``-points_j / factor`` per
        selected feature and row)."""
        codes = self.woe.coarse_codes(
            np.asarray(X, dtype=np.float64), by_index(self.source_features, categories)
        )
        totals = np.asarray(sum_points(codes, list(self.points)), dtype=np.float64)
        per_feature = (
            np.stack([p[codes[:, k]] for k, p in enumerate(self.points)], axis=1)
            if self.points
            else np.zeros((codes.shape[0], 0))
        )
        return totals, -per_feature / self.factor


@register_scoring
class ScorecardScoring(LinearScoring):
    """The scorecard's platform part for online scoring."""

    family = "scorecard"
    part_dir = "scorecard"

    def load_part(self, path: Path) -> ScorecardPart:
        return ScorecardPart.load(path)
