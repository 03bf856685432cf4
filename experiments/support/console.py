"""A small world for the console tests and benchmark: both nodes over mutual TLS, one
SecureBoost job trained through the real job runner (MLflow, registry, audit), catalogue
records for a company, demo accounts, and both consoles served over HTTPS."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pandas as pd
import pytest

from bank_node.config import BankConfig
from bank_node.console.demo import DEMO_PASSWORD, create_demo_accounts
from experiments.support.grpc_harness import KNOWN, shared_pki, start_platform
from experiments.support.scoring import synthetic_tables
from models.audit.log import AuditLog
from platform_node.consent.registry import ConsentRegistry
from platform_node.data_provider import PlatformDataProvider, ServedTable
from proto.transport.audit_servicer import open_node_audit_log
from proto.transport.tls import TlsFiles
from proto.transport.web.config import ConsoleConfig
from proto.transport.web.serve import ConsoleServer

MODEL = "sme-console"
JOB = "console-job-1"
PASSWORD = DEMO_PASSWORD


@contextlib.contextmanager
def cheap_hashes() -> Iterator[None]:
    """argon2 with test parameters (1 pass, 1 MiB): the tests check the rules, not the cost."""
    from argon2 import PasswordHasher

    cheap = functools.partial(PasswordHasher, time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("proto.transport.web.accounts.PasswordHasher", cheap)
        yield


@dataclass
class World:
    root: Path
    pki: Path
    usccs: list[str]
    platform: Any
    platform_audit: AuditLog
    consent: ConsentRegistry
    bank_config: BankConfig
    bank_console: ConsoleServer
    platform_console: ConsoleServer
    bank_app_ctx: Any
    platform_app_ctx: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        self.bank_console.stop()
        self.platform_console.stop()
        self.platform.stop(0.2)
        self.consent.close()


def _catalogue(platform_dir: Path, code: str, other: str) -> None:
    from platform_node.catalogue.store import CatalogueStore

    store = CatalogueStore(platform_dir)
    d = dt.date
    store.ingest(
        "licence",
        pd.DataFrame(
            {
                "uscc": [code, other],
                "event_date": [d(2015, 3, 2), d(2016, 1, 5)],
                "name": ["郑州示例科技有限公司", "另一家公司"],
                "legal_rep_name": ["张三", "李四"],
                "legal_rep_id_number": ["410101199001011234", "410101199001011235"],
                "registration_authority": ["郑州市市场监督管理局", "郑州市市场监督管理局"],
                "status": ["active", "active"],
                "registered_capital": [500.0, 100.0],
            }
        ),
        "amr",
    )
    store.ingest(
        "judgments",
        pd.DataFrame(
            {
                "uscc": [code, code],
                "event_date": [d(2023, 5, 10), d(2024, 2, 1)],
                "case_type": ["commercial", "labour"],
                "role": ["defendant", "defendant"],
                "amount": [35.0, 4.2],
            }
        ),
        "court",
    )
    store.ingest("admin_actions", pd.DataFrame({
        "uscc": [code], "event_date": [d(2024, 8, 20)], "action_type": ["penalty"],
        "fine_amount": [2.0], "authority": ["郑州市生态环境局"]}), "admin")  # fmt: skip


def build_world(root: Path, *, n: int = 240) -> World:
    """Train one job, start the platform (gRPC) and both consoles; nothing is consented."""
    from bank_node.audit_service import bank_audit_log
    from bank_node.console.app import build_bank_console
    from bank_node.jobs.runner import JobRunner
    from bank_node.jobs.spec import JobSpec
    from bank_node.scoring.settings import ScoringSettings
    from platform_node.console.app import build_platform_console

    pki = shared_pki()
    bank_t, plat_t = synthetic_tables(n, seed=7)
    usccs = [str(x) for x in bank_t.ids]
    bank_csv, plat_csv = root / "bank.csv", root / "platform.csv"
    frame = pd.DataFrame(bank_t.X, columns=bank_t.feature_names)
    frame.insert(0, "id", bank_t.ids)
    frame["y"] = bank_t.y.astype(int)
    frame.to_csv(bank_csv, index=False)
    pframe = pd.DataFrame(plat_t.X, columns=plat_t.feature_names)
    pframe.insert(0, "id", plat_t.ids)
    pframe.to_csv(plat_csv, index=False)
    pdir, bdir = root / "platform", root / "bank"
    _catalogue(pdir, usccs[0], usccs[1])
    plog = open_node_audit_log(pdir, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(pdir, plog)
    data = PlatformDataProvider(pdir, {"sme": ServedTable(path=plat_csv, id_column="id")})

    def scoring(server: grpc.Server) -> Any:
        from platform_node.scoring.service import install

        return install(server, data_dir=pdir, data_provider=data, consent_registry=consent,
                       audit_log=plog)  # fmt: skip

    platform = start_platform(root, data, audit_log=plog, extra_services=[scoring])
    bank_toml = root / "bank.toml"
    bank_toml.write_text(
        f'[bank]\nparty = "bank-a"\nlisten = "127.0.0.1:0"\ndata_dir = "{bdir}"\n'
        f'pki_dir = "{pki}"\nplatform_target = "127.0.0.1:{platform.port}"\n'
    )
    config = BankConfig.load(bank_toml)
    ScoringSettings(key_bits=1024).save(bdir)
    spec = JobSpec.from_dict(
        {
            "job": {"name": MODEL, "algorithm": "secureboost", "id": JOB},
            "bank_data": {"source": "table", "path": str(bank_csv)},
            "platform_data": {"dataset": "sme"},
            "split": {"valid_fraction": 0.25, "seed": 3},
            "crypto": {"key_bits": 1024},
            "params": {"n_estimators": 2, "max_depth": 2, "learning_rate": 0.3},
        },
        base=root,
    )
    peer = config.platform_peer()
    JobRunner(spec, config, peer, audit=bank_audit_log(config)).run()
    peer.close()
    create_demo_accounts(bdir, pdir, bank_party="bank-a", companies=usccs[:2])
    cc = ConsoleConfig(enabled=True, listen="127.0.0.1:0", max_failures=3)
    tls = TlsFiles.in_pki_dir(pki, "bank-a")
    bank_app, bank_ctx = build_bank_console(config, console_config=cc)
    bank_console = ConsoleServer(
        bank_app, "127.0.0.1:0", certfile=tls.cert, keyfile=tls.key
    ).start()
    ptls = TlsFiles.in_pki_dir(pki, "platform")
    plat_app, plat_ctx = build_platform_console(
        party="platform", data_dir=pdir, audit=plog, consent=consent, known_parties=dict(KNOWN),
        served={"sme": (str(plat_csv), "id")}, console_config=cc,
    )  # fmt: skip
    plat_console = ConsoleServer(
        plat_app, "127.0.0.1:0", certfile=ptls.cert, keyfile=ptls.key
    ).start()
    return World(root, pki, usccs, platform, plog, consent, config, bank_console, plat_console,
                 bank_ctx, plat_ctx)  # fmt: skip
