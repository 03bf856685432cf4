"""Build and serve the bank's console (``[bank.console]`` in ``bank.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from bank_node.config import BankConfig
from bank_node.console.services import BankServices
from proto.transport.web.accounts import AccountStore
from proto.transport.web.app import ConsoleContext, create_console_app
from proto.transport.web.config import ConsoleConfig
from proto.transport.web.serve import ConsoleServer
from proto.transport.web.sessions import SessionStore

TEMPLATES = Path(__file__).with_name("templates")

HOMES = {"officer": "/officer", "approver": "/risk/registry", "regulator": "/regulator"}
NAV = {
    "officer": [
        ("nav.officer.search", "/officer"),
        ("nav.officer.batch", "/officer/batch"),
        ("nav.officer.alerts", "/officer/alerts"),
        ("nav.officer.whitelist", "/officer/whitelist"),
    ],
    "approver": [
        ("nav.risk.registry", "/risk/registry"),
        ("nav.risk.monitoring", "/risk/monitoring"),
    ],
    "regulator": [
        ("nav.regulator.home", "/regulator"),
        ("nav.regulator.verify", "/regulator/verify"),
        ("nav.risk.monitoring", "/risk/monitoring"),
    ],
}


def build_bank_console(
    config: BankConfig,
    *,
    engine: Any = None,
    accounts: AccountStore | None = None,
    console_config: ConsoleConfig | None = None,
    secure_cookie: bool = True,
) -> tuple[FastAPI, ConsoleContext]:
    """The bank's console app over the bank's own services (see ``services.py``)."""
    from bank_node.console import alerts_view, officer, portfolio, regulator, risk

    cc = console_config or getattr(config, "console", None) or ConsoleConfig()
    services = BankServices.create(config, engine)
    ctx = ConsoleContext(
        node="bank",
        party=config.party,
        accounts=accounts
        or AccountStore.in_data_dir(config.data_dir, max_failures=cc.max_failures,
                                    lockout_s=cc.lockout_s),
        audit=services.audit,
        template_dir=TEMPLATES,
        homes=HOMES,
        nav=NAV,
        sessions=SessionStore(idle_s=cc.session_idle_s),
        secure_cookie=secure_cookie,
        services={"bank": services},
    )  # fmt: skip
    routers = [officer.router, alerts_view.router, portfolio.router, risk.router, regulator.router]
    return create_console_app(ctx, routers), ctx


def start_bank_console(
    config: BankConfig, *, engine: Any = None, listen: str | None = None
) -> ConsoleServer:
    """Serve the console over HTTPS with the bank's certificate (``[bank.console] listen``)."""
    cc = getattr(config, "console", None) or ConsoleConfig()
    tls = config.tls
    app, _ = build_bank_console(
        config, engine=engine, console_config=cc, secure_cookie=tls is not None
    )
    return ConsoleServer(
        app,
        listen or cc.listen,
        certfile=tls.cert if tls else None,
        keyfile=tls.key if tls else None,
        name="bank-console",
    ).start()
