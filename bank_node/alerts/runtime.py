"""The bank's alert pipeline assembled from its config: store, watcher, processor.

Used by ``fedcredit alerts watch`` and the demo::

    runtime = AlertRuntime.from_config(config).start()
    ...
    runtime.stop()
"""

from __future__ import annotations

from dataclasses import dataclass

from bank_node.alerts.client import AlertClient, AlertWatcher
from bank_node.alerts.processor import AlertProcessor, AlertSettings, ChampionRescorer, Rescore
from bank_node.alerts.store import BankAlertStore
from bank_node.config import BankConfig
from models.audit.entry import Actor
from models.federation.party import Caller


def alert_client(config: BankConfig) -> AlertClient:
    return AlertClient(
        config.platform_target,
        config.tls,
        server_name=config.platform_name,
        test_identity=(config.party, "bank") if config.tls is None else None,
    )


def node_actor(config: BankConfig) -> Actor:
    """The bank node itself (its certificate's fingerprint) as the actor of alert entries."""
    fingerprint = ""
    if config.tls is not None:
        from proto.transport.tls import cert_fingerprint

        fingerprint = cert_fingerprint(config.tls.cert)
    return Actor(config.party, "bank", fingerprint)


@dataclass
class AlertRuntime:
    store: BankAlertStore
    watcher: AlertWatcher
    processor: AlertProcessor

    @classmethod
    def from_config(cls, config: BankConfig, *, rescore: bool | None = None) -> AlertRuntime:
        """Store under the bank's data dir, a watcher on the platform, and a processor that
        audits in the bank's log, re-scores with the champion (unless disabled in
        ``alerts/settings.json`` or by ``rescore=False``) and calls the webhook if set."""
        from bank_node.audit_service import bank_audit_log

        settings = AlertSettings.load(config.data_dir)
        store = BankAlertStore.in_data_dir(config.data_dir)
        audit = bank_audit_log(config)
        actor = node_actor(config)
        rescorer = None
        band_names: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")
        if settings.rescore if rescore is None else rescore:
            from bank_node.scoring.engine import BankScoringEngine

            engine = BankScoringEngine.from_config(config)
            rescorer = ChampionRescorer(
                engine, Caller(config.party, "bank", actor.cert_fingerprint), settings.as_of
            )
            band_names = tuple(engine.settings.risk_bands.names)
        processor = AlertProcessor(
            store, audit, actor, rescorer=rescorer, webhook=settings.webhook(),
            band_names=band_names,
        )  # fmt: skip
        watcher = AlertWatcher(alert_client(config), store, on_stored=lambda _new: processor.wake())
        return cls(store, watcher, processor)

    def baseline(self, uscc: str) -> Rescore:
        """Score a watched company now and keep its band, so that the re-score after its first
        alert can tell a downgrade (audited like every re-score)."""
        from models.errors import FailedPrecondition
        from models.uscc import normalize_uscc

        rescorer = self.processor.rescorer
        if rescorer is None:
            raise FailedPrecondition("re-scoring is disabled in the bank's alert settings")
        code = normalize_uscc(uscc)
        result = rescorer(code)
        self.store.set_band(code, result.band, result.pd)
        return result

    def start(self) -> AlertRuntime:
        self.processor.start()
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()
        self.processor.stop()
        self.watcher.client.close()
