"""The platform's gRPC server: factory for tests, ``serve`` for the command line.

``create_server`` binds (port 0 works for tests) and returns the started server with its
port, following grpc's own examples; ``serve`` adds signal handling and graceful shutdown.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from models.federation.manager import SessionManager
from models.federation.party import Caller, DataProvider
from models.federation.session import SessionSpec
from proto.fedcredit.v1 import federation_pb2_grpc
from proto.transport.auth import AuthInterceptor
from proto.transport.tls import TlsFiles, channel_options, server_credentials

log = logging.getLogger("fedcredit.platform")

FEDERATION = "/fedcredit.v1.FederationService/"

#: Which roles may call which platform methods (everything else is refused).
PLATFORM_POLICY: dict[str, tuple[str, ...]] = {
    FEDERATION + "OpenSession": ("bank",),
    FEDERATION + "Exchange": ("bank",),
    FEDERATION + "CloseSession": ("bank",),
}

ServicerHook = Callable[[grpc.Server], dict[str, tuple[str, ...]]]


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    manager: SessionManager
    health: health.HealthServicer
    reaper: threading.Event

    def stop(self, grace: float = 5.0) -> None:
        """Graceful shutdown: refuse new calls, let running ones finish for ``grace`` s."""
        self.health.enter_graceful_shutdown()
        self.reaper.set()
        self.server.stop(grace).wait()


def create_server(
    *,
    listen: str,
    data_dir: Path,
    data: DataProvider,
    tls: TlsFiles | None,
    known_parties: Mapping[str, str] | None,
    party: str = "platform",
    idle_timeout_s: float = 900.0,
    max_workers: int = 16,
    share_feature_names: bool = False,
    on_session_event: Callable[[str, Caller, SessionSpec], None] | None = None,
    extra_services: list[ServicerHook] | None = None,
) -> RunningServer:
    """Build, bind and start the platform server. ``tls=None`` is the test-only plaintext mode."""
    manager = SessionManager(
        data_dir,
        data,
        idle_timeout_s=idle_timeout_s,
        platform_party=party,
        on_event=on_session_event,
        context_extras={"share_feature_names": share_feature_names},
    )
    policy = dict(PLATFORM_POLICY)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="platform-rpc"),
        interceptors=[AuthInterceptor(policy, known_parties, plaintext=tls is None)],
        options=channel_options(),
    )
    from platform_node.federation_servicer import FederationServicer

    federation_pb2_grpc.add_FederationServiceServicer_to_server(FederationServicer(manager), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for hook in extra_services or []:
        policy.update(hook(server))
    if tls is None:
        log.warning("PLAINTEXT MODE: no TLS, identities from test headers; tests only")
        port = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, server_credentials(tls))
    server.start()
    for name in ("", "fedcredit.v1.FederationService"):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reaper = threading.Event()
    threading.Thread(
        target=_reap, args=(manager, reaper, idle_timeout_s), daemon=True, name="session-reaper"
    ).start()
    log.info("platform listening", extra={"port": port, "tls": tls is not None})
    return RunningServer(server, port, manager, health_servicer, reaper)


def _reap(manager: SessionManager, stop: threading.Event, idle_timeout_s: float) -> None:
    interval = max(0.05, min(30.0, idle_timeout_s / 4))
    while not stop.wait(interval):
        for job in manager.expire_idle():
            log.info("session expired", extra={"job_id": job})


def wait_for_signal(running: RunningServer, grace: float) -> None:
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
