"""The population feature monitoring is computed over: the bank's watched loans.

Issue 17 asks for each platform feature's stability "over the watched population". A company
counts for a bank only while both hold: its ``post_loan_monitoring`` consent to that bank is in
force, and the bank watches one of its loans (``platform_node/alerts``: registered, not
stopped, not expired). The bank still names the companies in its request (so it can monitor a
segment), but it cannot add a company it does not lend to.
"""

from __future__ import annotations

from collections.abc import Callable

from models.errors import PermissionDenied
from platform_node.alerts.store import AlertStore
from platform_node.consent.registry import ConsentRegistry
from platform_node.monitoring.service import SCOPE


def watched_population(consent: ConsentRegistry, watches: AlertStore) -> Callable[[str, str], None]:
    """``(uscc, bank) -> None``, raising :class:`PermissionDenied` for a company outside the
    bank's watched, consenting population (the message names no company)."""

    def check(uscc: str, bank: str) -> None:
        consent.check(uscc, bank, SCOPE)
        if not watches.is_watched(bank, uscc):
            raise PermissionDenied("the company is not on this bank's watch list")

    return check
