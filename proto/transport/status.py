"""The one place where domain errors become gRPC status codes, and back.

Servers call :func:`abort_with` (or let :func:`guard` do it); clients call :func:`raise_from_rpc`
so that code above the transport sees the same :class:`FedCreditError` subclasses whether the
peer is in-process or remote. Only the fixed message of a domain error crosses; unexpected
exceptions become INTERNAL with a generic message (details stay in the server's log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn, TypeVar

import grpc

from models.errors import ErrorKind, FedCreditError, error_for

log = logging.getLogger("fedcredit.transport")

T = TypeVar("T")

KIND_TO_STATUS: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorKind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorKind.CANCELLED: grpc.StatusCode.CANCELLED,
    ErrorKind.DATA_LOSS: grpc.StatusCode.DATA_LOSS,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}
STATUS_TO_KIND: dict[grpc.StatusCode, ErrorKind] = {v: k for k, v in KIND_TO_STATUS.items()}

#: Status codes a client may retry (with backoff) without changing the request.
TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})

GENERIC_INTERNAL = "internal error on the peer (see its log)"


def status_for(err: BaseException) -> tuple[grpc.StatusCode, str]:
    """Map any exception to a status code and a message that is safe to send."""
    if isinstance(err, FedCreditError):
        return KIND_TO_STATUS[err.kind], err.message
    return grpc.StatusCode.INTERNAL, GENERIC_INTERNAL


def abort_with(context: grpc.ServicerContext, err: BaseException) -> NoReturn:
    code, message = status_for(err)
    if code == grpc.StatusCode.INTERNAL:
        log.error("internal error", exc_info=err)
    context.abort(code, message)
    raise AssertionError("unreachable")  # context.abort raises


def guard(context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
    """Run ``fn`` and turn any exception into a gRPC status on ``context``."""
    try:
        return fn()
    except Exception as err:
        abort_with(context, err)


def error_from_rpc(err: grpc.RpcError) -> FedCreditError:
    """Rebuild the domain error a remote peer raised."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else ""
    kind = STATUS_TO_KIND.get(code, ErrorKind.INTERNAL)
    return error_for(kind, details or code.name.lower())


def raise_from_rpc(err: grpc.RpcError) -> NoReturn:
    raise error_from_rpc(err) from None
