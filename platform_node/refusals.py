"""Refusals the platform sends to a bank: a rule and an opaque reference, the reason in the log.

The platform's column names, categories and values stay on the platform, also when it refuses
a job (``share_feature_names`` governs names in answers; errors must not leak them either). A
refusal built here carries only

* the **rule** that was broken, written without platform data ("the served table has
  duplicate ids"), and
* an opaque **reference** (``P-`` and 10 hex digits, random) that the bank quotes to the
  platform operator,

while the platform logs the full reason (file, column names, counts) under the same reference
on the ``fedcredit.platform.refusals`` logger, e.g.::

    WARNING fedcredit.platform.refusals refused [P-3fa9c2d14e]: served table 'credit' has
    non-numeric columns the platform cannot encode: ['occupation']

Example
-------
>>> err = refusal(InvalidArgument, "the served table has duplicate ids", "ids 'a' repeat")
>>> str(err).startswith("the served table has duplicate ids (platform reference P-")
True
"""

from __future__ import annotations

import logging
import re
import secrets

from models.errors import FedCreditError, InternalError

log = logging.getLogger("fedcredit.platform.refusals")

REFERENCE = re.compile(r"P-[0-9a-f]{10}")


def new_reference() -> str:
    """A fresh opaque reference (random; it encodes nothing about the refusal)."""
    return "P-" + secrets.token_hex(5)


def refusal(error: type[FedCreditError], rule: str, reason: str) -> FedCreditError:
    """An error of type ``error`` that says ``rule`` and a reference; ``reason`` is only logged.

    Parameters
    ----------
    error:
        The domain error class (its kind becomes the status code the bank sees).
    rule:
        What was wrong, without any platform column name, category or value.
    reason:
        The full reason for the platform's operator (may name columns and values).
    """
    ref = new_reference()
    log.warning("refused [%s]: %s", ref, reason, extra={"reference": ref, "rule": rule})
    return error(f"{rule} (platform reference {ref}; quote it to the platform operator)")


def internal_refusal(err: BaseException) -> FedCreditError:
    """An unexpected platform exception as an INTERNAL error with a reference (traceback logged)."""
    ref = new_reference()
    log.error("internal error [%s]", ref, exc_info=err, extra={"reference": ref})
    return InternalError(
        f"internal error on the platform (platform reference {ref}; quote it to the platform "
        "operator)"
    )


def referenced(err: FedCreditError) -> bool:
    """Whether an error message already carries a platform reference."""
    return REFERENCE.search(err.message) is not None


def for_bank(err: BaseException, what: str) -> BaseException:
    """The error to send to the bank for a refused ``what`` (a step, a session...), logged here.

    A domain error's message is a fixed rule (platform-data refusals already carry a reference
    and were logged when built); any other exception becomes an INTERNAL error with a reference,
    its traceback logged under it, so that nothing of the platform's data or code reaches the
    bank and the operator can still find the cause.
    """
    if not isinstance(err, FedCreditError):
        return internal_refusal(err)
    if not referenced(err):
        log.info("%s refused: %s", what, err.message, extra={"kind": err.kind.value})
    return err
