"""Start a real platform server on loopback with mutual TLS and connect a bank to it."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from bank_node.federation_client import GrpcPassivePeer
from models.federation.party import DataProvider
from platform_node.server import RunningServer, create_server
from proto.transport.pki import init_pki
from proto.transport.tls import TlsFiles

_PKI_LOCK = threading.Lock()
_PKI_DIR: Path | None = None

KNOWN = {"platform": "platform", "bank-a": "bank", "bank-b": "bank", "regulator": "regulator"}


def shared_pki() -> Path:
    """One development PKI per test process (CA + platform, bank-a, bank-b, regulator, officer)."""
    global _PKI_DIR
    with _PKI_LOCK:
        if _PKI_DIR is None:
            d = Path(tempfile.mkdtemp(prefix="fedcredit-pki-"))
            init_pki(
                d,
                ["bank-a", "bank-b"],
                officers=[("alice", "bank-a")],
                approvers=[("head-of-risk", "bank-a")],
            )
            _PKI_DIR = d
        return _PKI_DIR


def start_platform(
    tmp_path: Path,
    data: DataProvider,
    *,
    idle_timeout_s: float = 600.0,
    **kwargs: object,
) -> RunningServer:
    pki = shared_pki()
    return create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=data,
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=KNOWN,
        idle_timeout_s=idle_timeout_s,
        **kwargs,  # type: ignore[arg-type]
    )


def bank_peer(port: int, party: str = "bank-a", **kwargs: object) -> GrpcPassivePeer:
    return GrpcPassivePeer(
        f"127.0.0.1:{port}",
        TlsFiles.in_pki_dir(shared_pki(), party),
        **kwargs,  # type: ignore[arg-type]
    )


def start_platform_and_peer(
    tmp_path: Path,
    data: DataProvider,
    *,
    caller_party: str = "bank-a",
    idle_timeout_s: float = 600.0,
    context_extras: Mapping[str, object] | None = None,
) -> tuple[GrpcPassivePeer, Callable[[], None]]:
    running = start_platform(
        tmp_path, data, idle_timeout_s=idle_timeout_s, context_extras=context_extras
    )
    peer = bank_peer(running.port, caller_party)

    def stop() -> None:
        peer.close()
        running.stop(0.5)

    return peer, stop
