"""Federated prediction outside a model's training population needs each company's consent,
whatever the session (a PSI-aligned one included); inside it (training and validation rows),
no consent is needed. In process and over gRPC, with the same assertions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import models.psi.passive
import models.secureboost.passive  # noqa: F401
from experiments.support.hetero import StaticProvider
from models.dataset import PartyTable
from models.errors import PermissionDenied
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.peer import PassivePeer
from models.federation.session import SessionSpec
from models.population import SUFFIX, Population
from models.psi.active import PsiActive
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.passive import load_platform_part
from models.uscc import generate_usccs
from proto.transport.codec import ProtobufCodec


def _tables(n: int = 300) -> tuple[PartyTable, PartyTable]:
    rng = np.random.default_rng(0)
    ids = np.array(generate_usccs(n, rng))
    Xb, Xp = rng.normal(size=(n, 3)), rng.normal(size=(n, 4))
    y = (Xb[:, 0] + Xp[:, 0] + rng.normal(scale=0.5, size=n) > 0).astype(float)
    bank = PartyTable(ids, Xb, ["b0", "b1", "b2"], y=y)
    platform = PartyTable(ids, Xp, ["p0", "p1", "p2", "p3"], ["tax"] * 4)
    return bank, platform


Gate = tuple[PassivePeer, set[str], Path]


@pytest.fixture(params=["inprocess", "grpc"])
def gate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gate]:
    """A platform whose node checks scoring consent against a set the test controls."""
    _, platform = _tables()
    consented: set[str] = set()

    def consent_check(uscc: str, bank_party: str) -> None:
        if uscc not in consented or bank_party != "bank-a":
            raise PermissionDenied("the company has no consent in force for this bank")

    extras: dict[str, object] = {"consent_check": consent_check}
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "inprocess":
        manager = SessionManager(
            tmp_path / "platform", StaticProvider(platform), context_extras=extras
        )
        peer: PassivePeer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    else:
        from experiments.support.grpc_harness import bank_peer, start_platform

        running = start_platform(tmp_path, StaticProvider(platform), context_extras=extras)
        grpc_peer = bank_peer(running.port)

        def stop() -> None:
            grpc_peer.close()
            running.stop(0.5)

        peer = grpc_peer
    yield peer, consented, tmp_path / "platform"
    stop()


def test_prediction_needs_consent_outside_the_training_population(gate: Gate) -> None:
    peer, consented, platform_dir = gate
    bank, _ = _tables()
    # a PSI-aligned session: alignment says which companies both hold, not that they may be
    # scored
    peer.open_session(SessionSpec("gate-psi", "psi", "d"))
    aligned = PsiActive(peer).run(bank.ids).aligned_ids
    peer.close_session()
    bank = bank.align_to(aligned)
    train, valid, outside = np.arange(0, 200), np.arange(200, 250), np.arange(250, 300)
    clf = SecureBoostClassifier(n_estimators=2, max_depth=2, key_bits=1024)
    clf.fit(
        bank,
        peer,
        rows=train,
        validation_rows=valid,
        job_id="gate",
        session_params={"alignment": "gate-psi"},
    )
    assert clf.platform_n_splits_ > 0
    # inside the population (training and validation rows): no consent needed
    assert clf.predict_proba(bank.take(train[:30]), peer).shape == (30, 2)
    assert clf.predict_proba(bank.take(valid), peer).shape == (50, 2)
    # outside it, even in a session aligned with the same PSI job: refused, whole request
    with pytest.raises(PermissionDenied) as info:
        clf.predict_proba(bank.take(outside[:5]), peer, session_params={"alignment": "gate-psi"})
    assert not any(str(c) in info.value.message for c in bank.ids)
    mixed = np.concatenate([train[:3], outside[:1]])
    with pytest.raises(PermissionDenied):
        clf.predict_proba(bank.take(mixed), peer)
    # ... unless the companies consented
    consented.update(str(c) for c in bank.ids[outside[:5]])
    assert clf.predict_proba(bank.take(outside[:5]), peer).shape == (5, 2)
    with pytest.raises(PermissionDenied):
        clf.predict_proba(bank.take(outside[5:8]), peer)
    # the population beside the part (hashes, no ids), bound to it by the part's digest
    part = platform_dir / "models" / "secureboost" / "bank-a" / "gate.json"
    pop_file = part.with_suffix(SUFFIX)
    raw = pop_file.read_bytes()
    assert not any(str(c).encode() in raw for c in bank.ids)
    body, _ = load_platform_part(part)
    population = Population.load(pop_file, body["population_digest"])
    assert len(population) == 250
    assert str(bank.ids[0]) in population and str(bank.ids[260]) not in population
