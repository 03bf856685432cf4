"""The platform's record of a split the bank chose on one of its features (training side).

A threshold split records its bin and value threshold; a categorical split records the set of
its bins that go left and, for scoring, the *categories* of those bins (the platform's own
strings, kept in its state and its model part only). Both go under the split's opaque id.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.dataset import PartyTable
from models.errors import InvalidArgument
from models.secureboost.binning import QuantileBinner
from models.secureboost.tree import bin_decision


def split_record(
    binner: QuantileBinner,
    table: PartyTable,
    feature: int,
    bin_index: int,
    missing_left: bool,
    left_bins: tuple[int, ...] | None,
) -> dict[str, Any]:
    """Validate a chosen split and build its record (InvalidArgument if malformed)."""
    k = int(binner.n_value_bins[feature])
    categorical = bool(binner.categorical[feature])
    if left_bins is None:
        if categorical or not 0 <= bin_index < k:
            raise InvalidArgument("split feature or bin is invalid")
        return {
            "feature": feature,
            "bin": bin_index,
            "missing_left": missing_left,
            "threshold": binner.threshold(feature, bin_index),
        }
    bins = sorted({int(b) for b in left_bins})
    if (
        not categorical
        or bin_index != -1
        or missing_left
        or len(bins) != len(left_bins)
        or not bins
        or bins[0] < 0
        or bins[-1] >= k
    ):
        raise InvalidArgument("categorical split bins are invalid")
    cats = table.categories.get(table.feature_names[feature], ())
    codes = binner.bin_codes(feature, bins)
    return {
        "feature": feature,
        "bin": -1,
        "missing_left": False,
        "threshold": None,
        "left_bins": bins,
        "categories": [cats[int(c)] for c in codes if 0 <= int(c) < len(cats)],
    }


def record_decision(rec: dict[str, Any], codes: np.ndarray, missing_code: int) -> np.ndarray:
    """Go-left mask of a recorded split over bin codes of its feature."""
    left = rec.get("left_bins")
    return bin_decision(
        codes,
        int(rec["bin"]),
        bool(rec["missing_left"]),
        missing_code,
        None if left is None else tuple(int(b) for b in left),
    )
