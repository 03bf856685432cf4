"""What the bank sees in one vertical-LR run: the input of the LR attacks, and their data.

Interfaces (an adapter from a protocol's recorded transcript fills them; the ``before``
re-enactment in :mod:`experiments.privacy.logreg_old_flow` fills them for the old flow):

:class:`BankView`
    ``n_rows``: aligned rows; ``train_rows``: positions of the training rows;
    ``per_row_vectors``: every vector indexed by rows that the bank learned in the clear during
    the run, each of length ``n_rows`` with NaN where it says nothing (old flow: ``wx_p`` of the
    batch rows per batch, ``wx_p`` of the eval rows per eval call); ``aggregates``: everything
    else the bank decrypted or received (its own gradients, losses, masked values, intervals;
    kept for attacks that use them); ``X_b``, ``y``: the bank's raw features and labels for all
    aligned rows; ``n_platform_features``: announced at init; ``final_partial``: the final
    model's platform partial score on the rows the bank may score anyway (the product: the
    bank learns the final score, hence this); it is part of every **baseline**, never of the
    attack's gain; ``trace``: the bank's own record of the updates (see below), needed only by
    the Gram attack; ``notes``: free-form facts about the run (mode, epochs), copied into the
    report's details.
:class:`TrainingTrace`
    Per update step ``t``: ``vector_index[t]`` (which of ``per_row_vectors`` holds the platform
    scores used in that step), the residuals ``d_t`` the bank computed (NaN off-batch), the
    learning rate; and the hyper-parameters of the platform's optimiser (the bank chose them):
    ``alpha``, ``optimizer``, ``momentum``.

Data: default_credit, bank = guest (13 features + label), platform = host (10 features).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.privacy.common import shared_data


@dataclass(frozen=True)
class TrainingTrace:
    """The bank's own record of a training run (what it sent and the step sizes).

    Parameters
    ----------
    vector_index:
        Per update step, the index in ``BankView.per_row_vectors`` of the platform scores the
        step used.
    residuals:
        ``d_t`` per update step (length ``n_rows``, NaN off-batch).
    learning_rates:
        The learning rate of each step.
    alpha:
        The L2 strength of the per-row objective (``0`` for none).
    optimizer:
        The platform's optimiser: ``sgd``, ``momentum`` (heavy ball on the gradient) or
        ``precond``.
    momentum:
        The heavy-ball coefficient (``0`` for plain SGD).
    """

    vector_index: list[int]
    residuals: list[np.ndarray]
    learning_rates: list[float]
    alpha: float
    optimizer: str
    momentum: float


@dataclass
class BankView:
    """Everything the bank received in one run, as attack input (see the module docstring)."""

    n_rows: int
    train_rows: np.ndarray
    per_row_vectors: list[np.ndarray]
    aggregates: list[np.ndarray]
    X_b: np.ndarray
    y: np.ndarray
    n_platform_features: int
    final_partial: np.ndarray | None = None
    trace: TrainingTrace | None = None
    notes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.train_rows = np.asarray(self.train_rows, dtype=np.int64)
        for v in self.per_row_vectors:
            if np.shape(v) != (self.n_rows,):
                raise ValueError("every per-row vector has one entry per aligned row")
        if self.X_b.shape[0] != self.n_rows or self.y.shape != (self.n_rows,):
            raise ValueError("bank features and labels need one row per aligned row")
        if self.final_partial is not None and np.shape(self.final_partial) != (self.n_rows,):
            raise ValueError("final_partial has one entry per aligned row (NaN if unscored)")

    def revealed(self, rows: np.ndarray) -> np.ndarray:
        """The per-row vectors on ``rows`` as columns (``len(rows) x m``, NaN = not revealed)."""
        if not self.per_row_vectors:
            return np.zeros((len(rows), 0))
        return np.stack([np.asarray(v, dtype=np.float64)[rows] for v in self.per_row_vectors], 1)


@dataclass(frozen=True)
class CreditSplit:
    """Aligned rows of default_credit: bank (guest) features + label, platform (host) features."""

    X_b: np.ndarray
    y: np.ndarray
    X_p: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])


@functools.lru_cache(maxsize=4)
def load_default_credit(n_rows: int, seed: int = 0) -> CreditSplit:
    """``n_rows`` aligned rows drawn without replacement (all 30,000 if larger)."""
    base = shared_data()
    guest = pd.read_csv(base / "default_credit_hetero_guest.csv")
    host = pd.read_csv(base / "default_credit_hetero_host.csv")
    if not np.array_equal(guest["id"].to_numpy(), host["id"].to_numpy()):
        host = host.set_index("id").loc[guest["id"]].reset_index()
    rng = np.random.default_rng(seed)
    take = rng.permutation(len(guest))[: min(n_rows, len(guest))]
    X_b = guest.drop(columns=["id", "y"]).to_numpy(np.float64)[take]
    y = guest["y"].to_numpy(np.float64)[take]
    X_p = host.drop(columns=["id"]).to_numpy(np.float64)[take]
    return CreditSplit(X_b=X_b, y=y, X_p=X_p)


def standardize(X: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """Column-wise ``(x - mean) / std`` with statistics of ``fit_rows`` (each party's transform)."""
    mean = X[fit_rows].mean(axis=0)
    std = X[fit_rows].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X - mean) / std
