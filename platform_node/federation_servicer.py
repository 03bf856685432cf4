"""FederationService on the platform: thin, decode -> SessionManager -> encode.

Authentication and roles are checked by the interceptor before these methods run; domain
errors become status codes in ``proto/transport/status.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc

from models.errors import InvalidArgument
from models.federation.codec import digest_bytes
from models.federation.manager import SessionManager
from models.federation.messages import message_type
from models.federation.session import CloseRequest, SessionSpec
from platform_node.refusals import for_bank
from proto.fedcredit.v1 import common_pb2, federation_pb2, federation_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.codec import PACKAGE, ProtobufCodec, from_proto, full_name, to_proto
from proto.transport.frames import Body, from_frames, to_frames
from proto.transport.status import abort_with, guard

log = logging.getLogger("fedcredit.platform.federation")


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.codec = ProtobufCodec()

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

    def Exchange(
        self, request_iterator: Iterator[common_pb2.Frame], context: grpc.ServicerContext
    ) -> Iterator[common_pb2.Frame]:
        try:
            body = from_frames(request_iterator)
            prefix = PACKAGE + "."
            if not body.body_type.startswith(prefix):
                raise InvalidArgument("message type is not part of the protocol")
            try:
                req_cls = message_type(body.body_type[len(prefix) :])
            except KeyError:
                raise InvalidArgument("message type is not part of the protocol") from None
            request = self.codec.decode(body.data, req_cls)
            response = self.manager.handle(
                current_caller(), body.job_id, body.step_id, request, digest_bytes(body.data)
            )
            data = self.codec.encode(response)
            out = Body(body.job_id, body.step_id, full_name(response), data)
        except Exception as err:
            abort_with(context, for_bank(err, "step"))
        yield from to_frames(out)
