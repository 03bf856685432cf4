"""Demo accounts for both consoles (``make demo``; the console tests use the same function).

Call it on the nodes' data directories before (or while) the nodes serve; each node's console
reads its accounts from ``<data_dir>/console/accounts.db``::

    from bank_node.console.demo import create_demo_accounts
    accounts = create_demo_accounts(bank_data_dir, platform_data_dir, bank_party="bank-a",
                                    companies=[uscc_1, uscc_2])
    for a in accounts:
        print(a.node, a.role, a.username, a.password)

and enable the consoles in the configs (``[bank.console] enabled = true``, ``listen = ...``;
``[platform.console]`` likewise); ``fedcredit bank serve`` / ``fedcredit platform serve`` then
print their URLs. Demo passwords are fixed and printed: for a demo only.
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
