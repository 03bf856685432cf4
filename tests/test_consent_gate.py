"""Federated prediction outside a PSI-aligned session needs each company's consent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models.psi.passive
import models.secureboost.passive  # noqa: F401
from models.dataset import PartyTable
from models.errors import PermissionDenied
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.session import SessionSpec
from models.psi.active import PsiActive
from models.secureboost.active import SecureBoostClassifier
from models.uscc import generate_usccs
from proto.transport.codec import ProtobufCodec
from tests.secureboost_support import StaticProvider


def _tables(n: int = 300) -> tuple[PartyTable, PartyTable]:
    rng = np.random.default_rng(0)
    ids = np.array(generate_usccs(n, rng))
    Xb, Xp = rng.normal(size=(n, 3)), rng.normal(size=(n, 4))
    y = (Xb[:, 0] + Xp[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(float)
    bank = PartyTable(ids, Xb, ["b0", "b1", "b2"], y=y)
    platform = PartyTable(ids, Xp, ["p0", "p1", "p2", "p3"], ["tax"] * 4)
    return bank, platform


def test_prediction_sessions_check_consent(tmp_path: Path) -> None:
    bank, platform = _tables()
    consented: set[str] = set()  # filled once the aligned order is known

    def consent_check(uscc: str, bank_party: str) -> None:
        if uscc not in consented or bank_party != "bank-a":
            raise PermissionDenied("the company has no consent in force for this bank")

    manager = SessionManager(
        tmp_path / "p", StaticProvider(platform), context_extras={"consent_check": consent_check}
    )
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    # training runs in a PSI-aligned session: the matched population, no per-company check
    peer.open_session(SessionSpec("gate-psi", "psi", "d"))
    aligned = PsiActive(peer).run(bank.ids).aligned_ids
    peer.close_session()
    bank = bank.align_to(aligned)
    rows = np.arange(bank.n_rows)
    population = rows[:250]  # trained and validated on: scoring them needs no consent
    consented.clear()
    consented.update(bank.ids[260:270].tolist())  # ten companies outside it consented
    clf = SecureBoostClassifier(n_estimators=2, max_depth=2, key_bits=1024)
    clf.fit(
        bank,
        peer,
        train_rows=population[:200],
        valid_rows=population[200:],
        job_id="gate",
        session_params={"alignment": "gate-psi"},
    )
    assert clf.predict_proba(bank.take(population[:20]), peer).shape == (20, 2)
    # predicting later over the rest of the platform's table is gated by consent
    outside = rows[250:]
    first = outside[np.isin(bank.ids[outside], list(consented))]
    assert clf.predict_proba(bank.take(first), peer).shape == (10, 2)
    with pytest.raises(PermissionDenied):
        clf.predict_proba(bank.take(outside[~np.isin(bank.ids[outside], list(consented))]), peer)
