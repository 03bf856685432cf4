"""Scorecard scaling: log-odds to points.

Convention (Siddiqi): the score rises with the odds of being good, ``odds = (1 - p) / p``
(``p`` the default probability)::

    score  = offset + factor * ln(odds) = offset - factor * logit(p)
    factor = PDO / ln 2            (PDO: points that double the odds)
    offset = base_score - factor * ln(base_odds)

With the model ``logit(p) = b + sum_j w_j WOE_j(x_j)`` the score splits into base points
``offset - factor * b`` and, per feature ``j`` and bin ``k``, points ``-factor * w_j WOE_jk``.
The platform holds the points of its features; the bank holds the base points and its own.
Unrounded points add up exactly to the scaled log-odds; with ``round_points`` each entry is
rounded to an integer and the sum is within ``0.5`` per feature (plus base) of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.errors import InvalidArgument


@dataclass(frozen=True)
class ScoreScaling:
    """``base_score`` points at odds ``base_odds`` (good:bad), ``pdo`` points per doubling."""

    base_score: float = 600.0
    pdo: float = 20.0
    base_odds: float = 50.0
    round_points: bool = False

    def __post_init__(self) -> None:
        if not (self.pdo > 0 and self.base_odds > 0 and math.isfinite(self.base_score)):
            raise InvalidArgument("scorecard scaling needs pdo > 0 and base_odds > 0")

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_logit(self, logit: np.ndarray) -> np.ndarray:
        """Exact scaled log-odds ``offset - factor * logit(p)``."""
        return self.offset - self.factor * np.asarray(logit, dtype=np.float64)

    def logit_from_score(self, score: np.ndarray) -> np.ndarray:
        return (self.offset - np.asarray(score, dtype=np.float64)) / self.factor

    def base_points(self, intercept: float) -> float:
        value = self.offset - self.factor * float(intercept)
        return float(round(value)) if self.round_points else value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def points_table(
    weights: np.ndarray, woe: list[np.ndarray], factor: float, round_points: bool = False
) -> list[np.ndarray]:
    """Points per bin for each feature: ``-factor * w_j * WOE_jk`` (optionally rounded)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(woe),):
        raise InvalidArgument("one weight per WOE feature is required")
    out = []
    for wj, wo in zip(w.tolist(), woe, strict=True):
        pts = -factor * wj * np.asarray(wo, dtype=np.float64)
        out.append(np.round(pts) if round_points else pts)
    return out


def sum_points(codes: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    """Per row, the sum over features of the points of the row's bin."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 2 or codes.shape[1] != len(points):
        raise InvalidArgument("one code column per points vector is required")
    total = np.zeros(codes.shape[0])
    for k, pts in enumerate(points):
        total += pts[codes[:, k]]
    return total
