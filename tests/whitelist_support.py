"""A platform on loopback with mutual TLS serving the white list and monitoring services, with
its consent registry, audit log and a small catalogue of licences (for the tests of the white
list and of model monitoring)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pandas as pd

from experiments.support.grpc_harness import KNOWN, shared_pki
from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.federation.party import DataProvider
from models.uscc import generate_usccs
from platform_node.catalogue.store import CatalogueStore
from platform_node.consent.registry import ConsentRegistry
from platform_node.data_provider import PlatformDataProvider
from platform_node.server import RunningServer, create_server
from proto.transport.node_audit import open_node_audit_log
from proto.transport.pki import issue
from proto.transport.tls import TlsFiles

RECOMMENDERS = ("jinshui-district", "tech-bureau")
PARTIES = {**KNOWN, **{r: "recommender" for r in RECOMMENDERS}}
OPERATOR = Actor("platform/ops", "platform", "0f" * 32)
_LOCK = threading.Lock()


def pki_with_recommenders() -> Path:
    """The test process's PKI, with certificates for the recommenders."""
    pki = shared_pki()
    with _LOCK:
        for name in RECOMMENDERS:
            if not (pki / name / "cert.pem").exists():
                issue(pki, name, "recommender")
    return pki


def tls(party: str) -> TlsFiles:
    return TlsFiles.in_pki_dir(pki_with_recommenders(), party)


def licences(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` companies' licences: industries cycle over C26, C39, F51, I65; districts over
    410105 (Jinshui) and 410102 (Zhongyuan), named by the registering authority."""
    rng = np.random.default_rng(seed)
    codes = generate_usccs(n, rng)
    industries = ["C26", "C39", "F51", "I65"]
    districts = ["410105", "410102"]
    return pd.DataFrame(
        {
            "uscc": codes,
            "event_date": [dt.date(2015, 1, 1)] * n,
            "name": [f"company {i}" for i in range(n)],
            "industry_code": [industries[i % 4] for i in range(n)],
            "registration_authority": [f"郑州市{districts[i % 2]}市场监督管理局" for i in range(n)],
        }
    )


@dataclass
class Platform:
    running: RunningServer
    data_dir: Path
    audit: AuditLog
    consent: ConsentRegistry
    companies: pd.DataFrame

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def grant(self, uscc: str, bank: str, scope: str, days: int = 30) -> None:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        self.consent.grant(uscc, bank, scope, expires, actor=OPERATOR)

    def entries(self, event: str) -> list[dict[str, object]]:
        """Details of the platform's audit entries of one event, oldest first."""
        return [dict(e.details) | {"_actor": e.actor.party} for e in self.audit.entries()
                if e.event == event]  # fmt: skip

    def stop(self) -> None:
        self.running.stop(0.2)
        self.consent.close()


def start(
    tmp_path: Path,
    *,
    n_companies: int = 12,
    data: DataProvider | None = None,
    monitoring_extras: Mapping[str, object] | None = None,
) -> Platform:
    """Start a platform with the white list and monitoring services installed."""
    from platform_node.monitoring import service as monitoring
    from platform_node.whitelist import service as whitelist

    pki = pki_with_recommenders()
    data_dir = tmp_path / "platform"
    companies = licences(n_companies)
    CatalogueStore(data_dir).ingest("licence", companies, source="test")
    audit = open_node_audit_log(data_dir, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(data_dir, audit)
    provider = data if data is not None else PlatformDataProvider(data_dir)

    def hooks(server: grpc.Server) -> Mapping[str, tuple[str, ...]]:
        policy = dict(
            whitelist.install(server, data_dir=data_dir, consent_registry=consent, audit_log=audit)
        )
        policy.update(
            monitoring.install(
                server,
                data_provider=provider,
                consent_registry=consent,
                audit_log=audit,
                data_dir=data_dir,
                **dict(monitoring_extras or {}),  # type: ignore[arg-type]
            )
        )
        return policy

    running = create_server(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        data=provider,
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=PARTIES,
        audit_log=audit,
        extra_services=[hooks],
    )
    return Platform(running, data_dir, audit, consent, companies)
