"""Atomic passive-party steps and step replay protection (issue 14 rows 4 and 5).

Row 4: a refused request in the middle of a training step must leave the platform's session
exactly as it was, so the next valid step succeeds. A probing peer sends, before every real
step of a SecureBoost training (standard and hardened modes), corrupted copies of the request
under the same step id; each must be refused with a domain error, the party's state must be
bit-for-bit unchanged, and the real step must then run. The model must still equal the
plaintext reference.

Row 5: a replay of a step id with a different body is refused for every step of a session,
also after many other steps and after the platform restarts (digests are persisted).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

import models.secureboost.passive  # noqa: F401  (registers the platform half)
from experiments.support.hetero import StaticProvider, joined, load_hetero, train_test_rows
from models.crypto.paillier import EncryptedVector
from models.crypto.wire import CipherArray
from models.errors import FailedPrecondition, FedCreditError
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.messages import WireMessage
from models.federation.party import Caller, PassiveParty
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.messages import SbGradientsRequest
from models.secureboost.reference import SecureBoostReference
from proto.transport.codec import ProtobufCodec

R = TypeVar("R", bound=WireMessage)
HUGE = 2**40
CALLER = Caller("bank-a", "bank")


def _fingerprint(value: Any, h: Any, depth: int = 0) -> None:
    """Feed a canonical description of ``value`` into ``h`` (threads, locks and callables are
    not state)."""
    if depth > 8:
        return
    if isinstance(value, np.ndarray):
        h.update(f"nd{value.dtype}{value.shape}".encode())
        h.update(
            np.ascontiguousarray(value).tobytes()
            if value.dtype != object
            else repr(value.tolist()).encode()
        )
    elif isinstance(value, EncryptedVector):
        h.update(b"ev" + repr(value.values).encode())
    elif isinstance(value, dict):
        h.update(f"d{len(value)}".encode())
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _fingerprint(value[k], h, depth + 1)
    elif isinstance(value, list | tuple):
        h.update(f"l{len(value)}".encode())
        for v in value:
            _fingerprint(v, h, depth + 1)
    elif isinstance(value, int | float | str | bytes | bool | type(None)):
        h.update(repr(value).encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _fingerprint(dataclasses.asdict(value), h, depth + 1)
    elif hasattr(value, "__dict__") and type(value).__module__.startswith("models."):
        _fingerprint(
            {k: v for k, v in vars(value).items() if not k.startswith("_pre") and k != "_idle"},
            h,
            depth + 1,
        )


def party_state(party: PassiveParty) -> str:
    """A digest of everything a passive party holds, except the session context and the
    background rerandomisation pool (data-independent factors that a step may consume) and
    the caches of files read on first use (the dataset, saved model parts)."""
    h = hashlib.sha256()
    skip = {
        "context",
        "_table",
        "_parts",
        "_splits",
        "_populations",
        "_rerand",
        "_pool_lock",
        "_pre_thread",
        "_pre_stop",
        "_idle",
        "_bank_keys",
    }
    _fingerprint({k: v for k, v in vars(party).items() if k not in skip}, h)
    return h.hexdigest()


def mutations(request: WireMessage) -> list[tuple[str, WireMessage]]:
    """Corrupted copies of ``request`` that any correct platform must refuse: one integer
    field or one element of an integer array or list set out of any range."""
    out: list[tuple[str, WireMessage]] = []
    for f in dataclasses.fields(request):
        v = getattr(request, f.name)
        if f.name in {"depth", "n_bins", "slot_bits", "frac_bits", "g_bits", "value_count"}:
            continue  # checked against each other, not against a range of the data
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            out.append((f"{f.name}=huge", dataclasses.replace(request, **{f.name: HUGE})))
        elif isinstance(v, np.ndarray) and v.size and np.issubdtype(v.dtype, np.integer):
            bad = v.astype(np.int64).copy()
            bad.reshape(-1)[-1] = HUGE
            out.append((f"{f.name}[-1]=huge", dataclasses.replace(request, **{f.name: bad})))
        elif (
            isinstance(v, list)
            and v
            and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        ):
            out.append(
                (f"{f.name}[-1]=huge", dataclasses.replace(request, **{f.name: [*v[:-1], HUGE]}))
            )
        elif isinstance(v, CipherArray) and v.count > 1:
            cut = v.replace(count=v.count - 1, data=v.data[: len(v.data) - (v.width or 0)])
            if v.lengths:
                cut = v.replace(
                    count=v.count - 1,
                    lengths=list(v.lengths)[:-1],
                    data=v.data[: len(v.data) - int(v.lengths[-1])],
                )
            out.append((f"{f.name} one short", dataclasses.replace(request, **{f.name: cut})))
    return out


class ProbingPeer(InProcessPeer):
    """Before each real step, sends every mutation under the same step id and checks that it
    is refused and leaves the party's state unchanged."""

    def __init__(self, manager: SessionManager) -> None:
        super().__init__(manager, CALLER, codec=ProtobufCodec())
        self.refused: dict[str, int] = {}
        self.accepted: list[str] = []

    def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
        assert self.job_id is not None
        party = self.manager.party(self.job_id)
        for name, bad in mutations(request):
            before = party_state(party)
            try:
                super().call(step_id, bad, response_type)
            except FedCreditError:
                assert party_state(party) == before, f"{type(request).__name__} {name}"
                key = f"{type(request).__name__}.{name}"
                self.refused[key] = self.refused.get(key, 0) + 1
            else:
                self.accepted.append(f"{type(request).__name__}.{name}")
                raise AssertionError(
                    f"a corrupted request was accepted: {type(request).__name__} {name}"
                )
        return super().call(step_id, request, response_type)


@pytest.mark.parametrize("privacy", ["standard", "hardened"])
def test_refused_requests_leave_the_session_unchanged(
    shared_data: Path, tmp_path: Path, privacy: str
) -> None:
    bank, plat = load_hetero(shared_data, "default_credit", 300)
    tr, te = train_test_rows(bank.n_rows)
    params: dict[str, Any] = {"n_estimators": 2, "max_depth": 2, "subsample": 0.9}
    manager = SessionManager(tmp_path / "platform", StaticProvider(plat))
    peer = ProbingPeer(manager)
    clf = SecureBoostClassifier(**params, key_bits=1024, privacy=privacy).fit(
        bank, peer, rows=tr, validation_rows=te, job_id=f"sb-probe-{privacy}"
    )
    assert not peer.accepted
    # every kind of training step was probed and refused without a trace
    kinds = {k.split(".")[0] for k in peer.refused}
    if privacy == "standard":
        assert {
            "SbInitRequest",
            "SbGradientsRequest",
            "SbHistogramRequest",
            "SbSplitRequest",
        } <= kinds
    else:
        assert {"SbInitRequest", "SbLevelGradientsRequest", "SbLevelSplitRequest"} <= kinds
    assert "SbTreeDoneRequest" in kinds
    if privacy == "standard":
        ref = SecureBoostReference(**params).fit(
            joined(bank, plat),
            np.asarray(bank.y),
            n_bank_features=bank.n_features,
            train_rows=tr,
            valid_rows=te,
        )
        assert [t.structure() for t in clf.trees_] == [t.structure() for t in ref.trees_]


def test_row4_refused_chunk_mid_tree_keeps_the_tree(shared_data: Path, tmp_path: Path) -> None:
    """The issue's reproduction: after the first gradient chunk of a tree, a chunk 0 with an
    invalid feature list is refused; before the fix the platform had already reset the tree."""
    bank, plat = load_hetero(shared_data, "default_credit", 200)
    tr, te = train_test_rows(bank.n_rows)
    manager = SessionManager(tmp_path / "platform", StaticProvider(plat))
    sent: list[SbGradientsRequest] = []
    injected = threading.Event()

    class Injecting(InProcessPeer):
        def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
            if (
                isinstance(request, SbGradientsRequest)
                and request.chunk == 1
                and not injected.is_set()
            ):
                injected.set()
                first = sent[0]
                bad = dataclasses.replace(first, features=[*first.features, 10_000])
                with pytest.raises(FedCreditError):
                    super().call(step_id.replace("grad1", "grad0x"), bad, response_type)
            if isinstance(request, SbGradientsRequest):
                sent.append(request)
            return super().call(step_id, request, response_type)

    peer = Injecting(manager, CALLER, codec=ProtobufCodec())
    clf = SecureBoostClassifier(
        n_estimators=2, max_depth=2, key_bits=1024, privacy="standard", chunk_size=64
    ).fit(bank, peer, rows=tr, validation_rows=te, job_id="sb-row4")
    assert injected.is_set(), "the tree was sent in one chunk; the test needs two"
    assert len(clf.trees_) == 2


def _describe_manager(tmp_path: Path, provider: StaticProvider) -> SessionManager:
    return SessionManager(tmp_path / "platform", provider)


def test_replay_with_another_body_is_refused_after_many_steps_and_a_restart(
    shared_data: Path, tmp_path: Path
) -> None:
    _, plat = load_hetero(shared_data, "breast")
    provider = StaticProvider(plat)
    manager = _describe_manager(tmp_path, provider)
    spec = SessionSpec("replay-job", "describe", "d")
    manager.open(CALLER, spec)
    codec = ProtobufCodec()

    def step(m: SessionManager, sid: str, names: bool) -> DescribeResponse:
        req = DescribeRequest(names)
        digest = hashlib.sha256(codec.encode(req)).hexdigest()
        out = m.handle(CALLER, "replay-job", sid, req, digest)
        assert isinstance(out, DescribeResponse)
        return out

    step(manager, "s/0", False)
    for i in range(1, 100):  # well past the 64 cached answers
        step(manager, f"s/{i}", False)
    with pytest.raises(FailedPrecondition):
        step(manager, "s/0", True)
    step(manager, "s/0", False)  # an identical retry still answers
    # a refused request leaves no digest: its step id stays free for the valid request
    with pytest.raises(FedCreditError):
        manager.handle(
            CALLER,
            "replay-job",
            "s/free",
            SbGradientsRequest(
                0, 0, 1, np.zeros(0, np.int64), [], CipherArray(b"", "paillier", "", 0, 0)
            ),
            "bogus",
        )
    step(manager, "s/free", True)
    # the platform restarts: a new manager on the same data directory
    restarted = _describe_manager(tmp_path, provider)
    restarted.open(CALLER, spec)
    with pytest.raises(FailedPrecondition):
        step(restarted, "s/5", True)
    step(restarted, "s/5", False)
    # a torn last line (power loss while appending) is cut off and the log stays usable
    steps = tmp_path / "platform" / "sessions" / "replay-job.steps"
    with steps.open("ab") as fh:
        fh.write(b"s/torn 12")
    again = _describe_manager(tmp_path, provider)
    again.open(CALLER, spec)
    step(again, "s/torn", True)
    assert steps.read_bytes().endswith(b"\n")
    assert b"s/torn 12" not in steps.read_bytes()
    with pytest.raises(FailedPrecondition):
        step(_reopened(tmp_path, provider, spec), "s/99", True)


def _reopened(tmp_path: Path, provider: StaticProvider, spec: SessionSpec) -> SessionManager:
    m = _describe_manager(tmp_path, provider)
    m.open(CALLER, spec)
    return m


@pytest.mark.parametrize("family", ["logreg", "scorecard"])
def test_refused_requests_leave_linear_sessions_unchanged(
    shared_data: Path, tmp_path: Path, family: str
) -> None:
    """The same probe over logistic regression (Paillier) and the scorecard (binning first)."""
    import models.logreg.passive
    import models.scorecard.passive  # noqa: F401
    from experiments.support.vertical import TableProvider, load_vertical

    data = load_vertical(shared_data, "default_credit", n_rows=400, seed=3)
    manager = SessionManager(tmp_path / "platform", TableProvider(data.platform))
    peer = ProbingPeer(manager)
    if family == "logreg":
        from models.logreg.active import FederatedLogisticRegression

        model = FederatedLogisticRegression(
            mode="paillier", max_epochs=2, key_bits=1024, random_state=0
        )
        model.fit(data.bank, peer, rows=data.train)
    else:
        from models.scorecard.active import FederatedScorecard

        card = FederatedScorecard(
            n_bins=8, max_bins=4, mode="paillier", max_epochs=2, key_bits=1024, random_state=0
        )
        card.fit(data.bank, peer, rows=data.train, model_id="sc-probe")
    assert not peer.accepted
    assert len({k.split(".")[0] for k in peer.refused}) >= 3
