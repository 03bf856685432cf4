"""The bank's client of the platform's ``PlatformScoringService`` (mutual TLS).

One channel is opened at first use and kept open (HTTP/2 multiplexes concurrent requests over
it). Every call has a deadline; UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are
retried with exponential backoff and jitter (:class:`proto.transport.channel.RetryPolicy`),
then surface as the domain error of their kind. Transport failures get a fixed message, so no
address or low-level detail reaches an officer.
"""

from __future__ import annotations

import threading

import grpc

from models.errors import DeadlineExceeded, Unavailable
from proto.fedcredit.v1 import scoring_pb2, scoring_pb2_grpc
from proto.transport.channel import RetryPolicy, open_channel, test_identity_metadata
from proto.transport.tls import TlsFiles


class PlatformScoringClient:
    """Calls ``PlatformScoringService.Score`` on the platform.

    Parameters
    ----------
    target:
        ``host:port`` of the platform.
    tls:
        The bank's CA bundle, certificate and key (``None``: plaintext tests, with
        ``test_identity`` naming the caller).
    server_name:
        The name the platform's certificate must carry.
    deadline_s:
        Deadline of each attempt.
    retry:
        Backoff policy for transient failures.
    """

    def __init__(
        self,
        target: str,
        tls: TlsFiles | None,
        *,
        server_name: str = "platform",
        deadline_s: float = 5.0,
        retry: RetryPolicy | None = None,
        test_identity: tuple[str, str] | None = None,
    ) -> None:
        self.target = target
        self.tls = tls
        self.server_name = server_name
        self.deadline_s = deadline_s
        self.retry = retry or RetryPolicy(attempts=4, initial_s=0.1, max_s=1.0)
        self._metadata = test_identity_metadata(*test_identity) if test_identity else ()
        self._channel: grpc.Channel | None = None
        self._stub: scoring_pb2_grpc.PlatformScoringServiceStub | None = None
        self._lock = threading.Lock()

    def _get_stub(self) -> scoring_pb2_grpc.PlatformScoringServiceStub:
        with self._lock:
            if self._stub is None:
                self._channel = open_channel(
                    self.target, self.tls, server_name=self.server_name if self.tls else ""
                )
                self._stub = scoring_pb2_grpc.PlatformScoringServiceStub(self._channel)
            return self._stub

    def score(self, request: scoring_pb2.PlatformScoreRequest) -> scoring_pb2.PlatformScoreResponse:
        """The platform's part of one score; domain errors on failure."""
        stub = self._get_stub()

        def call() -> scoring_pb2.PlatformScoreResponse:
            reply: scoring_pb2.PlatformScoreResponse = stub.Score(
                request, timeout=self.deadline_s, metadata=self._metadata
            )
            return reply

        try:
            return self.retry.run("PlatformScore", call)
        except Unavailable:
            raise Unavailable("the platform is unavailable; try again later") from None
        except DeadlineExceeded:
            raise DeadlineExceeded("the platform did not answer in time") from None

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel, self._stub = None, None
