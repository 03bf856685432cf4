"""Build and serve the platform's console (``[platform.console]`` in ``platform.toml``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from models.audit.log import AuditLog
from platform_node.consent.registry import ConsentRegistry
from platform_node.console.services import PlatformServices, ServedTableInfo
from platform_node.objections import ObjectionStore
from proto.transport.tls import TlsFiles
from proto.transport.web.accounts import AccountStore
from proto.transport.web.app import ConsoleContext, create_console_app
from proto.transport.web.config import ConsoleConfig
from proto.transport.web.serve import ConsoleServer
from proto.transport.web.sessions import SessionStore

TEMPLATES = Path(__file__).with_name("templates")
HOMES = {
    "company": "/company",
    "operator": "/operator/objections",
    "regulator": "/regulator/verify",
}
NAV = {
    "company": [
        ("nav.company.records", "/company"),
        ("nav.company.consents", "/company/consents"),
        ("nav.company.uses", "/company/uses"),
        ("nav.company.objections", "/company/objections"),
    ],
    "operator": [
        ("nav.operator.tables", "/operator"),
        ("nav.operator.consents", "/operator/consents"),
        ("nav.operator.objections", "/operator/objections"),
        ("nav.operator.verify", "/operator/verify"),
    ],
    "regulator": [("nav.regulator.verify", "/regulator/verify")],
}


def build_platform_console(
    *,
    party: str,
    data_dir: Path,
    audit: AuditLog,
    consent: ConsentRegistry,
    known_parties: dict[str, str],
    served: dict[str, tuple[str, str]] | None = None,
    accounts: AccountStore | None = None,
    console_config: ConsoleConfig | None = None,
    secure_cookie: bool = True,
) -> tuple[FastAPI, ConsoleContext]:
    """The platform's console app over the platform's own registry, store and log.

    ``served``: ``{table name: (path, id column)}`` of the configured served tables.
    """
    from platform_node.console import company, operator

    cc = console_config or ConsoleConfig()
    services = PlatformServices(
        party=party,
        data_dir=Path(data_dir),
        audit=audit,
        consent=consent,
        objections=ObjectionStore(data_dir, audit),
        banks=sorted(p for p, role in known_parties.items() if role == "bank"),
        served=[ServedTableInfo(n, str(p), c) for n, (p, c) in (served or {}).items()],
    )
    ctx = ConsoleContext(
        node="platform",
        party=party,
        accounts=accounts
        or AccountStore.in_data_dir(data_dir, max_failures=cc.max_failures, lockout_s=cc.lockout_s),
        audit=audit,
        template_dir=TEMPLATES,
        homes=HOMES,
        nav=NAV,
        sessions=SessionStore(idle_s=cc.session_idle_s),
        secure_cookie=secure_cookie,
        services={"platform": services},
    )
    return create_console_app(ctx, [company.router, operator.router]), ctx


def serve_console(app: FastAPI, listen: str, tls: TlsFiles | None, name: str) -> ConsoleServer:
    return ConsoleServer(
        app, listen, certfile=tls.cert if tls else None, keyfile=tls.key if tls else None, name=name
    ).start()


def start_platform_console(
    config: object, audit: AuditLog, consent: ConsentRegistry
) -> ConsoleServer:
    """Serve the console of a running platform node (``[platform.console]``), sharing the
    node's audit log and consent registry."""
    from platform_node.config import PlatformConfig

    assert isinstance(config, PlatformConfig)
    app, _ = build_platform_console(
        party=config.party,
        data_dir=config.data_dir,
        audit=audit,
        consent=consent,
        known_parties=config.known_parties,
        served={n: (str(t.path), t.id_column) for n, t in config.tables.items()},
        console_config=config.console,
        secure_cookie=config.tls is not None,
    )
    return serve_console(app, config.console.listen, config.tls, "platform-console")
