"""The bank's handling of alerts: audit, champion re-score through the normal consent-checked
scoring path (over mTLS), priority raised on a band downgrade, the HMAC-signed webhook."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from bank_node.alerts.demo import demo_alert
from bank_node.alerts.processor import AlertProcessor, ChampionRescorer
from bank_node.alerts.webhook import SIGNATURE_HEADER, Webhook, sign, verify
from bank_node.cli.main import main
from bank_node.federation_client import GrpcPassivePeer
from bank_node.scoring.engine import BankScoringEngine
from bank_node.scoring.keys import ScoringKeys
from bank_node.scoring.model_store import ModelStore
from bank_node.scoring.settings import ScoringSettings
from experiments.support.grpc_harness import shared_pki
from experiments.support.scoring import LR_NAME, StaticProvider, serve_approved, synthetic_tables
from models.audit.entry import Actor
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.logreg.active import FederatedLogisticRegression
from proto.transport.node_audit import open_node_audit_log
from proto.transport.tls import TlsFiles
from tests.alerts_support import Platform, bank_client, enforcement_feed, free_port, loan, watcher

SECRET = b"0123456789abcdef-webhook-secret"


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((body, self.headers[SIGNATURE_HEADER]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[str]:
    _Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()


def test_webhook_signature_roundtrip() -> None:
    body = b'{"event_id":"ev-1"}'
    header = sign(body, SECRET)
    assert verify(body, SECRET, header)
    assert not verify(body + b" ", SECRET, header)
    assert not verify(body, b"another-secret-of-16+", header)


@dataclass
class Served:
    """A champion LR model at the bank and the platform serving scoring and alerts."""

    ids: list[str]
    bank_dir: Path
    store: ModelStore
    platform: Platform


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    bank_table, platform_table = synthetic_tables(n=200, seed=4)
    pdir, bdir = tmp_path / "platform", tmp_path / "bank"
    manager = SessionManager(pdir, StaticProvider(platform_table), idle_timeout_s=600)
    lr = FederatedLogisticRegression(mode="paillier", max_epochs=2, key_bits=1024, random_state=0)
    lr.fit(bank_table, InProcessPeer(manager, Caller("bank-a", "bank")), model_id="lr-alerts")
    part = bdir / "parts" / "lr-alerts.json"
    part.parent.mkdir(parents=True)
    lr.save(part)
    features = bdir / "bank_features.csv"
    frame = pd.DataFrame(bank_table.X, columns=bank_table.feature_names)
    frame.insert(0, "id", bank_table.ids)
    frame.to_csv(features, index=False)
    store = ModelStore(bdir)
    features_spec = {"kind": "table", "path": str(features), "id_column": "id"}
    serve_approved(store, LR_NAME, part, version="1", features=features_spec)
    platform = Platform(pdir, free_port(), provider=StaticProvider(platform_table)).start()
    yield Served([str(i) for i in bank_table.ids], bdir, store, platform)
    platform.stop()


def test_demo_alert_arrives_and_is_rescored(served: Served, tmp_path: Path) -> None:
    ScoringSettings(key_bits=1024).save(served.bank_dir)
    config = tmp_path / "bank.toml"
    config.write_text(
        f'[bank]\nparty = "bank-a"\ndata_dir = "{served.bank_dir}"\n'
        f'pki_dir = "{shared_pki()}"\nplatform_target = "127.0.0.1:{served.platform.port}"\n'
    )
    uscc = served.ids[5]
    served.platform.grant(uscc)
    served.platform.grant(uscc, scope="scoring")
    shown = demo_alert(config, served.platform.data_dir, uscc, as_of="2026-12-01", timeout_s=60)
    assert sorted(a.event_type for a in shown.alerts) == ["dishonest_debtor", "enforcement_new"]
    for a in shown.alerts:
        assert a.rescore == "ok" and a.band_before == shown.baseline_band
        assert a.priority in ("high", "urgent")
    # the CLI lists them and acknowledges one (audited)
    assert main(["alerts", "list", "--config", str(config), "--unacked"]) == 0
    assert main(["alerts", "ack", "--config", str(config), shown.alerts[0].event_id,
                 "--by", "alice"]) == 0  # fmt: skip
    assert main(["alerts", "ack", "--config", str(config), shown.alerts[0].event_id,
                 "--by", "alice"]) == 2  # fmt: skip


def test_alert_is_audited_rescored_prioritised_and_forwarded(
    served: Served, hook_server: str
) -> None:
    platform, store, bdir = served.platform, served.store, served.bank_dir
    a, b = served.ids[0], served.ids[1]
    for c in (a, b):
        platform.grant(c)
    platform.grant(a, scope="scoring")  # b consented to monitoring only: no re-score
    client = bank_client(platform.port)
    assert all(o.accepted for o in client.register([loan(1, a), loan(2, b)]))
    client.close()

    audit = open_node_audit_log(bdir, "bank-a", "bank")
    tls = TlsFiles.in_pki_dir(shared_pki(), "bank-a")
    engine = BankScoringEngine(
        party="bank-a",
        store=store,
        platform=GrpcPassivePeer(f"127.0.0.1:{platform.port}", tls),
        audit_log=audit,
        settings=ScoringSettings(),
        keys=ScoringKeys(1024),
    )
    rescorer = ChampionRescorer(engine, Caller("bank-a", "bank"))
    baseline = rescorer(a)
    w, alerts = watcher(platform.port, bdir)
    # the last known band was better than the one the re-score will give: a downgrade
    better = engine.settings.risk_bands.names[max(0, baseline.band_rank - 1)]
    if baseline.band_rank == 0:
        better = ""
    if better:
        alerts.set_band(a, better, 0.0)
    processor = AlertProcessor(
        alerts, audit, Actor("bank-a", "bank"), rescorer=rescorer,
        webhook=Webhook(hook_server, SECRET),
        band_names=tuple(engine.settings.risk_bands.names),
    )  # fmt: skip
    w.on_stored = lambda _new: processor.wake()
    processor.start()
    w.start()
    try:
        platform.ingestor().ingest("enforcements", enforcement_feed([a, b]))
        assert w.wait_for(lambda: alerts.count() == 2 and not alerts.pending(), 30)
    finally:
        w.stop()
        processor.stop()
    got = {x.uscc: x for x in alerts.list()}
    assert got[a].rescore == "ok" and got[a].band_after == baseline.band
    assert got[a].pd == pytest.approx(baseline.pd)
    assert got[a].priority == ("urgent" if better else "high")  # severity 3 = high
    assert got[b].rescore == "failed:permission_denied" and got[b].priority == "high"
    # audited: the alert and the re-score, by the bank node
    entries = [e for e in audit.entries() if e.event in ("alert_received", "score_request")]
    kinds = [(e.event, e.details.get("uscc")) for e in entries]
    assert ("alert_received", a) in kinds and ("alert_received", b) in kinds
    rescores = [e for e in entries if e.event == "score_request"
                and e.details.get("reason") == "alert"]  # fmt: skip
    assert {e.details["outcome"] for e in rescores} == {"ok", "denied"}
    # forwarded, signed, without any record content
    assert len(_Hook.received) == 2
    for body, header in _Hook.received:
        assert verify(body, SECRET, header)
        doc = json.loads(body)
        assert set(doc) == {
            "event_id", "loan_id", "uscc", "event_type", "severity", "priority",
            "ingested_at", "risk_band_before", "risk_band", "probability_of_default",
            "sent_at", "idempotency_key",
        }  # fmt: skip
        assert "amount" not in body.decode()
    assert {x.webhook for x in alerts.list()} == {"ok"}
