"""``fedcredit console account add|list|unlock|passwd``: the console accounts of a node.

Run on the node's host with its config (``bank.toml`` or ``platform.toml``); the accounts live
in ``<data_dir>/console/accounts.db``. The password is read from the terminal (twice) or, with
``--password-stdin``, from one line of standard input; it never appears on the command line.
Each change is audited in the node's log with the operator (``<node>/<OS account>``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import tomllib
from pathlib import Path
from typing import Any

BANK_ROLES = ("officer", "approver", "regulator")
PLATFORM_ROLES = ("operator", "company", "regulator")
ACCOUNT_CHANGED = "console_account_changed"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("console", help="web console accounts of a node")
    csub = p.add_subparsers(dest="console_cmd", required=True)
    acc = csub.add_parser("account", help="add, list, unlock console accounts")
    asub = acc.add_subparsers(dest="account_cmd", required=True)
    add = asub.add_parser("add", help="add an account")
    add.add_argument("--config", type=Path, required=True, help="bank.toml or platform.toml")
    add.add_argument("--username", required=True)
    add.add_argument("--role", required=True, choices=sorted(set(BANK_ROLES + PLATFORM_ROLES)))
    add.add_argument("--uscc", default="", help="the company's code (role company)")
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=run_add)
    for name, helptext, func in (
        ("unlock", "unlock an account after a lockout", "run_unlock"),
        ("passwd", "set an account's password", "run_passwd"),
    ):
        q = asub.add_parser(name, help=helptext)
        q.add_argument("--config", type=Path, required=True)
        q.add_argument("--username", required=True)
        if name == "passwd":
            q.add_argument("--password-stdin", action="store_true")
        q.set_defaults(func=globals()[func])
    ls = asub.add_parser("list", help="list accounts (no hashes)")
    ls.add_argument("--config", type=Path, required=True)
    ls.set_defaults(func=run_list)


class _Node:
    """The node named by a config file: its party, data dir, audit log and operator."""

    def __init__(self, path: Path) -> None:
        from models.audit import Actor
        from proto.transport.audit_servicer import open_node_audit_log
        from proto.transport.local_identity import operator_identity
        from proto.transport.web.accounts import AccountStore

        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        config: Any
        if "bank" in doc:
            from bank_node.config import BankConfig

            config, self.kind = BankConfig.load(path, plaintext=True), "bank"
        else:
            from platform_node.config import PlatformConfig

            config, self.kind = PlatformConfig.load(path, plaintext=True), "platform"
        self.party: str = config.party
        self.audit = open_node_audit_log(config.data_dir, config.party, self.kind)
        self.actor = Actor.of(operator_identity(config.party))
        self.accounts = AccountStore.in_data_dir(
            config.data_dir,
            max_failures=config.console.max_failures,
            lockout_s=config.console.lockout_s,
        )

    def record(self, action: str, username: str, role: str = "") -> None:
        self.audit.append(
            ACCOUNT_CHANGED, self.actor, {"action": action, "username": username, "role": role}
        )


def _password(from_stdin: bool) -> str:
    from models.errors import InvalidArgument

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidArgument("the passwords differ")
    return first


def run_add(args: argparse.Namespace) -> int:
    from models.errors import InvalidArgument
    from models.uscc import validate_uscc

    node = _Node(args.config)
    roles = BANK_ROLES if node.kind == "bank" else PLATFORM_ROLES
    if args.role not in roles:
        raise InvalidArgument(f"a {node.kind} console has the roles {', '.join(roles)}")
    subject = ""
    if args.role == "company":
        subject = validate_uscc(args.uscc.strip().upper())
        party = f"company/{subject}"
    elif args.role == "regulator":
        party = f"regulator/{args.username}"
    else:
        party = f"{node.party}/{args.username}"
    account = node.accounts.create(
        args.username, _password(args.password_stdin), args.role, party,
        subject=subject, display_name=args.name,
    )  # fmt: skip
    node.record("add", account.username, account.role)
    print(f"added {account.username} ({account.role}, audit actor {account.party})")
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    node = _Node(args.config)
    node.accounts.unlock(args.username)
    node.record("unlock", args.username)
    print(f"unlocked {args.username}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    node = _Node(args.config)
    node.accounts.set_password(args.username, _password(args.password_stdin))
    node.record("passwd", args.username)
    print(f"password of {args.username} set")
    return 0


def run_list(args: argparse.Namespace) -> int:
    node = _Node(args.config)
    for a in node.accounts.list():
        locked = " (locked)" if node.accounts.locked(a.username) else ""
        print(f"{a.username}\t{a.role}\t{a.party}{locked}")
    return 0
