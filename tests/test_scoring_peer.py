"""Online scoring as typed messages through the peer interface, in process and over gRPC with
the same assertions: every family's part, per-company verdicts, the bank's key sent once, and
bad input (tampered or foreign ciphertexts, wrong lengths, replayed steps) refused with clear,
data-free errors and nothing half-done."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bank_node.scoring.families import ScoreJob, header_for, load_bank_model
from bank_node.scoring.families.coalesce import Coalescer
from bank_node.scoring.families.secureboost import SecureBoostScoring
from bank_node.scoring.keys import ScoringKeys
from experiments.support.grpc_harness import shared_pki
from experiments.support.scoring import (
    StaticProvider,
    Trained,
    start_platform,
    synthetic_tables,
    train_models,
)
from models.audit import events as ev
from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.crypto.wire import CipherArray
from models.errors import (
    ErrorKind,
    FailedPrecondition,
    FedCreditError,
    InternalError,
    PermissionDenied,
)
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.peer import ScoringPeer
from models.federation.scoring import ScoreHeader
from models.federation.session import SessionSpec
from models.logreg.packing import group_sizes
from models.logreg.scoring import LinearScoreRequest, LinearScoreResponse
from models.secureboost.scoring import SbScoreRequest, SbScoreResponse
from models.secureboost.stub import SecureBoostStub
from models.uscc import generate_usccs
from platform_node.consent.registry import ConsentRegistry
from platform_node.scoring.scorer import PlatformScorer
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.codec import ProtobufCodec
from tests.conftest import PeerFactory

TOL = 1e-9
INVALID = ErrorKind.INVALID_ARGUMENT
PRECONDITION = ErrorKind.FAILED_PRECONDITION


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("scoring-peer")
    bank, plat = synthetic_tables(200, seed=2)
    return train_models(bank, plat, root / "platform", root / "bank", scorecard=True)


@dataclass
class Platform:
    peer: ScoringPeer
    consent: ConsentRegistry
    audit: AuditLog
    data_dir: Path

    def grant(self, uscc: str) -> str:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        return self.consent.grant(uscc, "bank-a", "scoring", expires).consent_id


@pytest.fixture(params=["inprocess", "grpc"])
def platform(
    request: pytest.FixtureRequest, trained: Trained, tmp_path: Path
) -> Iterator[Platform]:
    """The platform's scoring service behind a ScoringPeer, with its own consent and audit."""
    data_dir = tmp_path / "platform"
    source = trained.sb_path.parent.parent.parent / "platform" / "models"
    shutil.copytree(source, data_dir / "models")
    provider = StaticProvider(trained.platform)
    if request.param == "inprocess":
        audit = open_node_audit_log(data_dir, "platform", "platform")
        consent = ConsentRegistry.in_data_dir(data_dir, audit, actor=Actor("op", "platform"))
        scorer = PlatformScorer(
            data_dir=data_dir, data_provider=provider, consent_registry=consent, audit_log=audit
        )
        manager = SessionManager(tmp_path / "sessions", provider)
        peer = InProcessPeer(
            manager, Caller("bank-a", "bank"), codec=ProtobufCodec(), scorer=scorer.score
        )
        yield Platform(peer, consent, audit, data_dir)
        scorer.close()
        consent.close()
        return
    from bank_node.federation_client import GrpcPassivePeer
    from proto.transport.tls import TlsFiles

    pki = shared_pki()
    running, audit, consent = start_platform(pki, data_dir, provider)
    grpc_peer = GrpcPassivePeer(
        f"127.0.0.1:{running.port}", TlsFiles.in_pki_dir(pki, "bank-a"), score_timeout_s=30
    )
    yield Platform(grpc_peer, consent, audit, data_dir)
    grpc_peer.close()
    running.stop(0.2)
    consent.close()


def _uscc(trained: Trained, row: int) -> str:
    return str(trained.bank.ids[row])


def _job(trained: Trained, row: int, uscc: str | None = None) -> ScoreJob:
    return ScoreJob(f"req-{row}", uscc or _uscc(trained, row), "", trained.bank.X[row])


def _score_concurrently(
    model: Any, trained: Any, peer: Any, keys: ScoringKeys, rows: list[int]
) -> dict[int, Any]:
    """Score ``rows`` from one thread each; a row's result or its refusal."""
    results: dict[int, Any] = {}

    def one(row: int) -> None:
        try:
            results[row] = model.score(_job(trained, row), peer, keys)
        except FedCreditError as exc:
            results[row] = exc

    threads = [threading.Thread(target=one, args=(row,)) for row in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_every_family_scores_through_the_peer(trained: Trained, platform: Platform) -> None:
    keys = ScoringKeys(1024)
    paths = {"secureboost": trained.sb_path, "logreg": trained.lr_path}
    assert trained.card_path is not None
    paths["scorecard"] = trained.card_path
    for family, path in paths.items():
        model = load_bank_model(path)
        for row in (3, 17):
            consent_id = platform.grant(_uscc(trained, row))
            scored = model.score(_job(trained, row), platform.peer, keys)
            assert abs(scored.assembled.pd - trained.offline_pd(family, row)) < TOL, family
            assert scored.consent_id == consent_id and scored.as_of
        with pytest.raises(PermissionDenied):
            model.score(_job(trained, 40), platform.peer, keys)


def _sb_request(
    trained: Trained, rows: list[int], keys: ScoringKeys, usccs: list[str] | None = None
) -> tuple[SecureBoostScoring, SbScoreRequest]:
    model = load_bank_model(trained.sb_path)
    assert isinstance(model, SecureBoostScoring)
    pred = model.predictor(keys)
    _, cells = pred.cells.values(trained.bank.X[rows], pred.quant_bits)
    jobs = [_job(trained, r, u) for r, u in zip(rows, usccs or [None] * len(rows), strict=True)]
    predict = pred.request(model.model_id, [], pred.encrypt_cells(cells), with_key=True)
    return model, SbScoreRequest(header_for(model, jobs), predict)


def test_one_request_many_companies_each_with_its_verdict(
    trained: Trained, platform: Platform
) -> None:
    keys = ScoringKeys(1024)
    outsider = generate_usccs(1, np.random.default_rng(7), division_codes=("410199",))[0]
    consenting = [_uscc(trained, r) for r in (5, 6, 8)]
    for code in [*consenting, outsider]:
        platform.grant(code)
    rows = [5, 6, 7, 8, 9]  # 7 never consented; 9 is sent as a company the platform lacks
    usccs = [*consenting[:2], _uscc(trained, 7), consenting[2], outsider]
    model, request = _sb_request(trained, rows, keys, usccs)
    reply = platform.peer.score(request, SbScoreResponse)
    assert reply.reply.status == ["", "", "permission_denied", "", "not_found"]
    assert [bool(c) for c in reply.reply.consent_ids] == [True, True, False, True, False]
    for message in reply.reply.messages:
        assert not any(code in message for code in usccs)
    pred = model.predictor(keys)
    sums = pred.sums(reply.predict.enc_margins, len(rows))
    local, _ = pred.cells.values(trained.bank.X[rows], pred.quant_bits)
    raw = pred.base_score + local + sums
    for k, row in enumerate(rows):
        if not reply.reply.status[k]:
            expect = trained.sb.decision_function(
                trained.bank.take(np.asarray([row])), trained.peer
            )
            assert abs(raw[k] - expect[0]) < TOL
    # the platform audited every company, refused ones included
    entries = platform.audit.query(event=ev.SCORE_REQUEST)
    outcomes = {e.details["uscc"]: e.details["outcome"] for e in entries}
    assert outcomes[usccs[2]] == ev.OUTCOME_DENIED and outcomes[usccs[0]] == ev.OUTCOME_OK


def test_the_bank_key_travels_once(trained: Trained, platform: Platform) -> None:
    keys = ScoringKeys(1024)
    platform.grant(_uscc(trained, 11))
    _, request = _sb_request(trained, [11], keys)
    bare = request.replace(predict=request.predict.replace(public_context=b""))
    first = platform.peer.score(bare, SbScoreResponse)
    assert first.predict.need_key and first.predict.enc_margins.count == 0
    assert platform.peer.score(request, SbScoreResponse).predict.enc_margins.count == 1
    # the request that only fetched the key is not on record as served: one request id, one
    # served entry (a platform restart makes every bank resend its key)
    entries = platform.audit.query(event=ev.SCORE_REQUEST)[-2:]
    assert [e.details["outcome"] for e in entries] == [ev.OUTCOME_KEY_REQUESTED, ev.OUTCOME_OK]
    assert entries[0].details["request_id"] == entries[1].details["request_id"]
    assert platform.peer.score(bare, SbScoreResponse).predict.enc_margins.count == 1


def _refused(platform: Platform, request: object, kind: ErrorKind) -> str:
    """The status of the refusal (a status code over gRPC, the same kind in process)."""
    with pytest.raises(FedCreditError) as info:
        platform.peer.score(request, SbScoreResponse)  # type: ignore[arg-type]
    assert info.value.kind is kind, info.value.message
    return info.value.message


def test_bad_input_is_refused_clearly(trained: Trained, platform: Platform) -> None:
    keys = ScoringKeys(1024)
    code = _uscc(trained, 12)
    platform.grant(code)
    _, request = _sb_request(trained, [12], keys)
    cells = request.predict.enc_cells
    blob = cells.split()[0]
    foreign = CipherArray.of_blobs("ckks", "ab" * 32, [blob])
    wrong_length = CipherArray.of_blobs("ckks", cells.key_fingerprint, [blob, blob])
    broken = CipherArray.of_blobs(
        "ckks", cells.key_fingerprint, [blob[:100] + b"\x00" + blob[101:]]
    )
    truncated = CipherArray.of_blobs("ckks", cells.key_fingerprint, [blob[:-20]])
    messages = [
        _refused(platform, request.replace(predict=request.predict.replace(enc_cells=c)), kind)
        for c, kind in (
            (foreign, INVALID),  # under another key's fingerprint
            (wrong_length, INVALID),  # cell vectors for another number of companies
            (broken, INVALID),  # a tampered ciphertext
            (truncated, INVALID),
        )
    ]
    other_layout = request.predict.replace(layout_digest="0" * 64)  # a vector of other cells
    messages.append(_refused(platform, request.replace(predict=other_layout), PRECONDITION))
    header = request.header
    for changed, kind in (
        (header.replace(platform_digest="sha256:" + "0" * 64), PRECONDITION),
        (header.replace(model_id="no-such-model"), ErrorKind.NOT_FOUND),
        (header.replace(family="logreg"), INVALID),  # another family's message type
        (header.replace(usccs=[code] * 65, request_ids=["r"] * 65), INVALID),
        (header.replace(request_ids=[]), INVALID),
    ):
        messages.append(_refused(platform, request.replace(header=changed), kind))
    for message in messages:
        assert code not in message and code[:17] not in message
    # nothing half-done: the platform holds no new file, each company's refusal is on record
    assert sorted(p.name for p in (platform.data_dir / "models").rglob("*.json")) == sorted(
        p.name
        for p in (trained.sb_path.parent.parent.parent / "platform" / "models").rglob("*.json")
    )
    refused = [e for e in platform.audit.query(event=ev.SCORE_REQUEST) if e.details["uscc"] == code]
    assert refused and all(e.details["outcome"] == ev.OUTCOME_ERROR for e in refused)
    # a well-formed request still works afterwards, and a linear request with a broken key fails
    assert platform.peer.score(request, SbScoreResponse).reply.status == [""]
    linear = LinearScoreRequest(
        ScoreHeader(["r"], [code], "logreg", trained.lr.model_id_, "", "", ""), b"\x01", 2
    )
    with pytest.raises(FedCreditError):
        platform.peer.score(linear, LinearScoreResponse)


def test_replayed_prediction_step_with_another_body_is_refused(
    make_peer: PeerFactory, trained: Trained, tmp_path: Path
) -> None:
    # the platform behind ``make_peer`` keeps its parts under tmp_path/platform/models; they
    # are there before it first starts (a node adopts and signs the parts it finds then, and
    # refuses unsigned parts that appear later)
    source = trained.sb_path.parent.parent.parent / "platform" / "models"
    shutil.copytree(source, tmp_path / "platform" / "models")
    peer = make_peer(StaticProvider(trained.platform))
    sb = trained.sb
    peer.open_session(SessionSpec("replay-predict", "secureboost", "", {"mode": "predict"}))
    try:
        stub = SecureBoostStub(peer, "p")
        pred = sb.secure_predictor()
        ids = trained.bank.ids[:4].tolist()
        enc = pred.encrypt(trained.bank.X[:4])
        first = stub.secure_predict(0, pred.request(sb.model_id_, ids, enc.enc_cells, True))
        again = stub.secure_predict(0, pred.request(sb.model_id_, ids, enc.enc_cells, True))
        assert again.enc_margins == first.enc_margins  # a retry gets the cached answer
        other = pred.encrypt(trained.bank.X[4:8])
        with pytest.raises(FailedPrecondition) as info:
            stub.secure_predict(0, pred.request(sb.model_id_, ids, other.enc_cells, True))
        assert not any(i in info.value.message for i in ids)
        np.testing.assert_allclose(
            pred.decode(enc, first.enc_margins),
            sb.decision_function(trained.bank.take(np.arange(4)), trained.peer),
            rtol=0,
            atol=TOL,
        )
    finally:
        peer.close_session()


def test_another_banks_model_part_is_not_served(trained: Trained, tmp_path: Path) -> None:
    """A part trained for bank-a is not served to bank-b, even when a copy of it sits where
    bank-b's parts are looked up (issue 14 row 13: accepting another bank's model part was not
    caught by any test; the mutation check's ``another_banks_model_part_accepted``)."""
    from models.errors import NotFound

    data_dir = tmp_path / "platform"
    source = trained.sb_path.parent.parent.parent / "platform" / "models"
    shutil.copytree(source, data_dir / "models")
    for family_dir in [d for d in (data_dir / "models").iterdir() if d.is_dir()]:
        for part in [p for p in family_dir.rglob("*.json") if "bank-b" not in p.parts]:
            (family_dir / "bank-b").mkdir(exist_ok=True)
            shutil.copy2(part, family_dir / "bank-b" / part.name)
    provider = StaticProvider(trained.platform)
    audit = open_node_audit_log(data_dir, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(data_dir, audit, actor=Actor("op", "platform"))
    scorer = PlatformScorer(
        data_dir=data_dir, data_provider=provider, consent_registry=consent, audit_log=audit
    )
    manager = SessionManager(tmp_path / "sessions", provider)
    try:
        keys = ScoringKeys(1024)
        code = _uscc(trained, 13)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        for bank in ("bank-a", "bank-b"):
            consent.grant(code, bank, "scoring", expires)
        _, request = _sb_request(trained, [13], keys)
        own = InProcessPeer(
            manager, Caller("bank-a", "bank"), codec=ProtobufCodec(), scorer=scorer.score
        )
        assert own.score(request, SbScoreResponse).reply.status == [""]
        other = InProcessPeer(
            manager, Caller("bank-b", "bank"), codec=ProtobufCodec(), scorer=scorer.score
        )
        with pytest.raises(NotFound):
            other.score(request, SbScoreResponse)
    finally:
        scorer.close()
        consent.close()


class _GatedPeer:
    """A scoring peer that holds its first call until ``n_waiting`` more requests queue up,
    and counts the calls and companies it forwards."""

    def __init__(self, inner: ScoringPeer, coalescer: Coalescer[Any, Any], n_waiting: int) -> None:
        self.inner, self.coalescer, self.n_waiting = inner, coalescer, n_waiting
        self.sizes: list[int] = []
        self.packed: list[int] = []

    def score(self, request: Any, response_type: Any) -> Any:
        if not self.sizes:
            deadline = time.monotonic() + 10
            while self.coalescer.queued < self.n_waiting and time.monotonic() < deadline:
                time.sleep(0.005)
        self.sizes.append(len(request.header.usccs))
        answer = self.inner.score(request, response_type)
        self.packed.append(getattr(answer, "packed_slots", 0))
        return answer


@pytest.mark.parametrize("family", ["logreg", "scorecard"])
def test_concurrent_linear_requests_share_platform_calls(
    trained: Trained, platform: Platform, family: str
) -> None:
    """Concurrent requests of one linear model travel together: each company gets its own
    score (equal to offline prediction) and its own verdict, a refusal stays with its company,
    and the platform audits every company once."""
    keys = ScoringKeys(1024)
    path = trained.lr_path if family == "logreg" else trained.card_path
    assert path is not None
    model = load_bank_model(path)
    partials = model.partials  # type: ignore[attr-defined]
    rows = [5, 6, 7, 8, 9, 11]
    refused = 11  # no consent
    consents = {row: platform.grant(_uscc(trained, row)) for row in rows if row != refused}
    peer = _GatedPeer(platform.peer, partials.coalescer, n_waiting=len(rows) - 1)
    results = _score_concurrently(model, trained, peer, keys, rows)
    assert sum(peer.sizes) == len(rows) and len(peer.sizes) < len(rows)
    assert max(peer.sizes) >= 2
    assert max(peer.packed) == keys.pack_slots()  # shared calls come back packed
    for row in rows:
        if row == refused:
            assert isinstance(results[row], PermissionDenied)
            continue
        scored = results[row]
        assert abs(scored.assembled.pd - trained.offline_pd(family, row)) < TOL, row
        assert scored.consent_id == consents[row] and scored.as_of
    audited = [
        e.details["uscc"]
        for e in platform.audit.entries()
        if e.event == ev.SCORE_REQUEST and e.details.get("model_id") == model.model_id
    ]
    assert sorted(audited) == sorted(_uscc(trained, row) for row in rows)


class _RepackingPeer:
    """A scoring peer whose linear answers claim another packing than the platform used."""

    def __init__(self, inner: ScoringPeer, packed_slots: int) -> None:
        self.inner, self.packed_slots = inner, packed_slots

    def score(self, request: Any, response_type: Any) -> Any:
        return self.inner.score(request, response_type).replace(packed_slots=self.packed_slots)


@pytest.mark.parametrize("family", ["logreg", "scorecard"])
def test_packed_linear_answer_equals_unpacked(
    trained: Trained, platform: Platform, family: str
) -> None:
    """Asked to pack, the platform answers the same numbers (within 1e-9 of one ciphertext
    per company), verdicts and categories in fewer ciphertexts; a refused company's slot is 0
    and its neighbours are untouched; a packing the key cannot hold, or an answer packed
    otherwise than asked, is refused."""
    keys = ScoringKeys(1024)
    path = trained.lr_path if family == "logreg" else trained.card_path
    assert path is not None
    model = load_bank_model(path)
    rows = [5, 6, 7, 8, 9, 11, 12]
    refused = 8  # no consent, in the middle of a packed group
    for row in rows:
        if row != refused:
            platform.grant(_uscc(trained, row))
    base = LinearScoreRequest(
        header_for(model, [_job(trained, r) for r in rows]), keys.public_bytes(), 3
    )
    plain = platform.peer.score(base, LinearScoreResponse)
    slots = keys.pack_slots()
    packed = platform.peer.score(base.replace(pack_slots=slots), LinearScoreResponse)
    sizes = group_sizes(len(rows), slots)
    assert plain.packed_slots == 0 and plain.enc_values.count == len(rows)
    assert packed.packed_slots == slots and packed.enc_values.count == len(sizes) == 3
    assert packed.reply.status == plain.reply.status
    assert [bool(s) for s in packed.reply.status] == [r == refused for r in rows]
    assert packed.adverse_categories == plain.adverse_categories
    expect = keys.decrypt_values(plain.enc_values, len(rows))
    ciphertexts = keys.ciphertexts(packed.enc_values, len(sizes))
    got = np.concatenate(
        [keys.decrypt_packed(c, k) for c, k in zip(ciphertexts, sizes, strict=True)]
    )
    assert np.max(np.abs(got - expect)) <= TOL
    assert got[rows.index(refused)] == 0.0 and np.count_nonzero(got) == len(rows) - 1
    with pytest.raises(FedCreditError) as info:
        platform.peer.score(base.replace(pack_slots=8), LinearScoreResponse)  # 1024 bits > n/2
    assert info.value.kind is INVALID and "plaintext holds" in info.value.message
    # the bank refuses an answer packed otherwise than it asked (a lone request asks for none)
    with pytest.raises(InternalError, match="did not ask"):
        model.score(_job(trained, 5), _RepackingPeer(platform.peer, 2), keys)  # type: ignore[arg-type]


def test_coalescer_batches_by_key_and_keeps_errors_per_item() -> None:
    """Items with another key never share a call; an item's own error reaches only its
    caller; an error of the whole call reaches every caller of that call."""
    gate = threading.Event()
    calls: list[list[tuple[str, int]]] = []

    def send(items: list[tuple[str, int]]) -> list[int | BaseException]:
        if not calls:
            gate.wait(10)
        calls.append(items)
        if any(v < 0 for _, v in items):
            raise FailedPrecondition("whole call refused")
        return [PermissionDenied("no") if v == 13 else v * 10 for _, v in items]

    co: Coalescer[tuple[str, int], int] = Coalescer(send, limit=8)
    out: dict[tuple[str, int], Any] = {}

    def one(key: str, v: int) -> None:
        try:
            out[(key, v)] = co.submit(key, (key, v))
        except FedCreditError as exc:
            out[(key, v)] = exc

    first = threading.Thread(target=one, args=("a", 1))
    first.start()
    while co.in_flight == 0:
        time.sleep(0.001)
    rest = [("a", 2), ("a", 13), ("b", 3), ("b", -1)]
    threads = [threading.Thread(target=one, args=kv) for kv in rest]
    for t in threads:
        t.start()
    while co.queued < len(rest):
        time.sleep(0.001)
    gate.set()
    for t in [first, *threads]:
        t.join(10)
    assert calls[0] == [("a", 1)]
    assert {frozenset(c) for c in calls[1:]} == {
        frozenset({("a", 2), ("a", 13)}),
        frozenset({("b", 3), ("b", -1)}),
    }
    assert out[("a", 1)] == 10 and out[("a", 2)] == 20
    assert isinstance(out[("a", 13)], PermissionDenied)
    assert isinstance(out[("b", 3)], FailedPrecondition)
    assert isinstance(out[("b", -1)], FailedPrecondition)
    assert co.calls == 3


def test_concurrent_tree_requests_share_ciphertexts(trained: Trained, platform: Platform) -> None:
    """Concurrent SecureBoost requests travel in one call (one ciphertext group): each margin
    equals offline prediction and a refusal stays with its company."""
    keys = ScoringKeys(1024)
    model = load_bank_model(trained.sb_path)
    assert isinstance(model, SecureBoostScoring)
    platform.grant(_uscc(trained, 2))
    model.score(_job(trained, 2), platform.peer, keys)  # the first call sends the bank's key
    rows, refused = [21, 22, 23, 24], 24
    for row in rows[:-1]:
        platform.grant(_uscc(trained, row))
    peer = _GatedPeer(platform.peer, model.coalescer, n_waiting=len(rows) - 1)
    results = _score_concurrently(model, trained, peer, keys, rows)
    assert sum(peer.sizes) == len(rows) and max(peer.sizes) >= 2
    assert isinstance(results[refused], PermissionDenied)
    for row in rows[:-1]:
        pd = results[row].assembled.pd
        assert abs(pd - trained.offline_pd("secureboost", row)) < TOL, row


def test_coalescer_pipelines_only_whole_batches() -> None:
    """With a call in flight, a second call leaves only with whole batches of ``full`` items;
    the rest waits until no call is in flight, then goes at once whatever its size."""
    gate = threading.Event()
    calls: list[list[int]] = []

    def send(items: list[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(10)
        return [v * 10 for v in items]

    co: Coalescer[int, int] = Coalescer(send, limit=6, max_in_flight=2, full=3)
    out: dict[int, int] = {}

    def one(v: int) -> None:
        out[v] = co.submit("k", v)

    threads = [threading.Thread(target=one, args=(0,))]
    threads[0].start()
    while co.in_flight == 0:
        time.sleep(0.001)
    for v in (1, 2):  # a partial batch: waits although a second call would be allowed
        threads.append(threading.Thread(target=one, args=(v,)))
        threads[-1].start()
    while co.queued < 2:
        time.sleep(0.001)
    time.sleep(0.05)
    assert len(calls) == 1 and co.in_flight == 1
    threads.append(threading.Thread(target=one, args=(3,)))  # a whole batch: goes beside it
    threads[-1].start()
    deadline = time.monotonic() + 10
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert calls[1] == [1, 2, 3]
    while co.in_flight > 1:  # the second call is answered; the first still held
        time.sleep(0.001)
    threads.append(threading.Thread(target=one, args=(4,)))  # partial: waits for the first
    threads[-1].start()
    while co.queued < 1:
        time.sleep(0.001)
    time.sleep(0.05)
    assert len(calls) == 2
    gate.set()
    for t in threads:
        t.join(10)
    assert calls == [[0], [1, 2, 3], [4]]
    assert out == {v: v * 10 for v in range(5)}


def test_coalescer_lingers_for_the_concurrency_seen() -> None:
    """With ``linger_s``, a call smaller than the concurrency seen lately waits for the
    requests on their way (and leaves as soon as they are queued); a lone request never
    waits, nor does a call after one that went alone; a call waits no longer than
    ``linger_s``."""
    gates = [threading.Event(), threading.Event()]
    calls: list[list[int]] = []

    def send(items: list[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) <= len(gates):
            gates[len(calls) - 1].wait(10)
        return [v * 10 for v in items]

    lone: Coalescer[int, int] = Coalescer(lambda items: items, limit=8, linger_s=30.0)
    t0 = time.monotonic()
    assert lone.submit("k", 7) == 7  # nobody else seen: no wait
    assert lone.submit("k", 8) == 8
    assert time.monotonic() - t0 < 10

    co: Coalescer[int, int] = Coalescer(send, limit=8, linger_s=30.0)
    co.WINDOW_S = 30.0  # the concurrency seen stays remembered however slow this machine is
    out: dict[int, int] = {}
    threads: list[threading.Thread] = []

    def start(*values: int) -> None:
        for v in values:
            threads.append(threading.Thread(target=lambda v=v: out.update({v: co.submit("k", v)})))
            threads[-1].start()

    def wait_for(cond: Any) -> None:
        deadline = time.monotonic() + 10
        while not cond() and time.monotonic() < deadline:
            time.sleep(0.001)

    start(0)
    wait_for(lambda: co.in_flight == 1)
    start(1, 2, 3)  # four requests seen at once
    wait_for(lambda: co.queued == 3)
    gates[0].set()  # [1, 2, 3] leaves at once: the call before it went alone
    wait_for(lambda: len(calls) == 2)
    start(4)
    wait_for(lambda: co.queued == 1)
    gates[1].set()  # 4 could leave now, but lingers for the three on their way back
    wait_for(lambda: 3 in out)
    time.sleep(0.05)
    assert calls == [[0], [1, 2, 3]]
    start(5, 6)
    time.sleep(0.05)
    assert len(calls) == 2  # three of four: still waiting
    start(7)  # the fourth: the call leaves at once
    for t in threads:
        t.join(10)
    assert calls == [[0], [1, 2, 3], [4, 5, 6, 7]]
    assert out == {v: v * 10 for v in range(8)}
    assert time.monotonic() - t0 < 10  # nobody waited for the linger's end

    co.linger_s = 0.2  # a lone request after a shared call waits out the linger, once
    t1 = time.monotonic()
    assert co.submit("k", 8) == 80
    assert 0.15 <= time.monotonic() - t1 < 5
    t2 = time.monotonic()
    assert co.submit("k", 9) == 90
    assert time.monotonic() - t2 < 0.15
    assert calls[-2:] == [[8], [9]]
