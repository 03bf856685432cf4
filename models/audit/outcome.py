"""Run a request so that its audit entry records how it ended (used by both scoring nodes).

A failed request's entry is best effort (the original error goes back to the caller); a
successful one must be on record, or the answer is withheld.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import models.audit.events as ev
from models.audit.entry import ActorLike
from models.audit.log import AuditLog
from models.errors import ErrorKind, FedCreditError, InternalError

log = logging.getLogger("fedcredit.audit")
T = TypeVar("T")


def outcome_of(err: BaseException | None) -> tuple[str, str]:
    """``(outcome, error kind)``: ok, denied (permission) or error."""
    if err is None:
        return ev.OUTCOME_OK, ""
    kind = err.kind if isinstance(err, FedCreditError) else ErrorKind.INTERNAL
    outcome = ev.OUTCOME_DENIED if kind is ErrorKind.PERMISSION_DENIED else ev.OUTCOME_ERROR
    return outcome, kind.value


def record(
    audit: AuditLog,
    event: str,
    actor: ActorLike,
    details: dict[str, Any],
    err: BaseException | None,
    *,
    success: str = ev.OUTCOME_OK,
) -> None:
    """Append the entry for a finished request (see the module docstring); ``success`` is the
    outcome recorded when there is no error (``ok`` unless the caller knows better)."""
    _fill_outcome(details, err, success)
    try:
        audit.append(event, actor, details)
    except Exception as exc:
        log.exception("could not audit a request")
        if err is None:
            raise InternalError("the request could not be audited") from exc


def _fill_outcome(details: dict[str, Any], err: BaseException | None, success: str) -> None:
    """Set ``details["outcome"]`` (``success`` when there is no error) and ``error``."""
    details["outcome"], kind = outcome_of(err)
    if err is None:
        details["outcome"] = success
    if kind:
        details["error"] = kind


def record_all(
    audit: AuditLog,
    event: str,
    actor: ActorLike,
    items: Sequence[tuple[dict[str, Any], BaseException | None]],
    *,
    success: str = ev.OUTCOME_OK,
) -> None:
    """:func:`record` for several finished requests (``(details, error)`` each), appended
    together (:meth:`AuditLog.append_many`: one lock, one write, one signed head). If they
    cannot be appended and any of them succeeded, no answer leaves (``InternalError``)."""
    for details, err in items:
        _fill_outcome(details, err, success)
    try:
        audit.append_many([(event, actor, details) for details, _ in items])
    except Exception as exc:
        log.exception("could not audit a request")
        if any(err is None for _, err in items):
            raise InternalError("the request could not be audited") from exc


def run_audited(
    audit: AuditLog,
    event: str,
    actor: ActorLike,
    details: dict[str, Any],
    fn: Callable[[], T],
) -> T:
    """Run ``fn`` (which may fill ``details``) and audit how it ended."""
    try:
        result = fn()
    except BaseException as exc:
        record(audit, event, actor, details, exc)
        raise
    record(audit, event, actor, details, None)  # no answer leaves unless it is on record
    return result
