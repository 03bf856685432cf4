"""Demo accounts for both consoles (``make demo``; the console tests use the same function).

Call it on the nodes' data directories before (or while) the nodes serve; each node's console
reads its accounts from ``<data_dir>/console/accounts.db``::

    from bank_node.console.demo import create_demo_accounts
    accounts = create_demo_accounts(bank_data_dir, platform_data_dir, bank_party="bank-a",
                                    companies=[uscc_1, uscc_2])
    for a in accounts:
        print(a.node, a.role, a.username, a.password)

and enable the consoles in the configs (append ``console_toml("bank", "127.0.0.1:8443")`` to
``bank.toml`` and ``console_toml("platform", "127.0.0.1:8444")`` to ``platform.toml``);
``fedcredit bank serve`` / ``fedcredit platform serve`` then serve them and print their URLs
(``bank bank-a console on https://...``); ``describe(accounts, {"bank": url, "platform":
url})`` gives the lines to print at the end of the demo. Demo passwords are fixed and printed:
for a demo only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.errors import AlreadyExists
from proto.transport.web.accounts import AccountStore

DEMO_PASSWORD = "Demo-2025-fedcredit"


@dataclass(frozen=True)
class DemoAccount:
    node: str  # "bank" | "platform"
    role: str
    username: str
    password: str
    subject: str = ""


def create_demo_accounts(
    bank_data_dir: Path | None,
    platform_data_dir: Path | None,
    *,
    bank_party: str = "bank-a",
    companies: Sequence[str] = (),
    password: str = DEMO_PASSWORD,
) -> list[DemoAccount]:
    """Officer ``alice``, approver ``head-of-risk`` and regulator ``examiner`` on the bank;
    operator ``operator``, regulator ``examiner`` and one account per company (username = its
    USCC) on the platform. Existing accounts are kept."""
    out: list[DemoAccount] = []

    def add(store: AccountStore, node: str, username: str, role: str, party: str,
            subject: str = "") -> None:  # fmt: skip
        with contextlib.suppress(AlreadyExists):  # kept as it is
            store.create(username, password, role, party, subject=subject)
        out.append(DemoAccount(node, role, username, password, subject))

    if bank_data_dir is not None:
        bank = AccountStore.in_data_dir(bank_data_dir)
        add(bank, "bank", "alice", "officer", f"{bank_party}/alice")
        add(bank, "bank", "head-of-risk", "approver", f"{bank_party}/head-of-risk")
        add(bank, "bank", "examiner", "regulator", "regulator/examiner")
        bank.close()
    if platform_data_dir is not None:
        plat = AccountStore.in_data_dir(platform_data_dir)
        add(plat, "platform", "operator", "operator", "platform/operator")
        add(plat, "platform", "examiner", "regulator", "regulator/examiner")
        for code in companies:
            add(plat, "platform", code, "company", f"company/{code}", code)
        plat.close()
    return out


def console_toml(node: str, listen: str) -> str:
    """The table to append to a node's config (``node`` = ``bank`` or ``platform``) so that
    ``fedcredit <node> serve`` serves its console on ``listen``."""
    return f'\n[{node}.console]\nenabled = true\nlisten = "{listen}"\n'


def describe(accounts: Sequence[DemoAccount], urls: dict[str, str]) -> str:
    """Lines for the demo's last screen: each console's URL and its accounts."""
    lines = []
    for node in ("bank", "platform"):
        if node not in urls:
            continue
        lines.append(f"{node} console: {urls[node]}")
        for a in accounts:
            if a.node == node:
                lines.append(f"  {a.role:10s} {a.username:20s} password {a.password}")
    return "\n".join(lines)
