"""FederationService on the platform: thin, check -> receive -> decode -> SessionManager -> encode.

Authentication and roles are checked by the interceptor before these methods run; domain
errors become status codes in ``proto/transport/status.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc

from models.errors import InvalidArgument
from models.federation.codec import digest_bytes
from models.federation.manager import SessionManager, check_job_id
from models.federation.messages import WireMessage, message_type
from models.federation.session import CloseRequest, SessionSpec
from platform_node.refusals import for_bank
from proto.fedcredit.v1 import common_pb2, federation_pb2, federation_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.codec import PACKAGE, ProtobufCodec, from_proto, full_name, to_proto
from proto.transport.frames import Body, frame_header, receive_body, to_frames
from proto.transport.limits import ResourceGuard
from proto.transport.status import abort_with, guard

log = logging.getLogger("fedcredit.platform.federation")


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    """The platform's training service.

    ``Exchange`` checks a stream's header before reading its body (known message type, an
    open session, size within the limits), reserves the announced size from the caller's
    bytes in flight (:meth:`ResourceGuard.reserve`: waits a while, then ``RESOURCE_EXHAUSTED``),
    receives the body spilling to ``<spill_dir>`` past the configured threshold, and paces the
    caller to its byte rate.
    """

    def __init__(
        self,
        manager: SessionManager,
        guard: ResourceGuard | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        self.manager = manager
        self.codec = ProtobufCodec()
        self.guard = guard or ResourceGuard()
        self.spill_dir = spill_dir
        if spill_dir is not None:
            spill_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            spill_dir.chmod(0o700)

    def OpenSession(
        self, request: federation_pb2.SessionSpec, context: grpc.ServicerContext
    ) -> federation_pb2.SessionInfo:
        def run() -> federation_pb2.SessionInfo:
            caller = current_caller()
            spec = from_proto(request, SessionSpec)
            info = self.manager.open(caller, spec)
            log.info(
                "session opened",
                extra={"job_id": spec.job_id, "party": caller.party, "resumed": info.resumed},
            )
            return to_proto(info)  # type: ignore[return-value]

        try:
            return run()
        except Exception as err:
            abort_with(context, for_bank(err, "session"))

    def CloseSession(
        self, request: federation_pb2.CloseRequest, context: grpc.ServicerContext
    ) -> federation_pb2.CloseResponse:
        def run() -> federation_pb2.CloseResponse:
            req = from_proto(request, CloseRequest)
            closed = self.manager.close(current_caller(), req.job_id)
            return federation_pb2.CloseResponse(job_id=req.job_id, closed=closed)

        return guard(context, run)

    def _request_type(self, body_type: str) -> type[WireMessage]:
        prefix = PACKAGE + "."
        if not body_type.startswith(prefix):
            raise InvalidArgument("message type is not part of the protocol")
        try:
            return message_type(body_type[len(prefix) :])
        except KeyError:
            raise InvalidArgument("message type is not part of the protocol") from None

    def Exchange(
        self, request_iterator: Iterator[common_pb2.Frame], context: grpc.ServicerContext
    ) -> Iterator[common_pb2.Frame]:
        try:
            caller = current_caller()
            frames = iter(request_iterator)
            first = next(frames, None)
            header = frame_header(first, self.guard.config.max_body_bytes)
            assert first is not None
            req_cls = self._request_type(header.body_type)
            check_job_id(header.job_id)
            self.manager.session_spec(header.job_id)  # NotFound before any body byte is read
            with self.guard.reserve(caller.party, header.total_bytes):
                body = receive_body(
                    header,
                    first,
                    frames,
                    spill_dir=self.spill_dir,
                    spill_threshold=self.guard.config.spill_threshold_bytes,
                    on_chunk=lambda n: self.guard.throttle(caller.party, n),
                )
                request = self.codec.decode(body.data, req_cls)
                digest = digest_bytes(body.data)
                del body
                response = self.manager.handle(
                    caller, header.job_id, header.step_id, request, digest
                )
                del request
                data = self.codec.encode(response)
            out = Body(header.job_id, header.step_id, full_name(response), data)
        except Exception as err:
            abort_with(context, for_bank(err, "step"))
        yield from to_frames(out)
