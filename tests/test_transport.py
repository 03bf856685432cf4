"""Foundation: real mutual-TLS nodes on loopback, roles, sessions, retries, frames."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from bank_node.federation_client import GrpcPassivePeer, health_check
from experiments.support.grpc_harness import bank_peer, shared_pki, start_platform
from models.dataset import PartyTable
from models.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from models.federation.party import Caller
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from proto.fedcredit.v1 import federation_pb2, federation_pb2_grpc
from proto.transport.channel import RetryPolicy, open_channel
from proto.transport.frames import Body, from_frames, to_frames
from proto.transport.pki import init_ca, issue
from proto.transport.tls import TlsFiles


class TinyData:
    """A DataProvider serving one small table."""

    def __init__(self, n: int = 50) -> None:
        rng = np.random.default_rng(0)
        self.table = PartyTable(
            ids=np.array([f"id{i}" for i in range(n)]),
            X=rng.normal(size=(n, 3)),
            feature_names=["a", "b", "c"],
            feature_groups=["tax", "tax", "judicial"],
        )
        self.loads = 0

    def load(self, dataset, caller, params):
        self.loads += 1
        return self.table


@pytest.fixture
def platform(tmp_path: Path):
    running = start_platform(tmp_path, TinyData(), idle_timeout_s=600)
    yield running
    running.stop(0.2)


def describe(peer, job="job-1", step="describe/0") -> DescribeResponse:
    peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset="tiny"))
    return peer.call(step, DescribeRequest(), DescribeResponse)


def test_describe_same_over_both_transports(make_peer) -> None:
    data = TinyData()
    peer = make_peer(data)
    info = peer.open_session(SessionSpec(job_id="j1", algorithm="describe", dataset="tiny"))
    assert info.job_id == "j1" and not info.resumed
    reply = peer.call("describe/0", DescribeRequest(include_feature_names=True), DescribeResponse)
    assert reply.n_rows == 50 and reply.n_features == 3
    assert reply.digest == data.table.digest()
    assert reply.categories == ["judicial", "tax"]
    assert reply.feature_names == []  # names are not shared unless the platform allows it
    peer.close_session()


def test_retried_step_returns_cached_answer(make_peer) -> None:
    data = TinyData()
    peer = make_peer(data)
    first = describe(peer)
    loads = data.loads
    again = peer.call("describe/0", DescribeRequest(), DescribeResponse)
    assert again == first
    assert data.loads == loads  # the handler did not run twice
    with pytest.raises(FailedPrecondition):
        peer.call("describe/0", DescribeRequest(include_feature_names=True), DescribeResponse)


def test_session_times_out(make_peer) -> None:
    peer = make_peer(TinyData(), idle_timeout_s=0.3)
    describe(peer)
    time.sleep(0.8)
    with pytest.raises(NotFound):
        peer.call("describe/1", DescribeRequest(), DescribeResponse)
    # reopening the same job resumes it
    info = peer.open_session(SessionSpec(job_id="job-1", algorithm="describe", dataset="tiny"))
    assert info.resumed


def test_other_bank_cannot_use_a_session(platform) -> None:
    a = bank_peer(platform.port, "bank-a")
    b = bank_peer(platform.port, "bank-b")
    describe(a, job="job-x")
    with pytest.raises(PermissionDenied):
        b.open_session(SessionSpec(job_id="job-x", algorithm="describe", dataset="tiny"))
    a.close()
    b.close()


def test_wrong_role_is_refused(platform) -> None:
    regulator = bank_peer(platform.port, "regulator")
    with pytest.raises(PermissionDenied):
        regulator.open_session(SessionSpec(job_id="j", algorithm="describe", dataset="tiny"))
    regulator.close()


def test_officer_cannot_train(platform) -> None:
    pki = shared_pki()
    officer = GrpcPassivePeer(f"127.0.0.1:{platform.port}", TlsFiles.in_pki_dir(pki, "alice"))
    with pytest.raises(PermissionDenied):
        officer.open_session(SessionSpec(job_id="j", algorithm="describe", dataset="tiny"))
    officer.close()


def test_unknown_party_is_unauthenticated(platform) -> None:
    pki = shared_pki()
    if not (pki / "bank-z").exists():
        issue(pki, "bank-z", "bank")  # signed by the right CA, but not registered
    peer = GrpcPassivePeer(
        f"127.0.0.1:{platform.port}",
        TlsFiles.in_pki_dir(pki, "bank-z"),
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(Unauthenticated):
        peer.open_session(SessionSpec(job_id="j", algorithm="describe", dataset="tiny"))
    peer.close()


def test_certificate_from_another_ca_is_refused(platform, tmp_path: Path) -> None:
    rogue = tmp_path / "rogue"
    init_ca(rogue)
    issue(rogue, "bank-a", "bank")  # same name, wrong CA
    peer = GrpcPassivePeer(
        f"127.0.0.1:{platform.port}",
        TlsFiles(
            ca=shared_pki() / "ca.pem",
            cert=rogue / "bank-a" / "cert.pem",
            key=rogue / "bank-a" / "key.pem",
        ),
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(Unavailable):  # the TLS handshake fails
        peer.open_session(SessionSpec(job_id="j", algorithm="describe", dataset="tiny"))
    peer.close()


def test_client_without_certificate_is_refused(platform) -> None:
    creds = grpc.ssl_channel_credentials(root_certificates=(shared_pki() / "ca.pem").read_bytes())
    with grpc.secure_channel(
        f"127.0.0.1:{platform.port}",
        creds,
        options=[("grpc.ssl_target_name_override", "platform")],
    ) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.OpenSession(
                federation_pb2.SessionSpec(job_id="j", algorithm="describe"), timeout=5
            )
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_server_must_be_the_platform(platform) -> None:
    # a bank expecting the platform refuses a server whose certificate names another party
    peer = GrpcPassivePeer(
        f"127.0.0.1:{platform.port}",
        TlsFiles.in_pki_dir(shared_pki(), "bank-a"),
        server_name="bank-b",
        retry=RetryPolicy(attempts=3),
    )
    # a configuration error, reported as such at once (issue 15), not a transient failure
    with pytest.raises(InvalidArgument, match="TLS configuration"):
        peer.open_session(SessionSpec(job_id="j", algorithm="describe", dataset="tiny"))
    peer.close()


def test_bad_input_gets_invalid_argument(platform) -> None:
    peer = bank_peer(platform.port)
    with pytest.raises(InvalidArgument):
        peer.open_session(SessionSpec(job_id="bad job id!", algorithm="describe"))
    with pytest.raises(InvalidArgument):
        peer.open_session(SessionSpec(job_id="j2", algorithm="no-such-algorithm"))
    peer.close()


def test_health_service(platform) -> None:
    assert health_check(f"127.0.0.1:{platform.port}", TlsFiles.in_pki_dir(shared_pki(), "bank-a"))


def test_retry_on_unavailable_then_success(tmp_path: Path) -> None:
    # the platform is not up yet when the bank starts calling: the client retries
    import socket
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = TinyData()
    holder: dict[str, object] = {}

    def start_later() -> None:
        time.sleep(0.6)
        from experiments.support.grpc_harness import KNOWN
        from platform_node.server import create_server

        holder["server"] = create_server(
            listen=f"127.0.0.1:{port}",
            data_dir=tmp_path / "p",
            data=data,
            tls=TlsFiles.in_pki_dir(shared_pki(), "platform"),
            known_parties=KNOWN,
        )

    t = threading.Thread(target=start_later)
    t.start()
    peer = GrpcPassivePeer(
        f"127.0.0.1:{port}",
        TlsFiles.in_pki_dir(shared_pki(), "bank-a"),
        retry=RetryPolicy(attempts=8, initial_s=0.2, max_s=0.5),
    )
    try:
        reply = describe(peer)
        assert reply.n_rows == 50
    finally:
        t.join()
        peer.close()
        holder["server"].stop(0.2)  # type: ignore[attr-defined]


def test_large_message_streams_in_chunks() -> None:
    data = bytes(range(256)) * 20_000  # ~5 MB, larger than one gRPC message
    frames = list(to_frames(Body("j", "s", "fedcredit.v1.X", data), chunk_bytes=1 << 20))
    assert len(frames) == 5
    assert from_frames(iter(frames)).data == data
    tampered = list(frames)
    tampered[2] = type(frames[2])(chunk=b"x" + frames[2].chunk[1:])
    with pytest.raises(InvalidArgument):
        from_frames(iter(tampered))
    with pytest.raises(InvalidArgument):
        from_frames(iter(frames[:-1]))


def test_session_state_survives_platform_restart(tmp_path: Path) -> None:
    data = TinyData()
    first = start_platform(tmp_path, data)
    peer = bank_peer(first.port)
    describe(peer, job="job-r")
    peer.close()
    first.stop(0.2)
    second = start_platform(tmp_path, data)
    peer = bank_peer(second.port)
    info = peer.open_session(SessionSpec(job_id="job-r", algorithm="describe", dataset="tiny"))
    assert info.resumed
    peer.close()
    second.stop(0.2)


def test_caller_identity_from_certificate() -> None:
    from proto.transport.tls import cert_identity

    pki = shared_pki()
    bank = cert_identity((pki / "bank-a" / "cert.pem").read_bytes())
    officer = cert_identity((pki / "alice" / "cert.pem").read_bytes())
    assert (bank.party, bank.role) == ("bank-a", "bank")
    assert (officer.party, officer.role) == ("bank-a/alice", "officer")
    assert len(bank.cert_fingerprint) == 64
    assert isinstance(bank, Caller)


def test_channel_without_tls_only_in_plaintext_mode(tmp_path: Path) -> None:
    from experiments.support.grpc_harness import KNOWN
    from platform_node.server import create_server

    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "p",
        data=TinyData(),
        tls=None,
        known_parties=KNOWN,
    )
    try:
        peer = GrpcPassivePeer(f"127.0.0.1:{running.port}", None, test_identity=("bank-a", "bank"))
        assert describe(peer).n_rows == 50
        peer.close()
        anonymous = GrpcPassivePeer(
            f"127.0.0.1:{running.port}", None, retry=RetryPolicy(attempts=1)
        )
        with pytest.raises(Unauthenticated):
            anonymous.open_session(SessionSpec(job_id="j", algorithm="describe"))
        anonymous.close()
        # a TLS client cannot talk to a plaintext server
        with open_channel(f"127.0.0.1:{running.port}", None) as ch:
            assert ch is not None
    finally:
        running.stop(0.2)
