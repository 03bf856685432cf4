"""Scorecard's platform part for scoring: the encrypted sum of the platform's points.

The part (``<data_dir>/models/scorecard/<model_id>.json``, written by
:mod:`models.scorecard.passive`) holds the platform's WOE transform (its private cut points)
and its points per bin. For one company the platform sums the points of its bins (exactly as
the protocol's scoring step does), encrypts the sum under the bank's key and names the
categories whose points lowered the score the most (points below zero mean worse than average
odds, i.e. a positive log-odds term ``-points / factor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.binning.transform import WoeTransform
from models.errors import DataLoss, InvalidArgument
from models.logreg.model_io import SCORECARD_PLATFORM_FORMAT, load_part
from models.scorecard.points import sum_points
from platform_node.scoring.features import IndexedTable

FAMILY = "scorecard"
PART_DIR = "scorecard"


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
    family: str = FAMILY

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

    def partial(self, table: IndexedTable, uscc: str) -> tuple[float, np.ndarray]:
        """(sum of the company's platform points, log-odds term ``-points_j / factor`` per
        selected feature)."""
        x = table.values(uscc, self.source_features)[None, :]
        codes = self.woe.coarse_codes(x)
        total = float(sum_points(codes, list(self.points))[0])
        per_feature = np.asarray([p[codes[0, k]] for k, p in enumerate(self.points)])
        return total, -per_feature / self.factor
