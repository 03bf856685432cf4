"""SecureBoost's platform part for scoring: the split lookup table as arrays.

The part (``<data_dir>/models/secureboost/<model_id>.json``, written by
:mod:`models.secureboost.passive`) maps each platform split id to (feature name, threshold,
missing direction). For one company the platform answers the go-left bit of every split of the
model, so it learns nothing about which splits the company's path actually reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import DataLoss
from models.secureboost.passive import load_platform_part
from platform_node.scoring.features import IndexedTable

FAMILY = "secureboost"
PART_DIR = "secureboost"


@dataclass(frozen=True)
class TreePart:
    """A SecureBoost platform part, ready for one-row decisions."""

    model_id: str
    digest: str
    bank_party: str
    dataset: str
    split_ids: np.ndarray  # int64, ascending
    features: tuple[str, ...]  # feature name per split
    thresholds: np.ndarray  # float64; +inf where every non-missing value goes left
    missing_left: np.ndarray  # bool
    family: str = FAMILY

    @classmethod
    def load(cls, path: Path) -> TreePart:
        body, digest = load_platform_part(path)
        try:
            items = sorted((int(k), v) for k, v in body["splits"].items())
            thresholds = [
                np.inf if v["threshold"] is None else float(v["threshold"]) for _, v in items
            ]
            return cls(
                model_id=str(body["model_id"]),
                digest=digest,
                bank_party=str(body.get("bank_party", "")),
                dataset=str(body.get("dataset", "")),
                split_ids=np.asarray([k for k, _ in items], dtype=np.int64),
                features=tuple(str(v["feature_name"]) for _, v in items),
                thresholds=np.asarray(thresholds, dtype=np.float64),
                missing_left=np.asarray([bool(v["missing_left"]) for _, v in items], dtype=bool),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataLoss("the platform model part is malformed") from exc

    def decisions(self, table: IndexedTable, uscc: str) -> tuple[list[int], bytes]:
        """(split ids, packed go-left bits) of the company at every split of the model.

        Same rule as :func:`models.secureboost.tree.value_decision`: ``x <= threshold`` goes
        left, a missing value goes the split's default way.
        """
        x = table.values(uscc, self.features)
        with np.errstate(invalid="ignore"):
            left = np.where(np.isnan(x), self.missing_left, x <= self.thresholds)
        return self.split_ids.tolist(), np.packbits(left).tobytes()
