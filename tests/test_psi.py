"""ECDH-PSI between bank and platform over both transports: results, counts, agreed order,
what crosses the wire, and the platform's enforcement of the protocol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.dataset import PartyTable
from models.errors import CryptoError, FailedPrecondition, InvalidArgument
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.recording import RecordingPeer, iter_values
from models.psi import PsiActive, PsiPassive, load_alignment, psi_session_spec
from models.psi import group as psi_group
from models.psi.active import PsiStub
from models.psi.messages import (
    PsiBlindRequest,
    PsiBlindResponse,
    PsiFetchRequest,
    PsiFinishRequest,
    PsiReturnRequest,
    PsiStartRequest,
    PsiStartResponse,
)
from models.psi.protocol import GROUP, VERSION
from models.uscc import generate_usccs, is_valid_uscc
from proto.transport.codec import ProtobufCodec


class IdTable:
    """A DataProvider serving an id-only table (the platform's side of a PSI)."""

    def __init__(self, ids: list[str], meta: dict[str, str] | None = None) -> None:
        self.ids = ids
        self.meta = meta or {}

    def load(self, dataset, caller, params):
        n = len(self.ids)
        return PartyTable(
            ids=np.array(self.ids, dtype=str), X=np.zeros((n, 0)), feature_names=[], meta=self.meta
        )


def codes(n: int, seed: int = 7) -> list[str]:
    return generate_usccs(n, np.random.default_rng(seed))


def split_sets(n_bank: int, n_platform: int, n_common: int) -> tuple[list[str], list[str]]:
    pool = codes(n_bank + n_platform - n_common)
    bank = pool[:n_bank]
    platform = pool[n_bank - n_common : n_bank - n_common + n_platform]
    rng = np.random.default_rng(3)
    return list(rng.permutation(bank)), list(rng.permutation(platform))


def run_psi(peer, bank_ids, job="psi-job", id_format="uscc", **kwargs):
    peer.open_session(psi_session_spec(job, "catalogue", id_format=id_format))
    try:
        return PsiActive(peer, **kwargs).run(bank_ids)
    finally:
        peer.close_session()


@pytest.mark.parametrize(
    ("n_bank", "n_platform", "n_common"),
    [(40, 30, 0), (60, 45, 25), (50, 50, 50), (30, 80, 30)],
    ids=["none", "partial", "full", "bank-subset"],
)
def test_overlap_and_agreed_order(make_peer, tmp_path: Path, n_bank, n_platform, n_common) -> None:
    bank, platform = split_sets(n_bank, n_platform, n_common)
    peer = make_peer(IdTable(platform))
    result = run_psi(peer, bank, id_validator=is_valid_uscc, chunk_size=16)

    expected = set(bank) & set(platform)
    assert len(expected) == n_common
    assert set(result.aligned_ids.tolist()) == expected
    assert result.aligned_ids.shape == (n_common,)
    assert (result.n_self, result.n_peer, result.n_intersection) == (n_bank, n_platform, n_common)
    assert (result.n_duplicates, result.n_invalid) == (0, 0)
    assert result.bytes_sent > 32 * n_bank and result.bytes_received > 32 * n_bank

    # the platform stored exactly the same order
    platform_order = load_alignment(tmp_path / "platform" / "jobs" / "psi-job")
    assert platform_order.tolist() == result.aligned_ids.tolist()
    if n_common >= 20:
        # the agreed order is pseudorandom: neither party's input order nor sorted ids
        common = result.aligned_ids.tolist()
        assert common != sorted(common)
        assert common != [i for i in bank if i in expected]
        assert common != [i for i in platform if i in expected]


def test_duplicates_and_invalid_codes_are_dropped_and_counted(make_peer, tmp_path: Path) -> None:
    good = codes(40, seed=11)
    bad = [g[:17] + ("1" if g[17] != "1" else "2") for g in good[:3]]  # wrong check character
    bank = good[:25] + good[:5] + bad[:2] + ["", "91410100"]  # 5 repeats, 4 invalid
    platform = good[15:40] + good[30:33] + bad[2:] + ["not-a-code"]  # 3 repeats, 2 invalid
    peer = make_peer(IdTable(platform))
    result = run_psi(peer, bank, id_validator=is_valid_uscc)

    assert set(result.aligned_ids.tolist()) == set(good[15:25])
    assert (result.n_self, result.n_duplicates, result.n_invalid) == (25, 5, 4)
    assert (result.n_peer, result.n_intersection) == (25, 10)
    summary = json.loads(
        (tmp_path / "platform" / "jobs" / "psi-job" / "psi_summary.json").read_text()
    )
    assert summary["n_input"] == len(platform)
    assert (summary["n_passive"], summary["n_duplicates"], summary["n_invalid"]) == (25, 3, 2)
    assert (summary["n_active"], summary["n_intersection"]) == (25, 10)


def test_non_uscc_ids_with_id_format_any(make_peer, tmp_path: Path) -> None:
    bank = [str(i) for i in range(0, 300, 2)]
    platform = [str(i) for i in range(0, 300, 3)]
    peer = make_peer(IdTable(platform))
    result = run_psi(peer, bank, id_format="any")
    assert set(result.aligned_ids.tolist()) == {str(i) for i in range(0, 300, 6)}
    assert load_alignment(tmp_path / "platform" / "jobs" / "psi-job").tolist() == (
        result.aligned_ids.tolist()
    )


@pytest.mark.parametrize(
    ("bank", "platform"),
    [([], ["a", "b"]), (["a", "b"], []), ([], []), (["", "\x00"], ["a"])],
    ids=["empty-bank", "empty-platform", "both-empty", "bank-all-invalid"],
)
def test_empty_sets(make_peer, tmp_path: Path, bank, platform) -> None:
    peer = make_peer(IdTable(platform))
    result = run_psi(peer, bank, id_format="any")
    assert result.n_intersection == 0 and result.aligned_ids.shape == (0,)
    assert load_alignment(tmp_path / "platform" / "jobs" / "psi-job").shape == (0,)


def test_large_chunks_and_threads_in_process(tmp_path: Path) -> None:
    """More than one full chunk per phase with the threaded group engine."""
    bank, platform = split_sets(3000, 2600, 1700)
    manager = SessionManager(tmp_path / "platform", IdTable(platform))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    result = run_psi(peer, bank, workers=2, chunk_size=1024)
    assert set(result.aligned_ids.tolist()) == set(bank) & set(platform)
    assert load_alignment(tmp_path / "platform" / "jobs" / "psi-job").tolist() == (
        result.aligned_ids.tolist()
    )


# -- what crosses the wire ----------------------------------------------------------------------
def _points(blob: bytes) -> set[bytes]:
    return {blob[i : i + 32] for i in range(0, len(blob), 32)}


def test_transcript_reveals_no_testable_form_of_non_intersecting_ids(tmp_path: Path) -> None:
    bank, platform = split_sets(60, 50, 20)
    bank_only = set(bank) - set(platform)
    platform_only = set(platform) - set(bank)
    manager = SessionManager(tmp_path / "platform", IdTable(platform))
    recording = RecordingPeer(
        InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    )
    recording.open_session(psi_session_spec("psi-job", "catalogue", id_format="uscc"))
    passive = manager.party("psi-job")
    assert isinstance(passive, PsiPassive)
    result = PsiActive(recording, chunk_size=16).run(bank)
    b = passive._scalar  # the platform's secret, to build everything the platform can test
    recording.close_session()
    assert result.n_intersection == 20

    one = (1).to_bytes(32, "little")
    with psi_group.GroupEngine(1) as engine:
        unkeyed = {i: engine.hash_mult(one, [i]) for i in bank}  # H(x)
        keyed_b = {i: engine.hash_mult(b, [i]) for i in bank}  # H(x)^b
    to_platform = recording.transcript.to_passive()
    to_bank = recording.transcript.to_active()

    strings, blobs = [], []
    for message in to_platform:
        for _path, leaf in iter_values(message):
            if isinstance(leaf, str):
                strings.append(leaf)
            elif isinstance(leaf, bytes):
                blobs.append(leaf)
    # no id string, in any field, in any message to the platform
    assert not any(i in s for s in strings for i in bank)
    assert not any(i.encode() in blob for blob in blobs for i in bank)
    # no H(x) and no H(x)^b of a bank-only id: nothing the platform could compare with a guess
    received = set().union(*(_points(blob) for blob in blobs))
    assert received
    for i in bank_only:
        assert unkeyed[i] not in received and keyed_b[i] not in received
    # the finish message carries intersection values only, and exactly those
    finish = [m for m in to_platform if isinstance(m, PsiFinishRequest)]
    blinded_answers = set().union(
        *(_points(m.points) for m in to_bank if isinstance(m, PsiBlindResponse))
    )
    finish_points = set().union(*(_points(m.points) for m in finish))
    returned = set().union(
        *(_points(m.points) for m in to_platform if isinstance(m, PsiReturnRequest))
    )
    assert finish_points == blinded_answers & returned
    assert len(finish_points) == 20

    # and the bank never sees a platform id or an unkeyed hash of one
    bank_leaves = [leaf for m in to_bank for _p, leaf in iter_values(m)]
    assert not any(isinstance(v, str) and any(i in v for i in platform) for v in bank_leaves)
    with psi_group.GroupEngine(1) as engine:
        platform_unkeyed = {i: engine.hash_mult(one, [i]) for i in platform_only}
    seen_by_bank = set().union(*(_points(v) for v in bank_leaves if isinstance(v, bytes)))
    assert not set(platform_unkeyed.values()) & seen_by_bank


# -- the platform enforces the protocol ---------------------------------------------------------
@pytest.fixture
def started(tmp_path: Path):
    platform = [str(i) for i in range(10)]
    manager = SessionManager(tmp_path / "platform", IdTable(platform))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer.open_session(psi_session_spec("psi-job", "t", id_format="any"))
    stub = PsiStub(peer, "psi")
    reply = stub.start(PsiStartRequest(version=VERSION, group=GROUP, n_active=4, chunk_size=4))
    assert reply.n_passive == 10
    return manager, peer, stub


def _blind_points(n: int) -> bytes:
    with psi_group.GroupEngine(1) as engine:
        return engine.hash_mult(psi_group.random_scalar(), [f"q{i}" for i in range(n)])


def test_the_bank_cannot_query_more_points_than_it_announced(started) -> None:
    _, peer, stub = started
    reply = stub.blind(PsiBlindRequest(chunk=0, count=4, points=_blind_points(4)))
    assert reply.count == 4
    # the same chunk again under another step id is refused: no oracle beyond n_active
    with pytest.raises(FailedPrecondition):
        peer.call("psi/blind-again/0", PsiBlindRequest(0, 4, _blind_points(4)), PsiBlindResponse)
    with pytest.raises(InvalidArgument):
        stub.blind(PsiBlindRequest(chunk=1, count=1, points=_blind_points(1)))


def test_malformed_requests_are_refused(started) -> None:
    _, peer, stub = started
    with pytest.raises(InvalidArgument):  # count does not match the chunk
        stub.blind(PsiBlindRequest(chunk=0, count=3, points=_blind_points(3)))
    with pytest.raises(InvalidArgument):  # blob does not match the count
        stub.blind(PsiBlindRequest(chunk=0, count=4, points=_blind_points(3)))
    with pytest.raises(CryptoError):  # not group elements
        stub.blind(PsiBlindRequest(chunk=0, count=4, points=b"\xff" * 128))
    with pytest.raises(InvalidArgument):
        stub.fetch(PsiFetchRequest(chunk=3))
    with pytest.raises(FailedPrecondition):  # finish before the exchange
        stub.finish(PsiFinishRequest(chunk=0, n_chunks=1, n_intersection=0, count=0, points=b""))
    with pytest.raises(FailedPrecondition):  # a second start
        peer.call(
            "psi/start-again",
            PsiStartRequest(version=VERSION, group=GROUP, n_active=4, chunk_size=4),
            PsiStartResponse,
        )


def test_a_wrong_intersection_is_refused(started) -> None:
    _, _, stub = started
    a = psi_group.random_scalar()
    with psi_group.GroupEngine(1) as engine:
        returned = []
        for k in range(3):
            got = stub.fetch(PsiFetchRequest(chunk=k))
            y_ab = engine.mult(a, got.points)
            returned.append(y_ab)
            stub.give_back(PsiReturnRequest(chunk=k, count=got.count, points=y_ab))
        x_a = engine.hash_mult(a, ["1", "2", "zz", "yy"])
    stub.blind(PsiBlindRequest(chunk=0, count=4, points=x_a))
    with pytest.raises(FailedPrecondition):  # claims 1 common id, there are 2
        stub.finish(
            PsiFinishRequest(
                chunk=0, n_chunks=1, n_intersection=1, count=1, points=returned[0][:32]
            )
        )
    with pytest.raises(FailedPrecondition):  # right size, wrong values (never in the set)
        stub.finish(
            PsiFinishRequest(
                chunk=0, n_chunks=1, n_intersection=2, count=2, points=_blind_points(2)
            )
        )


def test_wrong_version_and_unknown_id_format(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "platform", IdTable(["a"]))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer.open_session(psi_session_spec("j1", "t", id_format="any"))
    with pytest.raises(InvalidArgument):
        PsiStub(peer, "psi").start(PsiStartRequest("other/9", GROUP, 1, 4))
    peer.open_session(psi_session_spec("j2", "t", id_format="passport"))
    with pytest.raises(InvalidArgument):
        PsiStub(peer, "psi").start(PsiStartRequest(VERSION, GROUP, 1, 4))


def test_platform_restart_mid_run_fails_cleanly_and_finished_jobs_stay_finished(
    tmp_path: Path,
) -> None:
    data = IdTable([str(i) for i in range(10)])
    manager = SessionManager(tmp_path / "platform", data)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer.open_session(psi_session_spec("psi-job", "t", id_format="any"))
    stub = PsiStub(peer, "psi")
    stub.start(PsiStartRequest(version=VERSION, group=GROUP, n_active=2, chunk_size=4))
    # the platform restarts: a new manager over the same data dir resumes the session
    manager2 = SessionManager(tmp_path / "platform", data)
    peer2 = InProcessPeer(manager2, Caller("bank-a", "bank"), codec=ProtobufCodec())
    assert peer2.open_session(psi_session_spec("psi-job", "t", id_format="any")).resumed
    with pytest.raises(FailedPrecondition):
        PsiStub(peer2, "psi").fetch(PsiFetchRequest(chunk=0))

    # a finished job cannot be run again under the same id
    result = run_psi(peer2, ["1", "2", "x"], job="done-job", id_format="any")
    assert result.n_intersection == 2
    peer2.open_session(psi_session_spec("done-job", "catalogue", id_format="any"))
    with pytest.raises(FailedPrecondition):
        PsiStub(peer2, "psi2").start(PsiStartRequest(VERSION, GROUP, 3, 4))


def test_platform_validator_defaults_to_the_table_meta(tmp_path: Path) -> None:
    good = codes(12, seed=21)
    platform = [*good[:10], "not-a-code", good[0]]
    data = IdTable(platform, meta={"id_format": "uscc"})
    manager = SessionManager(tmp_path / "platform", data)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    result = run_psi(peer, [*good[5:12], "not-a-code"], id_format=None)
    # the bank validates nothing (no validator): its "not-a-code" is a valid generic id, but the
    # platform dropped its own copy as an invalid USCC, so it is not in the intersection
    assert set(result.aligned_ids.tolist()) == set(good[5:10])
    assert result.n_peer == 10 and result.n_self == 8
