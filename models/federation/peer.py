"""The active party's view of the passive party (the platform).

:class:`PassivePeer` runs jobs (sessions of protocol steps); :class:`ScoringPeer` makes the
sessionless online-scoring call. Both have an in-process and a gRPC implementation.

Algorithms receive a :class:`PassivePeer` and never know whether it is in-process or gRPC.
Each protocol wraps it in a small typed stub (one method per passive operation) so that
algorithm code reads ``stub.build_histograms(step, request)`` rather than string keys.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from models.federation.messages import WireMessage
from models.federation.session import SessionInfo, SessionSpec

R = TypeVar("R", bound=WireMessage)


class PassivePeer(Protocol):
    """A connection from the bank to the platform, bound to at most one open session."""

    @property
    def party(self) -> str:
        """The name of the passive party (from its certificate over gRPC)."""
        ...

    def open_session(self, spec: SessionSpec) -> SessionInfo:
        """Open (or resume, for a known job id) a session on the platform."""
        ...

    def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
        """Run one protocol step in the open session.

        ``step_id`` must be unique within the job and deterministic (the same step of a
        resumed job gets the same id) so that a retried or replayed step returns the cached
        answer instead of running twice.
        """
        ...

    def close_session(self, reason: str = "") -> None:
        """Close the open session; the platform drops its in-memory state for the job."""
        ...


class ScoringPeer(Protocol):
    """The bank's sessionless call to the platform for online scoring (a saved model's part).

    ``request`` is a family's scoring request (its ``header`` a
    :class:`~models.federation.scoring.ScoreHeader`); the platform checks every company's
    consent and audits it before the family answers. Not cached: a retried call runs (and is
    audited) again, which is harmless since scoring changes no state.
    """

    def score(self, request: WireMessage, response_type: type[R]) -> R:
        """Send one scoring request and return the family's typed answer."""
        ...
