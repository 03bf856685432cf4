"""Shared helpers of the LR, binning and scorecard tests (no tests here).

Data: vertical splits of the public sets in ``shared/data`` (bank = label side "guest",
platform = "host"), aligned by id, with a seeded train/test split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.dataset import PartyTable
from models.federation.party import Caller


@dataclass
class VerticalData:
    bank: PartyTable
    platform: PartyTable
    train: np.ndarray
    test: np.ndarray

    def joined(self) -> np.ndarray:
        return np.hstack([self.bank.X, self.platform.X])


class TableProvider:
    """A DataProvider that returns the platform's aligned table for any dataset name."""

    def __init__(self, table: PartyTable) -> None:
        self.table = table
        self.calls: list[tuple[str, dict[str, str]]] = []

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        self.calls.append((dataset, dict(params)))
        return self.table


def load_vertical(
    shared: Path, name: str, n_rows: int | None = None, seed: int = 0, test_fraction: float = 0.2
) -> VerticalData:
    guest = pd.read_csv(shared / f"{name}_hetero_guest.csv")
    host = pd.read_csv(shared / f"{name}_hetero_host.csv").set_index("id")
    if n_rows is not None:
        guest = guest.sample(n=n_rows, random_state=seed).sort_values("id")
    host = host.loc[guest["id"]]
    bank_cols = [c for c in guest.columns if c not in ("id", "y")]
    bank = PartyTable(
        ids=guest["id"].astype(str).to_numpy(),
        X=guest[bank_cols].to_numpy(dtype=np.float64),
        feature_names=[f"b_{c}" for c in bank_cols],
        feature_groups=["bank"] * len(bank_cols),
        y=guest["y"].to_numpy(dtype=np.float64),
    )
    platform = PartyTable(
        ids=host.index.astype(str).to_numpy(),
        X=host.to_numpy(dtype=np.float64),
        feature_names=[f"p_{c}" for c in host.columns],
        feature_groups=["credit"] * host.shape[1],
        meta={"allow_feature_names": "true"},
    )
    rng = np.random.default_rng(seed)
    y = bank.y
    assert y is not None
    test_parts = []
    for cls in (0.0, 1.0):  # stratified
        idx = np.flatnonzero(y == cls)
        test_parts.append(rng.choice(idx, size=round(test_fraction * idx.size), replace=False))
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(bank.n_rows), test)
    return VerticalData(bank, platform, train, test)


def standardized_joined(data: VerticalData) -> np.ndarray:
    """The joined table standardised with training statistics (the federated transform)."""
    X = data.joined()
    mu = X[data.train].mean(axis=0)
    sd = X[data.train].std(axis=0)
    sd[sd == 0] = 1.0
    return (X - mu) / sd
