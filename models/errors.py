"""Domain errors shared by every layer.

Each error carries an :class:`ErrorKind` that the transport maps to a gRPC status code in one
place (``proto/transport/status.py``). Messages are fixed, human-readable sentences: they name
what was wrong (a field, a shape, a rule), never a data value such as a USCC, a feature value,
a label or a key.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """Error categories; each maps to exactly one gRPC status code."""

    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    PERMISSION_DENIED = "permission_denied"
    UNAUTHENTICATED = "unauthenticated"
    FAILED_PRECONDITION = "failed_precondition"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAVAILABLE = "unavailable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    CANCELLED = "cancelled"
    DATA_LOSS = "data_loss"
    INTERNAL = "internal"


class FedCreditError(Exception):
    """Base class of all domain errors. ``str(err)`` is safe to show to the other party."""

    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(FedCreditError):
    """A request or input is malformed (shape, type, range, an invalid USCC...)."""

    kind = ErrorKind.INVALID_ARGUMENT


class NotFound(FedCreditError):
    """A named thing (session, company, model, dataset) does not exist."""

    kind = ErrorKind.NOT_FOUND


class AlreadyExists(FedCreditError):
    kind = ErrorKind.ALREADY_EXISTS


class PermissionDenied(FedCreditError):
    """The caller is known but not allowed (wrong role, no consent, not the session owner)."""

    kind = ErrorKind.PERMISSION_DENIED


class Unauthenticated(FedCreditError):
    """The caller could not be identified."""

    kind = ErrorKind.UNAUTHENTICATED


class FailedPrecondition(FedCreditError):
    """The system is not in a state that allows the operation (e.g. a step out of order)."""

    kind = ErrorKind.FAILED_PRECONDITION


class ResourceExhausted(FedCreditError):
    kind = ErrorKind.RESOURCE_EXHAUSTED


class Unavailable(FedCreditError):
    """The peer cannot be reached; callers may retry with backoff."""

    kind = ErrorKind.UNAVAILABLE


class DeadlineExceeded(FedCreditError):
    kind = ErrorKind.DEADLINE_EXCEEDED


class Cancelled(FedCreditError):
    kind = ErrorKind.CANCELLED


class CryptoError(FedCreditError):
    """A ciphertext or key is malformed, tampered with, or under the wrong key."""

    kind = ErrorKind.INVALID_ARGUMENT


class OverflowDetected(FedCreditError):
    """A packed or fixed-point value left its slot; results would be silently wrong."""

    kind = ErrorKind.FAILED_PRECONDITION


class DataLoss(FedCreditError):
    """Persisted state is corrupt or was modified (e.g. an audit log entry)."""

    kind = ErrorKind.DATA_LOSS


class InternalError(FedCreditError):
    kind = ErrorKind.INTERNAL


KIND_TO_ERROR: dict[ErrorKind, type[FedCreditError]] = {
    ErrorKind.INVALID_ARGUMENT: InvalidArgument,
    ErrorKind.NOT_FOUND: NotFound,
    ErrorKind.ALREADY_EXISTS: AlreadyExists,
    ErrorKind.PERMISSION_DENIED: PermissionDenied,
    ErrorKind.UNAUTHENTICATED: Unauthenticated,
    ErrorKind.FAILED_PRECONDITION: FailedPrecondition,
    ErrorKind.RESOURCE_EXHAUSTED: ResourceExhausted,
    ErrorKind.UNAVAILABLE: Unavailable,
    ErrorKind.DEADLINE_EXCEEDED: DeadlineExceeded,
    ErrorKind.CANCELLED: Cancelled,
    ErrorKind.DATA_LOSS: DataLoss,
    ErrorKind.INTERNAL: InternalError,
}


def error_for(kind: ErrorKind, message: str) -> FedCreditError:
    """Rebuild a domain error of ``kind`` (used by a client receiving a status code)."""
    return KIND_TO_ERROR[kind](message)
