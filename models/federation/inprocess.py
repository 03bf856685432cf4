"""In-process implementation of :class:`~models.federation.peer.PassivePeer` (and of
:class:`~models.federation.peer.ScoringPeer` when given the platform node's scorer).

Calls the platform's :class:`SessionManager` directly. With a ``codec`` every request and
response goes through a full serialisation round trip (what gRPC would carry), so tests with
the in-process peer exercise the same encoders as the real transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from models.errors import FailedPrecondition, InternalError
from models.federation.codec import MessageCodec, digest_bytes
from models.federation.manager import SessionManager
from models.federation.messages import WireMessage
from models.federation.party import Caller
from models.federation.session import SessionInfo, SessionSpec

R = TypeVar("R", bound=WireMessage)


class InProcessPeer:
    """A :class:`PassivePeer` that calls a :class:`SessionManager` in the same process."""

    def __init__(
        self,
        manager: SessionManager,
        caller: Caller,
        *,
        codec: MessageCodec | None = None,
        scorer: Callable[[Caller, WireMessage], WireMessage] | None = None,
    ) -> None:
        self.manager = manager
        self.caller = caller
        self.codec = codec
        self.scorer = scorer
        self._job_id: str | None = None
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def party(self) -> str:
        return self.manager.platform_party

    @property
    def job_id(self) -> str | None:
        return self._job_id

    def open_session(self, spec: SessionSpec) -> SessionInfo:
        spec = self._roundtrip(spec, sent=True)
        info = self.manager.open(self.caller, spec)
        self._job_id = spec.job_id
        return self._roundtrip(info, sent=False)

    def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
        if self._job_id is None:
            raise FailedPrecondition("no session is open")
        digest = ""
        if self.codec is not None:
            data = self.codec.encode(request)
            self.bytes_sent += len(data)
            digest = digest_bytes(data)
            request = self.codec.decode(data, type(request))
        response = self.manager.handle(self.caller, self._job_id, step_id, request, digest)
        response = self._roundtrip(response, sent=False)
        if not isinstance(response, response_type):
            raise InternalError("the platform answered with an unexpected message type")
        return response

    def score(self, request: WireMessage, response_type: type[R]) -> R:
        """Online scoring: the platform node's scorer (consent, audit, family), in process."""
        if self.scorer is None:
            raise FailedPrecondition("this peer has no platform scoring service")
        request = self._roundtrip(request, sent=True)
        response = self._roundtrip(self.scorer(self.caller, request), sent=False)
        if not isinstance(response, response_type):
            raise InternalError("the platform answered with an unexpected message type")
        return response

    def close_session(self, reason: str = "") -> None:
        if self._job_id is not None:
            self.manager.close(self.caller, self._job_id)
            self._job_id = None

    def _roundtrip(self, message: R, *, sent: bool) -> R:
        if self.codec is None:
            return message
        data = self.codec.encode(message)
        if sent:
            self.bytes_sent += len(data)
        else:
            self.bytes_received += len(data)
        return self.codec.decode(data, type(message))
