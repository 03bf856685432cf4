"""One feature's binning result and its information-value strength (shared by the binning
protocol and its report, which must not import each other)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.binning.woe import WoeIv


@dataclass
class FeatureIv:
    """One feature's binning result (either party)."""

    party: str
    index: int
    name: str
    group: str
    mapping: np.ndarray
    stats: WoeIv
    bin_labels: list[str] = field(default_factory=list)

    @property
    def iv(self) -> float:
        return self.stats.iv

    @property
    def n_bins(self) -> int:
        return int(self.stats.woe.size)


def iv_strength(iv: float) -> str:
    """The usual rule of thumb (Siddiqi): < 0.02 useless ... > 0.5 suspicious."""
    if iv < 0.02:
        return "useless"
    if iv < 0.1:
        return "weak"
    if iv < 0.3:
        return "medium"
    if iv <= 0.5:
        return "strong"
    return "suspicious"
