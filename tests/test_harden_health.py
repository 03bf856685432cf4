"""Health checks are rate-limited per party (issue 14, "rate limits per party and per RPC"):
the health service is open to every known party, so a flood of checks from one party is
refused with RESOURCE_EXHAUSTED while another party's checks are still answered."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from experiments.support.grpc_harness import shared_pki
from proto.transport.channel import open_channel
from proto.transport.limits import RateRule
from proto.transport.limits_config import LimitsConfig
from proto.transport.tls import TlsFiles
from tests.test_abuse_limits import make_platform  # noqa: F401  (fixture)


def _check(port: int, party: str, n: int) -> list[grpc.StatusCode]:
    codes: list[grpc.StatusCode] = []
    tls = TlsFiles.in_pki_dir(shared_pki(), party)
    with open_channel(f"127.0.0.1:{port}", tls, server_name="platform") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(n):
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as err:
                codes.append(err.code())
    return codes


def test_a_flood_of_health_checks_is_limited_per_party(make_platform) -> None:  # noqa: F811
    running = make_platform(rates={"Check": RateRule(0.01, 5.0)})
    flood = _check(running.port, "bank-a", 12)
    assert flood[:5] == [grpc.StatusCode.OK] * 5
    assert flood[5:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 7
    # another party's checks are still answered
    assert _check(running.port, "bank-b", 3) == [grpc.StatusCode.OK] * 3
    assert running.node.guard.refused["rate"] == 7


def test_health_watch_streams_have_their_own_tight_default() -> None:
    cfg = LimitsConfig()
    assert cfg.rate_for("/grpc.health.v1.Health/Watch").burst <= 5
    assert cfg.rate_for("/grpc.health.v1.Health/Check") == cfg.default_rate


def test_health_watches_are_capped_per_party(make_platform) -> None:  # noqa: F811
    """A watch holds a server thread while open: a party holds at most two at once, in a
    pool apart from its Exchange streams; another party's watches still open."""
    from proto.transport.limits import WATCH_STREAMS_PER_PARTY

    running = make_platform()
    pki = shared_pki()
    target = f"127.0.0.1:{running.port}"
    a = open_channel(target, TlsFiles.in_pki_dir(pki, "bank-a"), server_name="platform")
    b = open_channel(target, TlsFiles.in_pki_dir(pki, "bank-b"), server_name="platform")
    held = []
    try:
        stub_a, stub_b = health_pb2_grpc.HealthStub(a), health_pb2_grpc.HealthStub(b)
        for _ in range(WATCH_STREAMS_PER_PARTY):
            watch = stub_a.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            held.append(watch)
        extra = stub_a.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        try:
            next(extra)
            raise AssertionError("a third watch was served")
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        other = stub_b.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        assert next(other).status == health_pb2.HealthCheckResponse.SERVING
        held.append(other)
        assert _check(running.port, "bank-a", 1) == [grpc.StatusCode.OK]  # checks unaffected
    finally:
        for watch in held:
            watch.cancel()
        a.close()
        b.close()
    deadline = time.monotonic() + 10
    while running.node.guard.in_flight()[2] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.node.guard.in_flight()[2] == {}  # every slot given back
