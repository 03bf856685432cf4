"""The platform's half of a federated scorecard (``algorithm = "scorecard"``).

One session runs the whole job: federated binning and WOE/IV (the binning steps), then
vertical LR on the WOE values of the selected features (the LR steps, with the platform's
design matrix = WOE of ITS selected features), then the scorecard finalisation: the platform
turns its weights and WOE tables into points per bin and keeps them. At scoring time it
returns, encrypted under the bank's key, each row's sum of platform points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.binning.passive import BinningPassive
from models.binning.transform import by_index
from models.dataset import PartyTable
from models.errors import FailedPrecondition
from models.federation.party import handles, register_party
from models.logreg.messages import LrScorecardRequest, LrScorecardResponse
from models.logreg.model_io import SCORECARD_PLATFORM_FORMAT, check_model_id
from models.logreg.optim import LrParams
from models.logreg.passive import LogRegPassive
from models.part_signing import signature_fields
from models.scorecard.points import points_table
from models.scorecard.scoring import ScorecardPart


@register_party
class ScorecardPassive(BinningPassive, LogRegPassive):
    """Platform side of the scorecard job: binning + WOE LR + points."""

    algorithm = "scorecard"
    part_kind = "scorecard"
    part_format = SCORECARD_PLATFORM_FORMAT

    def bin_table(self) -> PartyTable:
        return self._load()

    # ------------------------------------------------------------------ LR hooks
    def design(
        self, table: PartyTable, train: np.ndarray, params: LrParams
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """WOE values of the selected platform features (no standardisation)."""
        if self.woe_transform is None:
            raise FailedPrecondition("the WOE transform must be set before training")
        cats = by_index(table.feature_names, table.categories)
        return self.woe_transform.transform(table.X, cats), {"kind": "woe"}

    def feature_names(self) -> list[str]:
        assert self.woe_transform is not None
        names = self._load().feature_names
        return [names[f] for f in self.woe_transform.features]

    def feature_groups(self) -> list[str]:
        assert self.woe_transform is not None
        groups = self._load().feature_groups
        return [groups[f] for f in self.woe_transform.features]

    def scoring_part(self, model_id: str) -> ScorecardPart:
        """The saved scorecard part as the online scorer reads it (points sums)."""
        return ScorecardPart.load(self.part_path(model_id))

    # ------------------------------------------------------------------ finalisation
    @handles
    def scorecard(self, request: LrScorecardRequest) -> LrScorecardResponse:
        """Save the platform's scorecard part (points per bin of its selected features).

        Reveals to bank: see :class:`LrScorecardResponse`.
        """
        _, opt, params = self._require_ready()
        check_model_id(request.model_id)
        if request.model_id != self.model_id or self.woe_transform is None:
            raise FailedPrecondition("scorecard finalisation names another model")
        weights = self.kept_weights(int(request.epoch), opt)
        if not request.factor > 0:
            raise FailedPrecondition("the scaling factor must be positive")
        pts = points_table(
            weights, self.woe_transform.woe, float(request.factor), bool(request.round_points)
        )
        digest = self.save_model_part(
            params,
            int(request.epoch),
            weights,
            {
                "woe_transform": self.woe_transform.to_dict(),
                "factor": float(request.factor),
                "points": [p.tolist() for p in pts],
                **({"binning_dp": dp} if (dp := self.binning_privacy()) else {}),
            },
        )
        return LrScorecardResponse(
            model_id=self.model_id,
            platform_digest=digest,
            n_features=len(pts),
            n_bins=[int(p.size) for p in pts],
            **signature_fields(self.part_path(self.model_id)),
        )
