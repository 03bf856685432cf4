"""Helpers for the scoring tests and benchmark: a small synthetic two-party table keyed by
USCC, quickly trained SecureBoost and LR models saved the way their protocols save them, and
both nodes started on loopback with mutual TLS (platform with PlatformScoringService, bank with
its ScoringService)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import models.logreg.passive
import models.scorecard.passive
import models.secureboost.passive  # noqa: F401  (register the platform halves)
from bank_node.config import BankConfig
from bank_node.scoring.client import ScoringClient, officer_tls
from bank_node.scoring.model_store import ModelStore
from bank_node.scoring.settings import ScoringSettings
from experiments.support.hetero import StaticProvider as StaticProvider  # shared
from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.dataset import PartyTable
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.logreg.active import FederatedLogisticRegression
from models.scorecard.active import FederatedScorecard
from models.secureboost.active import SecureBoostClassifier
from models.uscc import generate_usccs
from platform_node.consent.registry import ConsentRegistry
from platform_node.scoring import service as platform_scoring
from platform_node.server import RunningServer, create_server
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.server import NodeServer
from proto.transport.tls import TlsFiles

BANK_GROUPS = ("bank",)
PLATFORM_GROUPS = ("tax", "tax", "judicial", "judicial", "social_security", "utilities")
KNOWN = {"platform": "platform", "bank-a": "bank", "bank-b": "bank", "regulator": "regulator"}
SB_NAME = "sme-sb"
LR_NAME = "sme-lr"
CARD_NAME = "sme-card"


def synthetic_tables(
    n: int = 300, seed: int = 0, missing: float = 0.03
) -> tuple[PartyTable, PartyTable]:
    """Aligned bank (4 features, labels) and platform (6 features, 4 categories) tables whose
    ids are valid USCCs; the label depends on both sides."""
    rng = np.random.default_rng(seed)
    ids = np.asarray(generate_usccs(n, rng))
    Xb = rng.normal(size=(n, 4))
    Xp = rng.normal(size=(n, len(PLATFORM_GROUPS)))
    logit = -1.5 + Xb @ [0.8, -0.6, 0.4, 0.0] + Xp @ [1.0, 0.0, 0.9, -0.5, 0.6, 0.3]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    Xb[rng.random(Xb.shape) < missing] = np.nan
    Xp[rng.random(Xp.shape) < missing] = np.nan
    bank = PartyTable(
        ids=ids,
        X=Xb,
        feature_names=[f"bank_f{i}" for i in range(Xb.shape[1])],
        feature_groups=["bank"] * Xb.shape[1],
        y=y,
    )
    platform = PartyTable(
        ids=ids.copy(),
        X=Xp,
        feature_names=[f"plat_f{i}" for i in range(Xp.shape[1])],
        feature_groups=list(PLATFORM_GROUPS),
    )
    return bank, platform


@dataclass
class Trained:
    """Trained models, their bank parts, and an in-process peer for offline predictions."""

    bank: PartyTable
    platform: PartyTable
    sb: SecureBoostClassifier
    lr: FederatedLogisticRegression
    sb_path: Path
    lr_path: Path
    features_csv: Path
    peer: InProcessPeer
    card: FederatedScorecard | None = None
    card_path: Path | None = None

    def offline_pd(self, family: str, row: int) -> float:
        """The bank's offline federated prediction for one company (row of the bank table)."""
        rows = np.asarray([row])
        if family == "secureboost":
            return float(self.sb.predict_proba(self.bank.take(rows), self.peer)[0, 1])
        if family == "scorecard":
            assert self.card is not None
            return float(self.card.predict_proba(self.bank, self.peer, rows=rows)[0, 1])
        return float(self.lr.predict_proba(self.bank, self.peer, rows=rows)[0, 1])

    def offline_points(self, row: int) -> float:
        """The scorecard's offline points total for one company."""
        assert self.card is not None
        return float(self.card.points(self.bank, self.peer, rows=np.asarray([row]))[0])


def train_models(
    bank: PartyTable,
    platform: PartyTable,
    platform_dir: Path,
    bank_dir: Path,
    *,
    key_bits: int = 1024,
    n_estimators: int = 4,
    max_depth: int = 3,
    lr_epochs: int = 4,
    scorecard: bool = False,
) -> Trained:
    """Train SecureBoost and LR in-process; the platform parts land under
    ``platform_dir/models``, the bank parts under ``bank_dir/parts``."""
    manager = SessionManager(platform_dir, StaticProvider(platform), idle_timeout_s=600)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"))
    sb = SecureBoostClassifier(
        n_estimators=n_estimators, max_depth=max_depth, n_bins=16, key_bits=key_bits
    ).fit(bank, peer, job_id="sb-scoring-test")
    lr = FederatedLogisticRegression(
        mode="paillier",
        max_epochs=lr_epochs,
        key_bits=key_bits,
        random_state=0,
    ).fit(bank, peer, model_id="lr-scoring-test")
    parts = bank_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    sb_path, lr_path = parts / "sb-scoring-test.json", parts / "lr-scoring-test.json"
    sb.save_model(sb_path)
    lr.save(lr_path)
    features_csv = bank_dir / "bank_features.csv"
    import pandas as pd

    frame = pd.DataFrame(bank.X, columns=bank.feature_names)
    frame.insert(0, "id", bank.ids)
    frame.to_csv(features_csv, index=False)
    trained = Trained(bank, platform, sb, lr, sb_path, lr_path, features_csv, peer)
    if scorecard:
        card = FederatedScorecard(
            binning_method="quantile",
            n_bins=5,
            iv_threshold=None,
            top_k=6,
            mode="paillier",
            max_epochs=lr_epochs,
            key_bits=key_bits,
            random_state=0,
        ).fit(bank, peer, model_id="card-scoring-test")
        trained.card, trained.card_path = card, parts / "card-scoring-test.json"
        card.save(trained.card_path)
    return trained


#: An approval as :mod:`bank_node.governance` records it (tests that exercise scoring, not
#: governance, write it to the store directly).
TEST_APPROVAL = {"by": "bank-a/head-of-risk", "role": "approver", "cert_fingerprint": "", "at": ""}


def serve_approved(
    store: ModelStore, name: str, part: Path, alias: str = "champion", **kwargs: Any
) -> Any:
    """Register a part and approve it for ``alias`` (a stand-in for ``model promote``)."""
    entry = store.register(name, part, **kwargs)
    return store.approve(name, alias, entry.model_id, TEST_APPROVAL)


def register_models(trained: Trained, bank_dir: Path) -> ModelStore:
    store = ModelStore(bank_dir)
    features = {"kind": "table", "path": str(trained.features_csv), "id_column": "id"}
    # the first approved champion is the default: the tree model
    serve_approved(store, SB_NAME, trained.sb_path, version="1", features=features)
    serve_approved(store, LR_NAME, trained.lr_path, version="1", features=features)
    if trained.card_path is not None:
        serve_approved(store, CARD_NAME, trained.card_path, version="1", features=features)
    return store


@dataclass
class Nodes:
    """Both nodes running on loopback with mutual TLS."""

    pki: Path
    platform: RunningServer
    bank: NodeServer
    bank_config: BankConfig
    platform_audit: AuditLog
    consent: ConsentRegistry
    provider: Any
    clients: list[ScoringClient] = field(default_factory=list)

    @property
    def bank_target(self) -> str:
        return f"127.0.0.1:{self.bank.port}"

    def client(self, party: str = "alice") -> ScoringClient:
        """A scoring client with ``party``'s certificate (officer ``alice`` by default)."""
        c = ScoringClient(
            self.bank_target,
            officer_tls(self.pki / party),
            server_name=self.bank_config.party,
            timeout_s=30.0,
        )
        self.clients.append(c)
        return c

    def grant(self, uscc: str, bank: str = "bank-a", days: int = 30) -> str:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        return self.consent.grant(uscc, bank, "scoring", expires).consent_id

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.bank.stop(0.2)
        self.platform.stop(0.2)
        self.consent.close()


def start_platform(
    pki: Path, platform_dir: Path, provider: Any, *, max_workers: int = 16
) -> tuple[RunningServer, AuditLog, ConsentRegistry]:
    audit = open_node_audit_log(platform_dir, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(
        platform_dir, audit, actor=Actor("platform-operator", "platform")
    )

    def hook(server: Any) -> Any:
        return platform_scoring.install(
            server,
            data_dir=platform_dir,
            data_provider=provider,
            consent_registry=consent,
            audit_log=audit,
            party="platform",
        )

    running = create_server(
        listen="127.0.0.1:0",
        data_dir=platform_dir,
        data=provider,
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=KNOWN,
        max_workers=max_workers,
        extra_services=[hook],
        audit_log=audit,
    )
    return running, audit, consent


def bank_config(
    pki: Path, bank_dir: Path, platform_port: int, *, max_workers: int = 16
) -> BankConfig:
    return BankConfig(
        party="bank-a",
        listen="127.0.0.1:0",
        data_dir=bank_dir,
        tls=TlsFiles.in_pki_dir(pki, "bank-a"),
        platform_target=f"127.0.0.1:{platform_port}",
        platform_name="platform",
        tracking_uri="",
        log_level="warning",
        max_workers=max_workers,
        grace_s=1.0,
        step_timeout_s=60.0,
        known_parties={"bank-a": "bank", "regulator": "regulator"},
    )


def start_nodes(
    pki: Path,
    platform_dir: Path,
    bank_dir: Path,
    platform_table: PartyTable | None = None,
    *,
    provider: Any = None,
    settings: ScoringSettings | None = None,
    max_workers: int = 16,
) -> Nodes:
    """Start the platform (with scoring; serving ``platform_table`` or ``provider``) and the
    bank (its server reads the settings file)."""
    from bank_node.server import create_bank_server

    if provider is None:
        assert platform_table is not None
        provider = StaticProvider(platform_table)
    running, audit, consent = start_platform(pki, platform_dir, provider, max_workers=max_workers)
    (settings or ScoringSettings()).save(bank_dir)
    config = bank_config(pki, bank_dir, running.port, max_workers=max_workers)
    bank = create_bank_server(config)
    return Nodes(pki, running, bank, config, audit, consent, provider)
