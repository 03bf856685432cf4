"""Common gRPC server construction for both nodes: interceptors, limits, TLS, health.

Every call passes :class:`~proto.transport.auth.AuthInterceptor` (who is calling, may that role
call this method) and then :class:`~proto.transport.limits.LimitsInterceptor` (the caller's call
rate and stream slots; requests decoded by our own code, so malformed bytes are
``INVALID_ARGUMENT``). The :class:`~proto.transport.limits.ResourceGuard` is shared with the
streaming handlers, which reserve bytes in flight per party.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from .auth import AuthInterceptor
from .limits import LimitsInterceptor, ResourceGuard
from .tls import TlsFiles, channel_options, server_credentials
from .trust import CertTrust

log = logging.getLogger("fedcredit.transport")

#: A service installer: adds servicers to the server and returns their role policy.
ServiceHook = Callable[[grpc.Server], Mapping[str, tuple[str, ...]]]


@dataclass
class NodeServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    guard: ResourceGuard = field(default_factory=ResourceGuard)
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def stop(self, grace: float = 5.0) -> None:
        """Graceful shutdown: report NOT_SERVING, refuse new calls, drain for ``grace`` s."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for fn in self.on_stop:
            fn()


def build_server(
    *,
    listen: str,
    tls: TlsFiles | None,
    known_parties: Mapping[str, str] | None,
    services: list[ServiceHook],
    service_names: list[str],
    max_workers: int = 16,
    node: str = "node",
    guard: ResourceGuard | None = None,
) -> NodeServer:
    """Create, bind and start a server. ``tls=None`` is the explicit test-only plaintext mode.

    ``guard`` holds the per-party limits (default: :class:`~proto.transport.limits.LimitsConfig`
    defaults); pass the same guard to the services that stream.
    """
    policy: dict[str, tuple[str, ...]] = {}
    guard = guard or ResourceGuard()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{node}-rpc"),
        interceptors=[
            AuthInterceptor(
                policy,
                known_parties,
                plaintext=tls is None,
                trust=CertTrust(tls.ca) if tls is not None else None,  # chain, pathlen, CRL
            ),
            LimitsInterceptor(guard),
        ],
        options=channel_options(),
    )
    for hook in services:
        policy.update(hook(server))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if tls is None:
        log.warning("PLAINTEXT MODE: no TLS, identities from test headers; tests only")
        port = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, server_credentials(tls))
    if port == 0:
        raise OSError(f"could not bind {listen}")
    server.start()
    for name in ["", *service_names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("listening", extra={"node": node, "port": port, "tls": tls is not None})
    return NodeServer(server, port, health_servicer, guard)


def wait_for_signal(running: NodeServer, grace: float) -> None:
    """Block until SIGINT/SIGTERM, then shut down gracefully."""
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("shutting down", extra={"signal": signum})
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    done.wait()
    running.stop(grace)
    log.info("stopped")
