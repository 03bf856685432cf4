"""Helpers for the SecureBoost tests and benchmark: the public hetero data sets as two aligned
party tables, and a data provider serving the platform's side."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from models.dataset import PartyTable
from models.federation.party import Caller


def load_hetero(
    data_dir: Path, name: str, n_rows: int | None = None, seed: int = 0
) -> tuple[PartyTable, PartyTable]:
    """Bank (guest, with labels) and platform (host) tables of ``name``, aligned by id.

    With ``n_rows`` a random subset (fixed seed) of that size is kept.
    """
    guest = pd.read_csv(data_dir / f"{name}_hetero_guest.csv")
    host = pd.read_csv(data_dir / f"{name}_hetero_host.csv")
    if n_rows is not None and n_rows < len(guest):
        keep = np.sort(np.random.default_rng(seed).choice(len(guest), n_rows, replace=False))
        guest = guest.iloc[keep]
    host = host.set_index("id").loc[guest["id"]].reset_index()
    g_feats = [c for c in guest.columns if c not in ("id", "y")]
    h_feats = [c for c in host.columns if c != "id"]
    bank = PartyTable(
        ids=guest["id"].astype(str).to_numpy(),
        X=guest[g_feats].to_numpy(np.float64),
        feature_names=[f"g_{c}" for c in g_feats],
        feature_groups=["bank"] * len(g_feats),
        y=guest["y"].to_numpy(np.float64),
    )
    groups = [f"cat{i % 3}" for i in range(len(h_feats))]
    platform = PartyTable(
        ids=host["id"].astype(str).to_numpy(),
        X=host[h_feats].to_numpy(np.float64),
        feature_names=[f"h_{c}" for c in h_feats],
        feature_groups=groups,
    )
    return bank, platform


def train_test_rows(
    n: int, test_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_test = round(test_fraction * n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


class StaticProvider:
    """A DataProvider that serves one already-aligned platform table under any dataset name."""

    def __init__(self, table: PartyTable) -> None:
        self.table = table
        self.loads = 0

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        self.loads += 1
        return self.table


def joined(bank: PartyTable, platform: PartyTable) -> np.ndarray:
    """The centralized table: bank columns first, then the platform's."""
    assert np.array_equal(bank.ids, platform.ids)
    return np.hstack([bank.X, platform.X])
