"""The new LR protocol under the same attacks: what the bank sees in a real run, and the
platform's CKKS evaluators as attack targets.

:func:`new_run` trains the product code (:class:`~models.logreg.active.FederatedLogisticRegression`,
job defaults, in process, every message through the protobuf codec and recorded) on the same
default_credit scenario as the ``before`` re-enactment, then builds the
:class:`~experiments.privacy.logreg_view.BankView` from the transcript and the bank's own keys:

- ``per_row_vectors``: none from training (the bank decrypts no per-row value); with
  ``score_rest`` the bank also scores the rows outside training ``SCORING_CALLS`` times (the
  worst case: those companies consented): each answer is the final model's partial score;
- ``aggregates``: every bank output decrypted (its own gradient block and ``sum d`` per batch),
  the masked read-outs it handed back (uniform to it), the announced intervals and the
  convergence scalars;
- ``final_partial``: the final model's partial score on every row the bank may score (the
  product), part of every baseline.

:func:`new_targets` wraps the platform's two CKKS result paths as
:class:`~experiments.privacy.logreg_ckks_target.CkksTarget`: the platform's own output (its
gradient: products with ``psi_k * x_j``, read-outs masked and handed back) and the bank's output
(products with ``psi_k``, read-outs revealed to the bank).
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import models.logreg.passive  # noqa: F401  (registers the platform party)
from experiments.privacy.logreg_ckks_target import (
    CkksTarget,
    ColumnLayout,
    PairLayout,
    platform_chunk,
)
from experiments.privacy.logreg_old_flow import Scenario, split_rows
from experiments.privacy.logreg_view import BankView, load_default_credit, standardize
from models.crypto import ckks_coeff
from models.crypto.ckks import CkksContext
from models.dataset import PartyTable
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer
from models.logreg.active import FederatedLogisticRegression
from models.logreg.he import ActiveCrypto
from models.logreg.messages import LrTermsResponse, LrUpdateResponse
from models.logreg.separable import coarse_interval, normalised, psi
from proto.transport.codec import ProtobufCodec

#: How many times the bank scores the rows outside training in the repeated-prediction probe.
SCORING_CALLS = 5
#: Paillier key size of the measured runs (the attacks do not depend on it).
KEY_BITS = 1024


class _Provider:
    def __init__(self, table: PartyTable) -> None:
        self.table = table

    def load(self, dataset: str, caller: Caller, params: object) -> PartyTable:
        return self.table


@dataclass
class NewRun:
    """A run of the product's protocol: what the bank saw, and the truth."""

    view: BankView
    design_p: np.ndarray
    X_p: np.ndarray
    epochs: int


def _tables(n_rows: int, seed: int) -> tuple[PartyTable, PartyTable, np.ndarray]:
    split = load_default_credit(n_rows, seed)
    ids = np.array([f"row{i:06d}" for i in range(split.n_rows)])
    bank = PartyTable(
        ids=ids,
        X=split.X_b,
        feature_names=[f"b{i}" for i in range(split.X_b.shape[1])],
        feature_groups=["bank"] * split.X_b.shape[1],
        y=split.y,
    )
    platform = PartyTable(
        ids=ids,
        X=split.X_p,
        feature_names=[f"p{i}" for i in range(split.X_p.shape[1])],
        feature_groups=["credit"] * split.X_p.shape[1],
    )
    return bank, platform, split.X_p


def _masked_values(raw: list[bytes]) -> np.ndarray:
    return np.array([float(int.from_bytes(b, "big")) for b in raw])


@functools.lru_cache(maxsize=8)
def new_run(sc: Scenario, mode: str, score_rest: bool = False) -> NewRun:
    """A cached run of the product's LR protocol on the scenario (job defaults)."""
    bank, platform, X_p = _tables(sc.n_rows, sc.seed)
    train, val, rest = split_rows(sc)
    tmp = Path(tempfile.mkdtemp(prefix="privacy-lr-"))
    manager = SessionManager(tmp / "platform", _Provider(platform))
    inner = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer = RecordingPeer(inner)
    keys = ActiveCrypto.generate(mode, KEY_BITS)
    model = FederatedLogisticRegression(mode=mode, key_bits=KEY_BITS)
    model.fit(bank, peer, rows=train, validation_rows=val if len(val) else None, keys=keys)
    n_bank = bank.n_features
    aggregates: list[np.ndarray] = []
    for message in peer.transcript.to_active():
        if isinstance(message, LrTermsResponse):
            out = keys.decrypt_bank_output(message.enc_bank, n_bank)
            aggregates.append(np.append(out.gradient, out.residual_sum))
            plain = keys.decrypt_masked(message.enc_platform, platform.n_features)
            aggregates.append(_masked_values(plain))
        elif isinstance(message, LrUpdateResponse):
            aggregates.append(
                np.array([message.lo, message.hi, message.max_abs_delta, message.mean_abs_change])
            )
    population = np.concatenate([train, val])
    final = np.full(sc.n_rows, np.nan)
    final[population] = model.platform_scores(bank, peer, population)
    per_row: list[np.ndarray] = []
    if score_rest and len(rest):
        for _ in range(SCORING_CALLS):  # consented companies, scored again and again
            v = np.full(sc.n_rows, np.nan)
            v[rest] = model.platform_scores(bank, inner, rest)
            per_row.append(v)
        final[rest] = per_row[-1][rest]
    view = BankView(
        n_rows=sc.n_rows,
        train_rows=train,
        per_row_vectors=per_row,
        aggregates=aggregates,
        X_b=bank.X,
        y=np.asarray(bank.y),
        n_platform_features=platform.n_features,
        final_partial=final,
    )
    view.notes.update({"mode": mode, "epochs": model.n_epochs_, "protocol": "new"})
    design_p = standardize(X_p, train)
    return NewRun(view=view, design_p=design_p, X_p=X_p, epochs=int(model.n_epochs_))


# -- CKKS targets -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _context() -> CkksContext:
    return ckks_coeff.create_context()


def _platform_basis(X: np.ndarray, n_terms: int = 4) -> np.ndarray:
    """The platform's basis values ``psi_k(u)`` for a plausible weight vector."""
    u = X @ np.random.default_rng(3).normal(scale=0.4, size=X.shape[1])
    lo, hi = coarse_interval(u)
    return psi(normalised(u, lo, hi), n_terms, "chebyshev")


def new_targets(quick: bool) -> tuple[CkksTarget, CkksTarget]:
    """(the platform's own output path, the bank's output path) of the new CKKS evaluator,
    one chunk of default_credit platform rows, one term ``k = 1``."""
    ctx = _context()
    ev = ckks_coeff.CoeffEvaluator(CkksContext.from_bytes(ctx.public_bytes()))
    X = platform_chunk(quick)[: ev.degree // 2]
    basis = _platform_basis(X)[:, 1]
    W = basis[:, None] * X  # what the platform's own-output plaintexts hold
    half, deg = ev.degree // 2, ev.degree
    pair_pts = [
        ev.encode(
            ckks_coeff.pair_poly(W[:, j], W[:, j + 1] if j + 1 < W.shape[1] else None, 30, deg)
        )
        for j in range(0, W.shape[1], 2)
    ]
    basis_pt = ev.encode(ckks_coeff.pair_poly(basis, None, 30, deg))

    def own_output(blobs: list[bytes]) -> list[bytes]:
        ct = ev.load(blobs[0])
        return [ev.seal(ev.dot([(ct, pt)]), keep=(0, half))[0] for pt in pair_pts]

    def bank_output(blobs: list[bytes]) -> list[bytes]:
        ct = ev.load(blobs[0])
        return [ev.seal(ev.dot([(ct, basis_pt)]), reveal=(0, half))[0]]

    return (
        CkksTarget(ctx, own_output, W, PairLayout(W.shape[1], 3), "new-platform-output"),
        CkksTarget(ctx, bank_output, basis[:, None], ColumnLayout(1), "new-bank-output"),
    )
