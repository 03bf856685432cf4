"""Scoring on a synthetic city: the platform's catalogue features (point in time, through the
real PlatformDataProvider) and the bank's loan book (features + application terms by
application id), both nodes over mutual TLS; the served score equals offline prediction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from bank_node.loanbook.loader import load_loanbook_table, window_applications
from bank_node.scoring.client import ScoringClient
from bank_node.scoring.model_store import ModelStore
from experiments.support.grpc_harness import shared_pki
from experiments.support.scoring import Nodes, serve_approved, start_nodes
from models.dataset import PartyTable
from models.errors import NotFound
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.secureboost.active import SecureBoostClassifier
from platform_node.data_provider import PlatformDataProvider
from tests.test_scoring import SETTINGS

AS_OF = "2022-01-01"


class AlignedCatalogue:
    """The catalogue as of the job's date, in the bank's row order (what PSI would give)."""

    def __init__(self, provider: PlatformDataProvider, ids: np.ndarray) -> None:
        self.provider = provider
        self.ids = ids

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        table = self.provider.load("catalogue", caller, {"as_of": AS_OF})
        return table.align_to(self.ids)


City = tuple[Nodes, PartyTable, Path, SecureBoostClassifier, InProcessPeer]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    from experiments.synthetic_city import generate_city

    root = tmp_path_factory.mktemp("city-scoring")
    generate_city(600, seed=11, out_dir=root / "city")
    bank_dir = root / "city" / "bank"
    provider = PlatformDataProvider(root / "city" / "platform")
    bank = load_loanbook_table(bank_dir, dt.date.fromisoformat(AS_OF))
    known = set(provider.load("catalogue", Caller("bank-a", "bank"), {"as_of": AS_OF}).ids)
    bank = bank.take(np.flatnonzero([u in known for u in bank.ids]))
    manager = SessionManager(
        root / "city" / "platform", AlignedCatalogue(provider, bank.ids), idle_timeout_s=600
    )
    peer = InProcessPeer(manager, Caller("bank-a", "bank"))
    clf = SecureBoostClassifier(n_estimators=3, max_depth=3, n_bins=16, key_bits=1024)
    clf.fit(bank, peer, job_id="city-sb", platform_dataset="catalogue")
    part = root / "bank-node" / "city-sb.json"
    part.parent.mkdir(parents=True)
    clf.save_model(part)
    serve_approved(
        ModelStore(root / "bank-node"),
        "city-pd",
        part,
        version="1",
        features={"kind": "loanbook", "dir": str(bank_dir)},
    )
    nodes = start_nodes(
        shared_pki(),
        root / "city" / "platform",
        root / "bank-node",
        provider=provider,  # the real catalogue, point in time
        settings=SETTINGS,
    )
    yield nodes, bank, bank_dir, clf, peer
    nodes.stop()


def test_city_score_with_application_equals_offline_prediction(city: City) -> None:
    nodes, bank, bank_dir, clf, peer = city
    assert clf.platform_split_ids()  # the platform's catalogue features matter to the model
    apps, _ = window_applications(bank_dir, dt.date.fromisoformat(AS_OF))
    app_of = dict(zip(apps["uscc"], apps["application_id"], strict=True))
    client = nodes.client()
    for i in range(min(8, bank.n_rows)):
        uscc = str(bank.ids[i])
        nodes.grant(uscc)
        reply = client.score(
            ScoringClient.request(uscc, application_id=str(app_of[uscc]), as_of=AS_OF)
        )
        expected = clf.predict_proba(bank.take(np.asarray([i])), peer)[0, 1]
        assert abs(reply.probability_of_default - expected) < 1e-9
        assert reply.as_of == AS_OF and reply.model_name == "city-pd"
    with pytest.raises(NotFound):  # an application id the bank does not have
        client.score(ScoringClient.request(str(bank.ids[0]), application_id="no-such-app"))
