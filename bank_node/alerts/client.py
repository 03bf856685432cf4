"""The bank's client of the platform's ``AlertService``: watch lists and the alert stream.

:class:`AlertWatcher` keeps one ``WatchAlerts`` stream open from the cursor in the bank's
store; every message is stored (alerts and the new cursor in one transaction) before the next
is read, and the processor is woken. When the stream breaks (platform restart, network) it
reconnects with backoff from the stored cursor, so nothing is lost; anything resent is
dropped by the store (event id, loan id).

The cursor is opaque to the bank (sealed by the platform). If the platform refuses it
(``FAILED_PRECONDITION``: sealed by another platform key, e.g. a platform rebuilt from
scratch), the watcher drops it and starts again from each watch's registration: safe, since
resent alerts are dropped by the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from bank_node.alerts.store import BankAlertStore, ReceivedAlert
from models.errors import FedCreditError
from proto.fedcredit.v1 import alerts_pb2, alerts_pb2_grpc
from proto.transport.channel import open_channel, test_identity_metadata
from proto.transport.status import error_from_rpc
from proto.transport.tls import TlsFiles

log = logging.getLogger("fedcredit.bank.alerts")


@dataclass(frozen=True)
class LoanWatch:
    loan_id: str
    uscc: str
    start_date: str
    end_date: str


@dataclass(frozen=True)
class WatchOutcome:
    loan_id: str
    accepted: bool
    error_code: str = ""
    error_message: str = ""


class AlertClient:
    """Unary calls of the alert service (register, stop, list watches) and the raw stream."""

    def __init__(
        self,
        target: str,
        tls: TlsFiles | None,
        *,
        server_name: str = "platform",
        test_identity: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.channel = open_channel(target, tls, server_name=server_name if tls else "")
        self.stub = alerts_pb2_grpc.AlertServiceStub(self.channel)
        self.metadata = test_identity_metadata(*test_identity) if test_identity else ()
        self.timeout_s = timeout_s

    def close(self) -> None:
        self.channel.close()

    def _call(self, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except grpc.RpcError as err:
            raise error_from_rpc(err) from None

    def register(self, watches: Sequence[LoanWatch], chunk: int = 5000) -> list[WatchOutcome]:
        """Register loans for monitoring; one outcome per loan (refused without consent)."""
        out: list[WatchOutcome] = []
        for i in range(0, len(watches), chunk):
            part = watches[i : i + chunk]
            request = alerts_pb2.RegisterWatchRequest(
                entries=[
                    alerts_pb2.WatchEntry(
                        loan_id=w.loan_id, uscc=w.uscc, start_date=w.start_date,
                        end_date=w.end_date,
                    )
                    for w in part
                ]
            )  # fmt: skip
            reply = self._call(
                lambda r=request: self.stub.RegisterWatch(  # type: ignore[misc]
                    r, timeout=self.timeout_s, metadata=self.metadata
                )
            )
            assert isinstance(reply, alerts_pb2.RegisterWatchResponse)
            for res in reply.results:
                out.append(
                    WatchOutcome(
                        part[res.index].loan_id, res.accepted, res.error_code, res.error_message
                    )
                )
        return out

    def stop(self, loan_id: str) -> int:
        reply = self._call(
            lambda: self.stub.StopWatch(
                alerts_pb2.StopWatchRequest(loan_id=loan_id),
                timeout=self.timeout_s,
                metadata=self.metadata,
            )
        )
        assert isinstance(reply, alerts_pb2.StopWatchResponse)
        return int(reply.stopped)

    def list(self) -> list[LoanWatch]:
        reply = self._call(
            lambda: self.stub.ListWatches(
                alerts_pb2.ListWatchesRequest(), timeout=self.timeout_s, metadata=self.metadata
            )
        )
        assert isinstance(reply, alerts_pb2.ListWatchesResponse)
        return [LoanWatch(e.loan_id, e.uscc, e.start_date, e.end_date) for e in reply.entries]

    def stream(self, cursor: bytes, heartbeat_ms: int = 0) -> grpc.Future:
        """The raw ``WatchAlerts`` call (an iterator of responses that can be cancelled)."""
        return self.stub.WatchAlerts(
            alerts_pb2.WatchAlertsRequest(cursor=cursor, heartbeat_ms=heartbeat_ms),
            metadata=self.metadata,
        )


class AlertWatcher:
    """Receive alerts into the store until stopped, reconnecting from the durable cursor.

    Parameters
    ----------
    on_stored:
        Called with the new alerts after each commit (e.g. wakes the processor).
    """

    def __init__(
        self,
        client: AlertClient,
        store: BankAlertStore,
        *,
        on_stored: Callable[[list[ReceivedAlert]], None] | None = None,
        heartbeat_ms: int = 2000,
        backoff_s: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.client = client
        self.store = store
        self.on_stored = on_stored
        self.heartbeat_ms = heartbeat_ms
        self.backoff_s = backoff_s
        self.connected = threading.Event()
        self.reconnects = 0
        self.cursor_resets = 0
        self._stop = threading.Event()
        self._call: grpc.Future | None = None
        self._thread: threading.Thread | None = None
        self.last_error: FedCreditError | None = None

    def run_once(self) -> None:
        """One stream from the stored cursor until it ends or breaks."""
        call = self.client.stream(self.store.cursor(), self.heartbeat_ms)
        self._call = call
        if self._stop.is_set():
            call.cancel()
            return
        pending: list[ReceivedAlert] = []
        for msg in call:
            self.connected.set()
            if msg.HasField("alert"):
                a = msg.alert
                pending.append(
                    ReceivedAlert(a.event_id, a.loan_id, a.uscc, a.event_type,
                                  int(a.severity), a.ingested_at)
                )  # fmt: skip
                continue
            new = self.store.receive(pending, bytes(msg.cursor))
            pending = []
            if new and self.on_stored is not None:
                self.on_stored(new)
        # alerts without a progress mark after them are received again after reconnecting

    def run(self) -> None:
        delay = self.backoff_s[0]
        while not self._stop.is_set():
            try:
                self.run_once()
                delay = self.backoff_s[0]
            except grpc.RpcError as err:
                self.connected.clear()
                if self._stop.is_set():
                    return
                self.last_error = error_from_rpc(err)
                if err.code() in (grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.UNAUTHENTICATED):  # fmt: skip
                    log.error("the platform refused the alert stream: %s", self.last_error)
                elif err.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    log.warning("the platform refused the stored alert cursor; starting again"
                                " from each watch's registration")  # fmt: skip
                    self.store.reset_cursor()
                    self.cursor_resets += 1
                self.reconnects += 1
            self._stop.wait(delay)
            delay = min(self.backoff_s[1], delay * 2)

    def start(self) -> AlertWatcher:
        self._thread = threading.Thread(target=self.run, daemon=True, name="alert-watcher")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Poll ``predicate`` until true or ``timeout_s`` passes (tests, demo)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()
