"""For the monitoring tests: a platform data provider whose features move between two dates,
and the stability index written out directly in numpy."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.dataset import PartyTable
from models.federation.party import Caller

REFERENCE = "2026-01-04"  # Sunday of 2026-W01
CURRENT = "2026-03-01"  # Sunday of 2026-W09
CHANGE = "2026-01-15"  # the features move on this day
GROUPS = ["tax", "judicial", "social_security"]


class ShiftingProvider:
    """Three features per company: ``f0`` stable, ``f1`` shifted by +1.5 sd and ``f2`` with
    many more missing values from :data:`CHANGE` on; ``absent`` is not in the later tables."""

    def __init__(self, ids: list[str], absent: str = "", seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.ids = np.asarray(ids)
        n = len(ids)
        self.base = rng.normal(size=(n, 3))
        self.noise = rng.normal(scale=0.05, size=(n, 3))
        self.absent = absent
        self.loads: list[str] = []

    def table_at(self, as_of: str) -> PartyTable:
        X = self.base.copy()
        keep = np.ones(len(self.ids), dtype=bool)
        if as_of >= CHANGE:
            X = X + self.noise
            X[:, 1] += 1.5
            X[::3, 2] = np.nan
            keep = self.ids != self.absent
        return PartyTable(
            ids=self.ids[keep],
            X=X[keep],
            feature_names=["tax_paid_12m", "court_cases_3y", "insured_staff"],
            feature_groups=list(GROUPS),
        )

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        self.loads.append(params.get("as_of", ""))
        return self.table_at(params.get("as_of", ""))


def direct_psi(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI written out: reference deciles, a missing bin, shares floored at 1e-4."""
    finite = ref[~np.isnan(ref)]
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1]))

    def shares(x: np.ndarray) -> np.ndarray:
        nan = np.isnan(x)
        idx = np.digitize(x[~nan], edges)
        counts = np.append(np.bincount(idx, minlength=len(edges) + 1), nan.sum())
        return np.clip(counts / counts.sum(), 1e-4, None)

    p, q = shares(ref), shares(cur)
    return float(np.sum((q - p) * np.log(q / p)))
