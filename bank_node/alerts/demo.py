"""One alert end to end, for ``make demo``: watch a loan, ingest adverse records, see the alert
arrive at the bank and the re-score it triggers.

:func:`demo_alert` runs on the demo's machine with both nodes already serving: it registers a
watch for ``uscc`` (the company must have granted ``post_loan_monitoring`` to the bank), scores
the company once for a baseline band, starts the bank's alert pipeline, ingests the records on
the platform's side (as a feed daemon would: the platform node notices them by itself), and
waits until every alert is stored, audited and re-scored.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bank_node.alerts.client import LoanWatch
from bank_node.alerts.runtime import AlertRuntime, alert_client
from bank_node.alerts.store import StoredAlert
from bank_node.config import BankConfig
from models.errors import DeadlineExceeded, PermissionDenied


@dataclass(frozen=True)
class DemoAlerts:
    baseline_pd: float
    baseline_band: str
    alerts: list[StoredAlert]


def _feeds(uscc: str, day: dt.date) -> dict[str, pd.DataFrame]:
    """A court lists the company as a dishonest judgment debtor and opens an enforcement."""
    return {
        "dishonest_debtors": pd.DataFrame({"uscc": [uscc], "event_date": [day], "amount": [85.0]}),
        "enforcements": pd.DataFrame(
            {"uscc": [uscc], "event_date": [day], "amount": [85.0], "status": ["open"]}
        ),
    }


def demo_alert(
    bank_config: Path,
    platform_data_dir: Path,
    uscc: str,
    *,
    as_of: str,
    loan_id: str = "DEMO-LOAN-0001",
    timeout_s: float = 180.0,
) -> DemoAlerts:
    """Watch ``uscc``'s loan, ingest two adverse records dated the day before ``as_of`` and
    return the alerts once processed (re-scores as of ``as_of``, the model's date)."""
    config = BankConfig.load(bank_config)
    settings = config.data_dir / "alerts" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.write_text(json.dumps({"rescore_as_of": as_of}) + "\n", encoding="utf-8")
    settings.chmod(0o600)
    today = dt.date.today()
    client = alert_client(config)
    try:
        (outcome,) = client.register(
            [LoanWatch(loan_id, uscc, today.isoformat(), (today + dt.timedelta(365)).isoformat())]
        )
    finally:
        client.close()
    if not outcome.accepted:
        raise PermissionDenied("the platform refused to watch the loan")
    runtime = AlertRuntime.from_config(config)
    baseline = runtime.baseline(uscc)
    runtime.start()
    try:
        from platform_node.alerts.ingest import AlertIngestor

        ingestor = AlertIngestor(platform_data_dir)
        day = dt.date.fromisoformat(as_of) - dt.timedelta(days=1)
        expected = 0
        for name, frame in _feeds(uscc, day).items():
            expected += ingestor.ingest(name, frame, source="demo court feed").events
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [a for a in runtime.store.list(uscc=uscc) if a.processed]
            if len(done) >= expected:
                return DemoAlerts(baseline.pd, baseline.band, done)
            time.sleep(0.2)
        raise DeadlineExceeded("the alerts did not arrive in time")
    finally:
        runtime.stop()
