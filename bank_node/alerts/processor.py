"""What the bank does with each stored alert: audit, re-score, priority, webhook.

For every unprocessed alert, in the platform's order:

1. audit it in the bank's hash-chained log (``alert_received``: event id, type, severity,
   USCC, loan id);
2. re-score the company with the champion model (:class:`ChampionRescorer`: the normal
   scoring path, consent-checked by the platform and audited as a ``score_request`` whose
   actor is the bank node itself); a refused or failed re-score is recorded, not retried
   forever;
3. set the priority from the severity (1 low, 2 normal, 3 high, 4 urgent) and raise it one
   level when the re-score moved the company to a worse risk band than its last known one;
4. mark it processed and, when a webhook is configured, queue its delivery (the exact body)
   in the same transaction; then try it at once.

Webhook deliveries that failed are retried from the store (:meth:`retry_webhooks`, every
round of the background thread) with exponential backoff, up to the webhook's
``max_attempts``; then the alert's webhook state is ``dead`` (dead letter). Every attempt
carries the same body and ``Idempotency-Key``, so the loan system drops repeats.

A crash between steps re-runs the alert's processing after restart (at least once): its audit
entry may then appear twice, with the same event id; a crash after queueing a webhook
delivery sends it after restart.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bank_node.alerts.store import PRIORITIES, BankAlertStore, StoredAlert, WebhookDue, now_iso
from bank_node.alerts.webhook import Webhook, encode, idempotency_key
from models.audit import events as ev
from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.audit.outcome import run_audited
from models.errors import FedCreditError, InvalidArgument
from models.federation.party import Caller

log = logging.getLogger("fedcredit.bank.alerts")

ALERT_RECEIVED = "alert_received"
SETTINGS_NAME = "settings.json"


@dataclass(frozen=True)
class Rescore:
    pd: float
    band: str
    band_rank: int  # position of the band, 0 = best


class Rescorer(Protocol):
    def __call__(self, uscc: str) -> Rescore: ...


@dataclass(frozen=True)
class AlertSettings:
    """``<bank data>/alerts/settings.json``::

        {"webhook_url": "", "webhook_secret": "", "rescore": true, "rescore_as_of": "",
         "webhook_max_attempts": 8, "webhook_backoff_s": 30}

    ``rescore_as_of``: the point-in-time date of re-scores (YYYY-MM-DD); empty = tomorrow
    (UTC), so that every record the platform holds today counts. The file is private to the
    bank (0600, like the rest of its data directory).
    """

    webhook_url: str = ""
    webhook_secret: str = ""
    rescore: bool = True
    rescore_as_of: str = ""
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 30.0

    def as_of(self) -> str:
        if self.rescore_as_of:
            return self.rescore_as_of
        return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()

    @classmethod
    def load(cls, data_dir: Path) -> AlertSettings:
        path = Path(data_dir) / "alerts" / SETTINGS_NAME
        if not path.exists():
            return cls()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InvalidArgument("alerts/settings.json is not valid JSON") from None
        unknown = set(doc) - {"webhook_url", "webhook_secret", "rescore", "rescore_as_of",
                              "webhook_max_attempts", "webhook_backoff_s"}  # fmt: skip
        if unknown:
            raise InvalidArgument("alerts/settings.json has unknown keys")
        try:
            attempts = int(doc.get("webhook_max_attempts", 8))
            backoff = float(doc.get("webhook_backoff_s", 30.0))
        except (TypeError, ValueError):
            raise InvalidArgument(
                "webhook_max_attempts and webhook_backoff_s are numbers"
            ) from None
        return cls(
            webhook_url=str(doc.get("webhook_url", "")),
            webhook_secret=str(doc.get("webhook_secret", "")),
            rescore=bool(doc.get("rescore", True)),
            rescore_as_of=_date_or_empty(str(doc.get("rescore_as_of", ""))),
            webhook_max_attempts=attempts,
            webhook_backoff_s=backoff,
        )

    def webhook(self) -> Webhook | None:
        if not self.webhook_url:
            return None
        return Webhook(
            self.webhook_url,
            self.webhook_secret.encode("utf-8"),
            max_attempts=self.webhook_max_attempts,
            backoff_s=self.webhook_backoff_s,
            max_backoff_s=max(3600.0, self.webhook_backoff_s),
        )


def _date_or_empty(value: str) -> str:
    if value:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidArgument("rescore_as_of is a date in YYYY-MM-DD form") from None
    return value


class ChampionRescorer:
    """Re-score a company with the served champion through the bank's scoring engine.

    The request is audited like an officer's (``score_request``), with the bank node as actor
    and ``reason = "alert"``; ``as_of`` gives the point-in-time date of each re-score.
    """

    def __init__(self, engine: Any, actor: Caller, as_of: Callable[[], str] = lambda: "") -> None:
        self.engine = engine
        self.actor = actor
        self.as_of = as_of

    def __call__(self, uscc: str) -> Rescore:
        from proto.fedcredit.v1 import scoring_pb2

        request_id = uuid.uuid4().hex
        details: dict[str, Any] = {
            "request_id": request_id,
            "uscc": uscc,
            "bank_party": self.engine.party,
            "model_id": "",
            "consent_id": "",
            "reason": "alert",
            "outcome": ev.OUTCOME_ERROR,
        }
        response = run_audited(
            self.engine.audit,
            ev.SCORE_REQUEST,
            self.actor,
            details,
            lambda: self.engine._score(  # the officer check is for people; this is the node
                self.actor,
                scoring_pb2.ScoreRequest(uscc=uscc, as_of=self.as_of()),
                request_id,
                details,
            ),
        )
        names = list(self.engine.settings.risk_bands.names)
        band = str(response.risk_band)
        return Rescore(float(response.probability_of_default), band, names.index(band))


def priority_for(severity: int, downgraded: bool) -> str:
    base = min(max(int(severity), 1), len(PRIORITIES)) - 1
    return PRIORITIES[min(base + (1 if downgraded else 0), len(PRIORITIES) - 1)]


class AlertProcessor:
    """Processes stored alerts (see the module docstring); one background thread."""

    def __init__(
        self,
        store: BankAlertStore,
        audit: AuditLog,
        actor: Actor,
        *,
        rescorer: Rescorer | None = None,
        webhook: Webhook | None = None,
        band_names: tuple[str, ...] = ("A", "B", "C", "D", "E", "F"),
        on_processed: Callable[[StoredAlert, str], None] | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.store = store
        self.audit = audit
        self.actor = actor
        self.rescorer = rescorer
        self.webhook = webhook
        self.band_names = band_names
        self.on_processed = on_processed
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def process_one(self, alert: StoredAlert) -> str:
        """Audit, re-score, prioritise and forward one alert; returns its priority."""
        self.audit.append(
            ALERT_RECEIVED,
            self.actor,
            {"event_id": alert.event_id, "event_type": alert.event_type,
             "severity": alert.severity, "uscc": alert.uscc, "loan_id": alert.loan_id,
             "bank_seq": alert.seq},
        )  # fmt: skip
        before = self.store.last_band(alert.uscc)
        rescore_status, pd, band_after, downgraded = "skipped", None, "", False
        if self.rescorer is not None:
            try:
                result = self.rescorer(alert.uscc)
                rescore_status, pd, band_after = "ok", result.pd, result.band
                if before is not None and before[0] in self.band_names:
                    downgraded = result.band_rank > self.band_names.index(before[0])
                self.store.set_band(alert.uscc, result.band, result.pd)
            except FedCreditError as err:
                rescore_status = f"failed:{err.kind.value}"
            except Exception:  # a bug or a transport failure: recorded, never blocks alerts
                log.exception("re-scoring after an alert failed")
                rescore_status = "failed:internal"
        priority = priority_for(alert.severity, downgraded)
        body = ""
        if self.webhook is not None:
            body = encode(
                {"event_id": alert.event_id, "loan_id": alert.loan_id, "uscc": alert.uscc,
                 "idempotency_key": idempotency_key(alert.event_id, alert.loan_id),
                 "event_type": alert.event_type, "severity": alert.severity,
                 "priority": priority, "ingested_at": alert.ingested_at,
                 "risk_band_before": before[0] if before else "", "risk_band": band_after,
                 "probability_of_default": pd,
                 "sent_at": dt.datetime.now(dt.UTC).isoformat()}
            ).decode("utf-8")  # fmt: skip
        self.store.finish(
            alert.event_id,
            alert.loan_id,
            priority=priority,
            rescore=rescore_status,
            pd=pd,
            band_before=before[0] if before else "",
            band_after=band_after,
            webhook="",
            webhook_body=body,
        )
        if body:
            self._deliver(WebhookDue(alert.event_id, alert.loan_id, body, 0))
        if self.on_processed is not None:
            self.on_processed(alert, priority)
        return priority

    def _deliver(self, due: WebhookDue) -> str:
        """One webhook attempt, its outcome recorded: ``ok``, ``pending`` or ``dead``."""
        hook = self.webhook
        assert hook is not None
        attempts = due.attempts + 1
        outcome = hook.post(
            due.body.encode("utf-8"),
            key=idempotency_key(due.event_id, due.loan_id),
            event_id=due.event_id,
            attempt=attempts,
        )
        if outcome == "ok":
            state, next_at, error = "ok", "", ""
        elif attempts >= hook.max_attempts:
            state, next_at, error = "dead", "", outcome
            log.warning("webhook delivery of an alert failed %d times; dead letter", attempts)
        else:
            state, error = "pending", outcome
            later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=hook.delay_s(attempts))
            next_at = later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.store.record_webhook(
            due.event_id, due.loan_id, state=state, attempts=attempts, next_at=next_at, error=error
        )
        return state

    def retry_webhooks(self) -> int:
        """Attempt every webhook delivery that is due; returns how many were attempted."""
        if self.webhook is None:
            return 0
        done = 0
        while True:
            batch = self.store.webhooks_due(now_iso())
            if not batch:
                return done
            for due in batch:
                self._deliver(due)
                done += 1

    def drain(self) -> int:
        """Process every pending alert now; returns how many."""
        done = 0
        while True:
            batch = self.store.pending()
            if not batch:
                return done
            for alert in batch:
                self.process_one(alert)
                done += 1

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.drain()
                    self.retry_webhooks()
                except Exception:
                    log.exception("processing alerts failed; retrying")
                self._wake.wait(self.poll_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, daemon=True, name="alert-processor")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
