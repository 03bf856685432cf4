"""The gRPC implementation of :class:`models.federation.peer.PassivePeer` and
:class:`models.federation.peer.ScoringPeer` (bank -> platform).

Messages are protobuf (the generic codec), bodies stream as 1 MiB frames, every call has a
deadline, and transient failures are retried with backoff: a retried step carries the same
step id, so the platform answers it from its step cache instead of running it twice. Online
scoring (:meth:`GrpcPassivePeer.score`) is one unary call of ``PlatformScoringService`` per
request, with its own (short) deadline and retries; transport failures surface with fixed
messages (no address or low-level detail).
"""

from __future__ import annotations

from typing import TypeVar

import grpc

from models.errors import DeadlineExceeded, FailedPrecondition, InternalError, Unavailable
from models.federation.messages import WireMessage
from models.federation.session import CloseRequest, SessionInfo, SessionSpec
from proto.fedcredit.v1 import federation_pb2_grpc, scoring_pb2, scoring_pb2_grpc
from proto.transport.channel import RetryPolicy, open_channel, test_identity_metadata
from proto.transport.codec import PACKAGE, ProtobufCodec, from_proto, full_name, to_proto
from proto.transport.frames import Body, from_frames, to_frames
from proto.transport.tls import TlsFiles

R = TypeVar("R", bound=WireMessage)


class GrpcPassivePeer:
    """A session-bound connection from a bank to the platform.

    Parameters
    ----------
    target:
        ``host:port`` of the platform.
    tls:
        The bank's CA bundle, certificate and key; ``None`` only for plaintext tests (then
        ``test_identity`` names the caller as ``(party, role)``).
    server_name:
        The name the platform's certificate must carry (default ``"platform"``).
    step_timeout_s, control_timeout_s:
        Deadlines of protocol steps and of open/close calls.
    score_timeout_s, score_retry:
        Deadline of each attempt of an online scoring call, and its backoff policy.
    """

    def __init__(
        self,
        target: str,
        tls: TlsFiles | None,
        *,
        server_name: str = "platform",
        step_timeout_s: float = 900.0,
        control_timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        test_identity: tuple[str, str] | None = None,
        score_timeout_s: float = 5.0,
        score_retry: RetryPolicy | None = None,
    ) -> None:
        self._channel = open_channel(target, tls, server_name=server_name if tls else "")
        self._stub = federation_pb2_grpc.FederationServiceStub(self._channel)
        self._scoring = scoring_pb2_grpc.PlatformScoringServiceStub(self._channel)
        self.score_timeout_s = score_timeout_s
        self._score_retry = score_retry or RetryPolicy(
            attempts=4, initial_s=0.1, max_s=1.0, retry_deadline=True
        )
        self._codec = ProtobufCodec()
        self._retry = retry or RetryPolicy()
        self._metadata = test_identity_metadata(*test_identity) if test_identity else ()
        self._server_name = server_name
        self.step_timeout_s = step_timeout_s
        self.control_timeout_s = control_timeout_s
        self._job_id: str | None = None
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def party(self) -> str:
        return self._server_name

    @property
    def job_id(self) -> str | None:
        return self._job_id

    def open_session(self, spec: SessionSpec) -> SessionInfo:
        pb = to_proto(spec)
        self.bytes_sent += pb.ByteSize()
        reply = self._retry.run(
            "OpenSession",
            lambda: self._stub.OpenSession(
                pb, timeout=self.control_timeout_s, metadata=self._metadata
            ),
        )
        self.bytes_received += reply.ByteSize()
        info = from_proto(reply, SessionInfo)
        self._job_id = spec.job_id
        return info

    def call(self, step_id: str, request: WireMessage, response_type: type[R]) -> R:
        if self._job_id is None:
            raise FailedPrecondition("no session is open")
        job_id = self._job_id
        data = self._codec.encode(request)
        body = Body(job_id, step_id, full_name(request), data)

        def once() -> Body:
            frames = self._stub.Exchange(
                to_frames(body), timeout=self.step_timeout_s, metadata=self._metadata
            )
            return from_frames(frames)

        reply = self._retry.run("Exchange", once)
        self.bytes_sent += len(data)
        self.bytes_received += len(reply.data)
        if reply.body_type != f"{PACKAGE}.{response_type.__wire_name__}":
            raise InternalError("the platform answered with an unexpected message type")
        return self._codec.decode(reply.data, response_type)

    def score(self, request: WireMessage, response_type: type[R]) -> R:
        """One online scoring call (``PlatformScoringService.Score``); domain errors on failure."""
        envelope = scoring_pb2.ScoreEnvelope(
            body_type=full_name(request), body=self._codec.encode(request)
        )

        def once() -> scoring_pb2.ScoreEnvelope:
            reply: scoring_pb2.ScoreEnvelope = self._scoring.Score(
                envelope, timeout=self.score_timeout_s, metadata=self._metadata
            )
            return reply

        try:
            reply = self._score_retry.run("PlatformScore", once)
        except Unavailable:
            raise Unavailable("the platform is unavailable; try again later") from None
        except DeadlineExceeded:
            raise DeadlineExceeded("the platform did not answer in time") from None
        self.bytes_sent += len(envelope.body)
        self.bytes_received += len(reply.body)
        if reply.body_type != f"{PACKAGE}.{response_type.__wire_name__}":
            raise InternalError("the platform answered with an unexpected message type")
        return self._codec.decode(reply.body, response_type)

    def close_session(self, reason: str = "") -> None:
        if self._job_id is None:
            return
        pb = to_proto(CloseRequest(job_id=self._job_id, reason=reason))
        self._retry.run(
            "CloseSession",
            lambda: self._stub.CloseSession(
                pb, timeout=self.control_timeout_s, metadata=self._metadata
            ),
        )
        self._job_id = None

    def close(self) -> None:
        """Close the channel (the session stays open on the platform unless closed)."""
        self._channel.close()

    def __enter__(self) -> GrpcPassivePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def health_check(
    target: str, tls: TlsFiles | None, server_name: str = "platform", timeout_s: float = 5.0
) -> bool:
    """True if the node at ``target`` reports SERVING on the standard health service."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with open_channel(target, tls, server_name=server_name if tls else "") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
