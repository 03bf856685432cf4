"""Issue 14 rows 2 and 11: per-party resource limits on the platform, and malformed requests.

Each test drives a real mutual-TLS platform on loopback with a bank's certificate.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from experiments.support.grpc_harness import bank_peer, shared_pki, start_platform
from models.dataset import PartyTable
from models.errors import InvalidArgument, ResourceExhausted
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from platform_node.config import PlatformConfig
from proto.fedcredit.v1 import common_pb2
from proto.transport.channel import open_channel
from proto.transport.frames import Body, frame_header, receive_body, to_frames
from proto.transport.limits import LimitsConfig, RateRule, ResourceGuard
from proto.transport.tls import TlsFiles

MiB = 1 << 20
EXCHANGE = "/fedcredit.v1.FederationService/Exchange"
OPEN = "/fedcredit.v1.FederationService/OpenSession"


class TinyData:
    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.table = PartyTable(
            ids=np.array([f"id{i}" for i in range(20)]),
            X=rng.normal(size=(20, 2)),
            feature_names=["a", "b"],
            feature_groups=["tax", "tax"],
        )

    def load(self, dataset: object, caller: object, params: object) -> PartyTable:
        return self.table


def _raw_channel(port: int, party: str = "bank-a") -> grpc.Channel:
    return open_channel(
        f"127.0.0.1:{port}", TlsFiles.in_pki_dir(shared_pki(), party), server_name="platform"
    )


def _raw_exchange(channel: grpc.Channel) -> grpc.StreamStreamMultiCallable:
    return channel.stream_stream(EXCHANGE, request_serializer=None, response_deserializer=None)


def _header(job: str, total: int, body_type: str = "fedcredit.v1.DescribeRequest") -> bytes:
    h = common_pb2.FrameHeader(
        job_id=job, step_id="s/0", body_type=body_type, total_bytes=total, sha256=b"\0" * 32
    )
    return common_pb2.Frame(header=h, chunk=b"x" * 1024).SerializeToString()


def _held_stream(
    channel: grpc.Channel, job: str, total: int, release: threading.Event
) -> tuple[threading.Thread, list[grpc.StatusCode]]:
    """A stream that sends its header and one chunk, then waits for ``release``."""
    codes: list[grpc.StatusCode] = []

    def frames() -> Iterator[bytes]:
        yield _header(job, total)
        release.wait(20)

    def run() -> None:
        try:
            list(_raw_exchange(channel)(frames(), timeout=30))
        except grpc.RpcError as err:
            codes.append(err.code())

    t = threading.Thread(target=run)
    t.start()
    return t, codes


@pytest.fixture
def make_platform(tmp_path: Path) -> Iterator:
    started = []

    def make(**limits: object):  # type: ignore[no-untyped-def]
        running = start_platform(tmp_path, TinyData(), limits=LimitsConfig(**limits))  # type: ignore[arg-type]
        started.append(running)
        return running

    yield make
    for r in started:
        r.stop(0.2)


def _open(port: int, job: str, party: str = "bank-a") -> None:
    peer = bank_peer(port, party)
    peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset="tiny"))
    peer.close()


# -- row 11: malformed bytes ---------------------------------------------------------------------
def test_malformed_protobuf_gets_invalid_argument_from_our_handler(make_platform) -> None:
    running = make_platform()
    channel = _raw_channel(running.port)
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(channel)(iter([b"\xff\xff\xff\xff garbage"]), timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "deserializing" not in (err.value.details() or "")
        unary = channel.unary_unary(OPEN, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as err:
            unary(b"\x0a\xff\xff", timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # a well-formed call on the same channel still works
        _open(running.port, "after-garbage")
    finally:
        channel.close()


# -- row 2: bodies, streams, bytes in flight, rates -----------------------------------------------
def test_body_over_the_limit_is_refused_at_its_header(make_platform) -> None:
    running = make_platform(max_body_bytes=4 * MiB, party_bytes_in_flight=8 * MiB)
    _open(running.port, "big")
    channel = _raw_channel(running.port)
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(channel)(iter([_header("big", 600 * MiB)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()


def test_streams_for_no_open_session_are_refused_before_the_body(make_platform) -> None:
    running = make_platform()
    channel = _raw_channel(running.port)
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(channel)(iter([_header("never-opened", 100 * MiB)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        channel.close()


def test_bytes_in_flight_per_party(make_platform) -> None:
    running = make_platform(
        max_body_bytes=6 * MiB, party_bytes_in_flight=8 * MiB, reserve_wait_s=0.2
    )
    _open(running.port, "a-job")
    _open(running.port, "b-job", "bank-b")
    release = threading.Event()
    channel = _raw_channel(running.port)
    t, codes = _held_stream(channel, "a-job", 6 * MiB, release)
    try:
        _wait_for(lambda: running.node.guard.in_flight()[0] == 6 * MiB)
        with pytest.raises(grpc.RpcError) as err:  # 6 + 6 MiB > 8 MiB for bank-a
            list(_raw_exchange(channel)(iter([_header("a-job", 6 * MiB)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # another bank is not affected: its stream gets past the reservation (to the digest)
        other = _raw_channel(running.port, "bank-b")
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(other)(iter([_header("b-job", 1024)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # zero digest: refused later
        other.close()
    finally:
        release.set()
        t.join(30)
        channel.close()
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT]  # the held stream ends short
    assert running.node.guard.in_flight() == (0, {}, {})


def test_concurrent_streams_per_party(make_platform) -> None:
    running = make_platform(party_streams=1)
    _open(running.port, "s-job")
    release = threading.Event()
    channel = _raw_channel(running.port)
    t, _ = _held_stream(channel, "s-job", 2 * MiB, release)
    try:
        _wait_for(lambda: running.node.guard.in_flight()[2].get("bank-a") == 1)
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(channel)(iter([_header("s-job", 10)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        release.set()
        t.join(30)
        channel.close()
    # the slot is free again: a real step goes through
    peer = bank_peer(running.port)
    peer.open_session(SessionSpec(job_id="s-job", algorithm="describe", dataset="tiny"))
    assert peer.call("d/0", DescribeRequest(), DescribeResponse).n_rows == 20
    peer.close()


def test_call_rate_per_party_and_method(make_platform) -> None:
    from proto.transport.channel import RetryPolicy

    running = make_platform(rates={"OpenSession": RateRule(0.01, 2.0)})
    peer = bank_peer(running.port, retry=RetryPolicy(attempts=1))
    peer.open_session(SessionSpec(job_id="r1", algorithm="describe", dataset="tiny"))
    peer.open_session(SessionSpec(job_id="r2", algorithm="describe", dataset="tiny"))
    with pytest.raises(ResourceExhausted):
        peer.open_session(SessionSpec(job_id="r3", algorithm="describe", dataset="tiny"))
    peer.close()
    other = bank_peer(running.port, "bank-b", retry=RetryPolicy(attempts=1))
    other.open_session(SessionSpec(job_id="r4", algorithm="describe", dataset="tiny"))
    other.close()
    assert running.node.guard.refused["rate"] == 1


# -- units: spilling, pacing, config ---------------------------------------------------------
def test_receive_body_spills_to_a_private_file(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    frames = list(to_frames(Body("j", "s", "t", data), chunk_bytes=256 * 1024))
    spill = tmp_path / "spool"
    spill.mkdir(mode=0o700)
    seen: list[int] = []

    def on_chunk(n: int) -> None:
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(spill)):
                seen.append(stat.S_IMODE(os.stat(f"/proc/self/fd/{fd}").st_mode))

    header = frame_header(frames[0])
    body = receive_body(
        header, frames[0], iter(frames[1:]), spill_dir=spill, spill_threshold=MiB, on_chunk=on_chunk
    )
    assert body.data == data
    assert seen and set(seen) == {0o600}
    assert not list(spill.iterdir())  # nothing left behind
    bad = common_pb2.Frame(header=common_pb2.FrameHeader(total_bytes=4, sha256=b"\0" * 32))
    with pytest.raises(InvalidArgument):
        receive_body(bad.header, bad, iter([common_pb2.Frame(chunk=b"abcd")]), spill_dir=spill)
    assert hashlib.sha256(data).digest() == frames[0].header.sha256


def test_byte_rate_paces_a_party() -> None:
    now = [0.0]
    guard = ResourceGuard(
        LimitsConfig(party_bytes_per_s=float(MiB), spill_threshold_bytes=MiB),
        clock=lambda: now[0],
    )
    slept: list[float] = []
    guard.throttle("bank-a", MiB, sleep=slept.append)  # the burst
    guard.throttle("bank-a", MiB, sleep=slept.append)
    assert slept == [pytest.approx(1.0)]
    guard.throttle("bank-b", MiB, sleep=slept.append)  # another party has its own budget
    assert len(slept) == 1


def test_limits_in_the_platform_config(tmp_path: Path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text(
        "[platform]\n[platform.known_parties]\nbank-a = 'bank'\n"
        "[platform.limits]\nparty_streams = 2\nmax_body_bytes = 1048576\n"
        "[platform.limits.rates]\nVerifyLog = [0.5, 2]\n"
        "[platform.feature_tables]\nmax_tables = 3\n"
    )
    cfg = PlatformConfig.load(toml, plaintext=True)
    assert cfg.limits.party_streams == 2 and cfg.limits.max_body_bytes == MiB
    assert cfg.limits.rate_for("/fedcredit.v1.AuditService/VerifyLog") == RateRule(0.5, 2.0)
    assert cfg.feature_tables.max_tables == 3
    for bad in ("party_streams = 0", "max_body_bytes = 'big'", "no_such_limit = 1"):
        toml.write_text(
            f"[platform]\n[platform.known_parties]\nbank-a = 'bank'\n[platform.limits]\n{bad}\n"
        )
        with pytest.raises(InvalidArgument):
            PlatformConfig.load(toml, plaintext=True)


def _wait_for(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_concurrent_big_streams_keep_memory_bounded(make_platform) -> None:
    """Row 2 reproduced in process: four 48 MiB streams at once from one bank. Only what the
    party's bytes-in-flight budget admits is ever held in memory (spilled while it arrives);
    before, every stream was buffered whole (4 x 48 MiB, then joined)."""
    import tracemalloc

    running = make_platform(
        max_body_bytes=48 * MiB,
        party_bytes_in_flight=64 * MiB,
        spill_threshold_bytes=MiB,
        reserve_wait_s=0.0,
    )
    _open(running.port, "mem")
    size = 48 * MiB
    body = bytes(size)
    digest = hashlib.sha256(body).digest()
    codes: list[grpc.StatusCode] = []
    lock = threading.Lock()

    def frames() -> Iterator[bytes]:
        header = common_pb2.FrameHeader(
            job_id="mem", step_id="s/0", body_type="fedcredit.v1.DescribeRequest",
            total_bytes=size, sha256=digest,
        )  # fmt: skip
        yield common_pb2.Frame(header=header).SerializeToString()
        view = memoryview(body)
        for start in range(0, size, MiB):
            yield common_pb2.Frame(chunk=bytes(view[start : start + MiB])).SerializeToString()

    def send() -> None:
        channel = _raw_channel(running.port)
        try:
            list(_raw_exchange(channel)(frames(), timeout=60))
        except grpc.RpcError as err:
            with lock:
                codes.append(err.code())
        finally:
            channel.close()

    tracemalloc.start()
    try:
        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(codes) == 4
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes  # over the party's budget
    assert grpc.StatusCode.INVALID_ARGUMENT in codes  # admitted, received, not a message
    assert peak < 110 * MiB, peak / MiB


def test_a_stream_over_budget_waits_for_the_earlier_one() -> None:
    guard = ResourceGuard(
        LimitsConfig(max_body_bytes=6 * MiB, party_bytes_in_flight=8 * MiB, reserve_wait_s=10.0)
    )
    admitted = threading.Event()
    with guard.reserve("bank-a", 6 * MiB):

        def second() -> None:
            with guard.reserve("bank-a", 6 * MiB):
                admitted.set()

        t = threading.Thread(target=second)
        t.start()
        assert not admitted.wait(0.3)  # over budget: waiting, not refused
    t.join(10)
    assert admitted.is_set() and guard.refused == {}
    short = ResourceGuard(
        LimitsConfig(max_body_bytes=6 * MiB, party_bytes_in_flight=8 * MiB, reserve_wait_s=0.1)
    )
    with (
        short.reserve("bank-a", 6 * MiB),
        pytest.raises(ResourceExhausted),
        short.reserve("bank-a", 6 * MiB),
    ):
        pass
