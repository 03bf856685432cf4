"""Shared fixtures: the public data sets, and peers over both transports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from experiments.support.german import German, load_german
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller, DataProvider
from models.federation.peer import PassivePeer
from proto.transport.codec import ProtobufCodec

ROOT = Path(__file__).resolve().parent.parent

PeerFactory = Callable[..., PassivePeer]


def shared_data_dir() -> Path:
    return Path(os.environ.get("FEDCREDIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "default_credit_hetero_guest.csv").exists():
        pytest.skip("shared public data sets not found (set FEDCREDIT_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def german(shared_data: Path) -> German:
    """German credit (UCI Statlog), split column-wise between the bank and the platform.

    Part of the shared data sets (``shared_data`` skips only when they are absent as a whole):
    a missing ``german.data`` next to the others fails the tests that need it."""
    return load_german(shared_data / "german.data")


@pytest.fixture(params=["inprocess", "grpc"])
def make_peer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PeerFactory]:
    """Factory ``make_peer(data, caller_party="bank-a", idle_timeout_s=..., context_extras=...)``.

    "inprocess": a SessionManager in this process behind an InProcessPeer with a protobuf
    round trip. "grpc": a real platform server on loopback with mutual TLS and a gRPC peer.
    """
    cleanups: list[Callable[[], None]] = []

    def factory(
        data: DataProvider,
        caller_party: str = "bank-a",
        idle_timeout_s: float = 600.0,
        context_extras: Mapping[str, object] | None = None,
    ) -> PassivePeer:
        if request.param == "inprocess":
            manager = SessionManager(
                tmp_path / "platform",
                data,
                idle_timeout_s=idle_timeout_s,
                context_extras=dict(context_extras or {}),
            )
            return InProcessPeer(manager, Caller(caller_party, "bank"), codec=ProtobufCodec())
        from experiments.support.grpc_harness import start_platform_and_peer

        peer, stop = start_platform_and_peer(
            tmp_path,
            data,
            caller_party=caller_party,
            idle_timeout_s=idle_timeout_s,
            context_extras=context_extras,
        )
        cleanups.append(stop)
        return peer

    yield factory
    for stop in cleanups:
        stop()
