"""Issue 17: the platform computes feature stability over the bank's *watched* population: a
company counts only while its post_loan_monitoring consent is in force and the bank watches
one of its loans (the platform node wires this check into the monitoring service)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from models.errors import PermissionDenied
from models.uscc import generate_usccs
from platform_node.alerts.store import AlertStore, Watch
from platform_node.consent.registry import ConsentRegistry
from platform_node.monitoring.watched import watched_population
from proto.transport.node_audit import open_node_audit_log


def test_only_watched_consenting_companies_count(tmp_path: Path) -> None:
    audit = open_node_audit_log(tmp_path, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(tmp_path, audit)
    store = AlertStore.in_data_dir(tmp_path)
    a, b, c = generate_usccs(3, np.random.default_rng(4))
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    for code in (a, b):
        consent.grant(code, "bank-a", "post_loan_monitoring", until)
    now = dt.datetime.now(dt.UTC).isoformat()
    for loan, code in (("L1", a), ("L3", c)):
        store.add_watch(Watch("bank-a", loan, code, "2026-01-01", "2027-12-31", now, 0, "cns"))
    check = watched_population(consent, store)
    check(a, "bank-a")  # consented and watched
    with pytest.raises(PermissionDenied, match="watch list"):
        check(b, "bank-a")  # consented, but the bank lends it nothing
    with pytest.raises(PermissionDenied):
        check(c, "bank-a")  # watched, but no monitoring consent
    with pytest.raises(PermissionDenied):
        check(a, "bank-b")  # another bank
    store.stop_watches("bank-a", loan_id="L1", reason="repaid")
    with pytest.raises(PermissionDenied, match="watch list"):
        check(a, "bank-a")
    consent.close()
    store.close()
