"""``AlertService`` on the platform (banks only): watch lists and the ``WatchAlerts`` stream.

Watches
    ``RegisterWatch`` takes (loan id, USCC, start, end) entries; each is accepted only while the
    company's consent ``post_loan_monitoring`` to the calling bank is in force (else
    ``PERMISSION_DENIED`` for that entry, no company named). Every accepted watch and every
    stop is audited (``alert_watch_registered`` / ``alert_watch_stopped``, with the USCC and
    the bank, so the company sees it in its report).

Delivery
    ``WatchAlerts(cursor)`` streams, in the platform's log order (hence in order per
    company), the events of companies the bank watches that were derived after the watch was
    registered and lie after the cursor's position. Before sending each alert the platform
    checks again that the watch is in force (not stopped, its end date not passed) and that
    the consent is in force *now*; a failed check stops the watch (``consent_revoked`` /
    ``expired``) and the event is never sent. After each batch of alerts, and otherwise on the
    heartbeat schedule only, it sends a progress mark with a new *sealed* cursor
    (:mod:`platform_node.alerts.cursor`: AES-GCM under a platform secret, random nonce, bound
    to the bank): the bank stores it with its alerts and resumes from it after any
    disconnection or restart of either side: at-least-once delivery, duplicates removed by
    the bank (event id, loan id). Events of other companies never cause a message.

Reveals to bank: for each event of a company it watches under consent, the event's random id,
its type and severity and the time the platform ingested the record (plus the USCC and loan id
the bank registered). Over time the bank learns how often each watched company gets each type
of event, which the company's consent covers. The cursors are fixed-length random-looking
strings, and progress marks come after the bank's own alerts or on the heartbeat clock, so
neither tells how many events the platform derived for other companies (measured by
``experiments/privacy/alerts_volume.py``). Never a record's content, nor a global position.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc

from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.errors import FedCreditError, InvalidArgument, PermissionDenied
from models.federation.party import Caller
from models.uscc import normalize_uscc
from platform_node.alerts.cursor import CursorSealer
from platform_node.alerts.ingest import AlertIngestor
from platform_node.alerts.store import AlertStore, Candidate, Watch, utc_iso
from platform_node.consent.registry import ConsentRegistry
from proto.fedcredit.v1 import alerts_pb2, alerts_pb2_grpc
from proto.transport.auth import current_caller
from proto.transport.status import guard, status_for

log = logging.getLogger("fedcredit.platform.alerts")

SERVICE_NAME = "fedcredit.v1.AlertService"
_PREFIX = f"/{SERVICE_NAME}/"
SCOPE = "post_loan_monitoring"
WATCH_REGISTERED = "alert_watch_registered"
WATCH_STOPPED = "alert_watch_stopped"

#: Only banks watch their borrowers.
POLICY: dict[str, tuple[str, ...]] = {
    _PREFIX + "RegisterWatch": ("bank",),
    _PREFIX + "StopWatch": ("bank",),
    _PREFIX + "ListWatches": ("bank",),
    _PREFIX + "WatchAlerts": ("bank",),
}
MAX_ENTRIES = 10_000
BATCH = 1000


def _date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidArgument("watch dates are YYYY-MM-DD") from None


def _loan_id(value: str) -> str:
    if not value or len(value) > 64 or any(c in value for c in "\0\n\r"):
        raise InvalidArgument("a loan id is 1 to 64 printable characters")
    return value


class EventSignal:
    """Wakes the streams when new events are committed (in this process), or on a poll."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, generation: int, timeout: float) -> int:
        with self._cond:
            if self._generation == generation:
                self._cond.wait(timeout)
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation


class AlertDelivery:
    """Watch registration and the delivery loop, independent of gRPC (the servicer is thin)."""

    def __init__(
        self,
        store: AlertStore,
        consent: ConsentRegistry,
        audit: AuditLog,
        *,
        party: str = "platform",
        signal: EventSignal | None = None,
        poll_s: float = 0.2,
        heartbeat_s: float = 5.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.store = store
        self.consent = consent
        self.audit = audit
        self.party = party
        self.signal = signal or EventSignal()
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.sealer = CursorSealer(store.cursor_key)

    # ------------------------------------------------------------------ watches

    def register(self, caller: Caller, entry: alerts_pb2.WatchEntry) -> Watch:
        """Accept one watch when the company's consent is in force (audited)."""
        uscc = normalize_uscc(entry.uscc)
        loan_id = _loan_id(entry.loan_id)
        start, end = _date(entry.start_date), _date(entry.end_date)
        if end < start:
            raise InvalidArgument("a watch ends after it starts")
        now = self._clock()
        if end < now.date().isoformat():
            raise InvalidArgument("a watch must end in the future")
        record = self.consent.check(uscc, caller.party, SCOPE, now)
        watch = Watch(
            bank=caller.party,
            loan_id=loan_id,
            uscc=uscc,
            start_date=start,
            end_date=end,
            registered_at=utc_iso(now),
            registered_seq=0,
            consent_id=record.consent_id,
        )
        self.store.add_watch(watch)
        self.audit.append(
            WATCH_REGISTERED,
            Actor(caller.party, caller.role, caller.cert_fingerprint),
            {"uscc": uscc, "bank_party": caller.party, "loan_id": loan_id,
             "consent_id": record.consent_id, "end_date": end},
        )  # fmt: skip
        return watch

    def stop(self, caller: Caller, loan_id: str) -> int:
        watches = [w for w in self.store.watches(caller.party) if w.loan_id == _loan_id(loan_id)]
        stopped = self.store.stop_watches(caller.party, loan_id=loan_id, reason="bank")
        for w in watches[:stopped]:
            self._audit_stop(w, "bank", Actor(caller.party, caller.role, caller.cert_fingerprint))
        return stopped

    def _audit_stop(self, watch: Watch, reason: str, actor: Actor | None = None) -> None:
        self.audit.append(
            WATCH_STOPPED,
            actor or Actor(self.party, "platform", ""),
            {"uscc": watch.uscc, "bank_party": watch.bank, "loan_id": watch.loan_id,
             "reason": reason},
        )  # fmt: skip

    # ------------------------------------------------------------------ delivery

    def _deliverable(self, bank: str, c: Candidate, consents: dict[str, bool]) -> bool:
        """Delivery-time checks: the watch's end date and the consent, as of now."""
        now = self._clock()
        if c.end_date < now.date().isoformat():
            self._stop_one(bank, c, "expired")
            return False
        ok = consents.get(c.uscc)
        if ok is None:
            try:
                self.consent.check(c.uscc, bank, SCOPE, now)
                ok = True
            except PermissionDenied:
                ok = False
            consents[c.uscc] = ok
        if not ok:
            self._stop_one(bank, c, "consent_revoked")
        return ok

    def _stop_one(self, bank: str, c: Candidate, reason: str) -> None:
        if self.store.stop_watches(bank, loan_id=c.loan_id, reason=reason):
            self._audit_stop(
                Watch(bank, c.loan_id, c.uscc, c.start_date, c.end_date, "", 0, ""), reason
            )

    def batches(self, bank: str, after_seq: int) -> Iterator[tuple[list[Candidate], int]]:
        """``(alerts, progress)`` pairs from ``after_seq`` to the end of the log as it is now."""
        while True:
            upto = self.store.max_seq()
            if upto <= after_seq:
                return
            rows = self.store.candidates(bank, after_seq, upto, BATCH)
            if len(rows) == BATCH and rows[0].seq != rows[-1].seq:
                last = rows[-1].seq  # its loans may continue past the limit: next batch
                rows = [r for r in rows if r.seq != last]
                progress = rows[-1].seq
            elif len(rows) == BATCH:
                progress = rows[-1].seq  # more than BATCH loans of one company: rare
            else:
                progress = upto
            consents: dict[str, bool] = {}
            yield [r for r in rows if self._deliverable(bank, r, consents)], progress
            after_seq = progress

    def stream(
        self,
        bank: str,
        cursor: bytes,
        active: Callable[[], bool],
        heartbeat_s: float | None = None,
    ) -> Iterator[alerts_pb2.WatchAlertsResponse]:
        """The endless stream of one bank from its sealed ``cursor`` (ends when ``active()``
        turns false).

        Messages go out only after a batch with alerts for this bank (the alerts, then a
        progress mark) or when the heartbeat is due (a progress mark): the stream's timing
        depends on the bank's own alerts and the clock, not on other companies' events.
        """
        position = self.sealer.open(bank, cursor, top=self.store.max_seq())
        self.store.set_cursor(bank, position)
        beat = heartbeat_s or self.heartbeat_s
        due = self._clock().timestamp() + beat
        while active():
            generation = self.signal.generation
            for rows, progress in self.batches(bank, position):
                position = progress
                if rows:
                    for r in rows:
                        yield alerts_pb2.WatchAlertsResponse(
                            alert=alerts_pb2.Alert(
                                event_id=r.event_id, uscc=r.uscc, loan_id=r.loan_id,
                                event_type=r.event_type, severity=r.severity,
                                ingested_at=r.ingested_at,
                            )
                        )  # fmt: skip
                    yield self._progress(bank, position)
                    due = self._clock().timestamp() + beat
                if not active():
                    return
            now = self._clock().timestamp()
            if now >= due:
                yield self._progress(bank, position)
                due = now + beat
            self.signal.wait(generation, max(0.0, min(self.poll_s, due - now)))

    def _progress(self, bank: str, position: int) -> alerts_pb2.WatchAlertsResponse:
        return alerts_pb2.WatchAlertsResponse(cursor=self.sealer.seal(bank, position))


class AlertServicer(alerts_pb2_grpc.AlertServiceServicer):
    def __init__(self, delivery: AlertDelivery) -> None:
        self.delivery = delivery

    def RegisterWatch(
        self, request: alerts_pb2.RegisterWatchRequest, context: grpc.ServicerContext
    ) -> alerts_pb2.RegisterWatchResponse:
        def run() -> alerts_pb2.RegisterWatchResponse:
            if len(request.entries) > MAX_ENTRIES:
                raise InvalidArgument("too many watch entries in one request")
            caller = current_caller()
            results = []
            for i, entry in enumerate(request.entries):
                try:
                    self.delivery.register(caller, entry)
                    results.append(alerts_pb2.WatchResult(index=i, accepted=True))
                except FedCreditError as err:
                    code, message = status_for(err)
                    results.append(
                        alerts_pb2.WatchResult(
                            index=i, accepted=False, error_code=code.name, error_message=message
                        )
                    )
            return alerts_pb2.RegisterWatchResponse(results=results)

        return guard(context, run)

    def StopWatch(
        self, request: alerts_pb2.StopWatchRequest, context: grpc.ServicerContext
    ) -> alerts_pb2.StopWatchResponse:
        return guard(
            context,
            lambda: alerts_pb2.StopWatchResponse(
                stopped=self.delivery.stop(current_caller(), request.loan_id)
            ),
        )

    def ListWatches(
        self, request: alerts_pb2.ListWatchesRequest, context: grpc.ServicerContext
    ) -> alerts_pb2.ListWatchesResponse:
        def run() -> alerts_pb2.ListWatchesResponse:
            watches = self.delivery.store.watches(current_caller().party)
            return alerts_pb2.ListWatchesResponse(
                entries=[
                    alerts_pb2.WatchEntry(
                        loan_id=w.loan_id, uscc=w.uscc, start_date=w.start_date,
                        end_date=w.end_date,
                    )
                    for w in watches
                ]
            )  # fmt: skip

        return guard(context, run)

    def WatchAlerts(
        self, request: alerts_pb2.WatchAlertsRequest, context: grpc.ServicerContext
    ) -> Iterator[alerts_pb2.WatchAlertsResponse]:
        caller = current_caller()
        beat = request.heartbeat_ms / 1000.0 if request.heartbeat_ms else None
        try:
            yield from self.delivery.stream(
                caller.party, bytes(request.cursor), context.is_active, beat
            )
        except Exception as err:
            code, message = status_for(err)
            if code == grpc.StatusCode.INTERNAL:
                log.error("internal error in WatchAlerts", exc_info=err)
            context.abort(code, message)


def _derive_loop(ingestor: AlertIngestor, stop: threading.Event, interval_s: float) -> None:
    """Derive events of catalogue parts written by other processes (and after a crash)."""
    while not stop.wait(interval_s):
        try:
            ingestor.derive_pending()
        except Exception:  # keep serving; the next round retries
            log.exception("deriving pending catalogue parts failed")


def install(
    server: grpc.Server,
    *,
    data_dir: Path,
    consent_registry: ConsentRegistry,
    audit_log: AuditLog,
    party: str = "platform",
    derive_interval_s: float = 1.0,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    **options: Any,
) -> Mapping[str, tuple[str, ...]]:
    """Add the alert service to ``server``; returns its role policy (banks only).

    A background thread derives events of catalogue parts that arrive by other routes every
    ``derive_interval_s`` seconds (until ``stop`` is set), and once at start.
    """
    store = AlertStore.in_data_dir(data_dir)
    signal = EventSignal()
    ingestor = AlertIngestor(Path(data_dir), store, on_events=signal.notify)
    ingestor.derive_pending()
    delivery = AlertDelivery(
        store, consent_registry, audit_log, party=party, signal=signal, clock=clock, **options
    )
    alerts_pb2_grpc.add_AlertServiceServicer_to_server(AlertServicer(delivery), server)
    threading.Thread(
        target=_derive_loop,
        args=(ingestor, stop or threading.Event(), derive_interval_s),
        daemon=True,
        name="alert-derive",
    ).start()
    return POLICY
