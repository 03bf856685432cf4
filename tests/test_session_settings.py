"""Issue 15 item 7: ``psi_session_spec`` passes the platform's ``as_of`` (and other session
parameters) to its data provider, and a job id reopened with other settings is refused instead
of silently resuming the old session."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from models.dataset import PartyTable
from models.errors import FailedPrecondition
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.psi import PsiActive, psi_session_spec
from models.uscc import generate_usccs
from proto.transport.codec import ProtobufCodec


class DatedIds:
    """A provider that serves a different population per ``as_of`` and records what it got."""

    def __init__(self) -> None:
        codes = generate_usccs(30, np.random.default_rng(5))
        self.by_date = {"2024-01-01": codes[:10], "2024-06-30": codes[:20]}
        self.codes = codes
        self.seen: list[dict[str, str]] = []

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        self.seen.append(dict(params))
        ids = self.by_date[params["as_of"]]
        return PartyTable(
            ids=np.array(ids, dtype=str), X=np.zeros((len(ids), 0)), feature_names=[]
        )


def test_psi_session_spec_carries_as_of_to_the_platform(tmp_path: Path) -> None:
    data = DatedIds()
    manager = SessionManager(tmp_path / "platform", data)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    sizes = {}
    for as_of in ("2024-01-01", "2024-06-30"):
        spec = psi_session_spec(
            f"psi-{as_of}", "catalogue", id_format="uscc", session_params={"as_of": as_of}
        )
        assert spec.params == {"as_of": as_of, "id_format": "uscc"}
        peer.open_session(spec)
        try:
            sizes[as_of] = PsiActive(peer).run(data.codes).n_intersection
        finally:
            peer.close_session()
    assert sizes == {"2024-01-01": 10, "2024-06-30": 20}
    assert {p["as_of"] for p in data.seen} == {"2024-01-01", "2024-06-30"}


@pytest.mark.parametrize("live", [True, False], ids=["live", "after-restart"])
def test_a_job_id_reopened_with_other_settings_is_refused(tmp_path: Path, live: bool) -> None:
    data = DatedIds()
    caller = Caller("bank-a", "bank")
    first = psi_session_spec("job-1", "catalogue", session_params={"as_of": "2024-01-01"})
    manager = SessionManager(tmp_path / "platform", data)
    manager.open(caller, first)
    if not live:  # the platform restarted: only the persisted spec remains
        manager = SessionManager(tmp_path / "platform", data)
    other_date = psi_session_spec("job-1", "catalogue", session_params={"as_of": "2024-06-30"})
    other_dataset = psi_session_spec("job-1", "served", session_params={"as_of": "2024-01-01"})
    for spec in (other_date, other_dataset):
        with pytest.raises(FailedPrecondition, match="other settings"):
            manager.open(caller, spec)
    # the same settings resume, as before
    assert manager.open(caller, first).resumed
