"""Helpers for the alert tests: a platform with the AlertService on loopback (mutual TLS),
consent, feeds that raise events, and the bank's store + watcher."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd

from bank_node.alerts.client import AlertClient, AlertWatcher, LoanWatch
from bank_node.alerts.store import BankAlertStore
from experiments.support.grpc_harness import KNOWN, shared_pki
from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.errors import FailedPrecondition
from models.uscc import generate_usccs
from platform_node.alerts import service as alert_service
from platform_node.alerts.cursor import CursorSealer
from platform_node.alerts.ingest import AlertIngestor
from platform_node.alerts.store import AlertStore
from platform_node.consent.registry import ConsentRegistry
from platform_node.server import RunningServer, create_server
from proto.transport.node_audit import open_node_audit_log
from proto.transport.server import ServiceHook
from proto.transport.tls import TlsFiles

SCOPE = "post_loan_monitoring"
OPERATOR = Actor("platform", "platform", "")


class NoData:
    """The alert tests train nothing: a data provider that is never asked."""

    def load(self, dataset: str, caller: object, params: object) -> object:
        raise AssertionError("not used")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def codes(n: int, seed: int = 7) -> list[str]:
    return generate_usccs(n, np.random.default_rng(seed))


@dataclass
class Platform:
    data_dir: Path
    port: int
    running: RunningServer | None = None
    audit: AuditLog | None = None
    consent: ConsentRegistry | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    provider: Any = None  # with a provider, the platform also serves scoring

    def start(self) -> Platform:
        self.audit = open_node_audit_log(self.data_dir, "platform", "platform")
        self.consent = ConsentRegistry.in_data_dir(self.data_dir, self.audit, actor=OPERATOR)
        self.stop_event = threading.Event()
        consent, audit, stop = self.consent, self.audit, self.stop_event

        def hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
            return alert_service.install(
                server, data_dir=self.data_dir, consent_registry=consent, audit_log=audit,
                derive_interval_s=0.3, stop=stop, poll_s=0.05,
            )  # fmt: skip

        hooks: list[ServiceHook] = [hook]
        if self.provider is not None:
            from platform_node.scoring import service as scoring

            def scoring_hook(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
                return scoring.install(
                    server, data_dir=self.data_dir, data_provider=self.provider,
                    consent_registry=consent, audit_log=audit,
                )  # fmt: skip

            hooks.append(scoring_hook)
        self.running = create_server(
            listen=f"127.0.0.1:{self.port}",
            data_dir=self.data_dir,
            data=self.provider or NoData(),  # type: ignore[arg-type]
            tls=TlsFiles.in_pki_dir(shared_pki(), "platform"),
            known_parties=KNOWN,
            audit_log=self.audit,
            extra_services=hooks,
        )
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.running is not None:
            self.running.stop(0)
            self.running = None
        if self.consent is not None:
            self.consent.close()

    def grant(self, uscc: str, bank: str = "bank-a", days: int = 30, scope: str = SCOPE) -> None:
        assert self.consent is not None
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        self.consent.grant(uscc, bank, scope, expires)

    def revoke(self, uscc: str, bank: str = "bank-a") -> None:
        assert self.consent is not None
        self.consent.revoke(uscc, bank, SCOPE)

    def ingestor(self) -> AlertIngestor:
        return AlertIngestor(self.data_dir)


def enforcement_feed(
    usccs: list[str], day: str = "2026-11-02", status: str = "open"
) -> pd.DataFrame:
    """One open enforcement case per company (each raises ``enforcement_new``)."""
    n = len(usccs)
    return pd.DataFrame(
        {
            "uscc": usccs,
            "event_date": pd.to_datetime([day] * n).date,
            "amount": np.linspace(1.0, 50.0, n) if n else np.zeros(0),
            "status": [status] * n,
        }
    )


def bank_client(port: int, party: str = "bank-a") -> AlertClient:
    return AlertClient(f"127.0.0.1:{port}", TlsFiles.in_pki_dir(shared_pki(), party))


def loan(i: int, uscc: str, days: int = 30) -> LoanWatch:
    today = dt.date.today()
    return LoanWatch(
        f"L{i:06d}", uscc, today.isoformat(), (today + dt.timedelta(days=days)).isoformat()
    )


def caught_up(platform_dir: Path, store: BankAlertStore, bank: str = "bank-a") -> bool:
    """Whether the bank's (opaque) cursor has reached the end of the platform's log: the
    test reads it with the platform's key, as only the platform can."""
    pstore = AlertStore.in_data_dir(platform_dir)
    try:
        top = pstore.max_seq()
        return CursorSealer(pstore.cursor_key).open(bank, store.cursor()) >= top
    except FailedPrecondition:  # not (yet) a cursor of this platform
        return False
    finally:
        pstore.close()


def watcher(
    port: int, bank_dir: Path, party: str = "bank-a"
) -> tuple[AlertWatcher, BankAlertStore]:
    store = BankAlertStore.in_data_dir(bank_dir)
    w = AlertWatcher(bank_client(port, party), store, heartbeat_ms=300, backoff_s=(0.05, 0.5))
    return w, store
