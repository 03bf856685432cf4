"""``fedcredit model promote|list|reconcile``: the bank's registered models and approvals.

Usage::

    fedcredit model list NAME --config bank.toml [--json]
    fedcredit model promote NAME VERSION --alias champion|challenger \\
        --cert-dir PKI/head-of-risk --config bank.toml
    fedcredit model reconcile --config bank.toml

``promote`` needs the approver's certificate directory (``cert.pem`` + ``key.pem``, role
``approver``, issued to this bank by its CA): the approver is the certificate's identity, never
a name typed on the command line. The promotion is audited (``model_promoted``, actor = the
approver, with the OS account that ran the command), given to the version in MLflow and
recorded in the scoring store, which then serves it (see :mod:`bank_node.governance`).
``list`` and ``reconcile`` compare MLflow's aliases with the audited approvals and refuse
(put back, audit) any alias changed outside fedcredit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="registered models: list versions, promote with approval")
    msub = p.add_subparsers(dest="model_cmd", required=True)

    pr = msub.add_parser("promote", help="give a version the champion or challenger alias")
    pr.add_argument("name")
    pr.add_argument("version")
    pr.add_argument("--alias", required=True, choices=["champion", "challenger"])
    pr.add_argument(
        "--cert-dir",
        type=Path,
        required=True,
        help="the approver's certificate directory (cert.pem, key.pem; role approver)",
    )
    pr.add_argument("--config", type=Path, required=True, help="the bank's bank.toml")
    pr.set_defaults(func=run_promote)

    rc = msub.add_parser(
        "reconcile", help="refuse alias changes made in MLflow without an approval (audited)"
    )
    rc.add_argument("--config", type=Path, required=True)
    rc.set_defaults(func=run_reconcile)

    ls = msub.add_parser("list", help="versions of a registered model")
    ls.add_argument("name")
    ls.add_argument("--config", type=Path, required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)


def run_promote(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.governance import approver_identity, promote_version
    from proto.transport.local_identity import os_account

    config = BankConfig.load(args.config)
    approver = approver_identity(config, args.cert_dir)
    approval, served = promote_version(
        config,
        args.name,
        args.version,
        args.alias,
        approver,
        details={"os_account": os_account()},
    )
    replaced = (
        f"; replaces version {approval.previous_version}" if approval.previous_version else ""
    )
    print(
        f"{approval.name} version {approval.version} is now {approval.alias} "
        f"(approved by {approval.approver} at {approval.approved_at}{replaced})"
    )
    if served:
        print(f"scoring now serves {args.name}@{args.alias} with version {approval.version}")
    return 0


def _reconciled(config: Any, names: tuple[str, ...] = ()) -> list[Any]:
    """Run the reconciliation; print and return the refused alias changes."""
    import sys

    from bank_node.audit_service import bank_audit_log
    from bank_node.governance import reconcile
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.scoring.model_store import ModelStore

    audit = bank_audit_log(config)
    tracking = bank_tracking(config, audit)
    store = ModelStore(config.data_dir)
    drifts = reconcile(tracking, store, audit, actor=tracking.actor, names=names)
    for d in drifts:
        print(
            f"refused: {d.name}@{d.alias} was set to version {d.mlflow_version or 'none'} "
            f"outside fedcredit without an approval; {d.action} "
            f"(approved version: {d.approved_version or 'none'})",
            file=sys.stderr,
        )
    return drifts


def run_reconcile(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig

    drifts = _reconciled(BankConfig.load(args.config))
    print(f"{len(drifts)} alias changes refused" if drifts else "MLflow aliases match approvals")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.tracking.registry import (
        TAG_APPROVED_AT,
        TAG_APPROVED_BY,
        TAG_JOB_ID,
        parse_model_spec,
    )

    name, version = parse_model_spec(args.name)
    if version is not None:
        raise InvalidArgument("model list takes a model name without a version")
    config = BankConfig.load(args.config)
    _reconciled(config, (name,))
    tracking = bank_tracking(config)
    versions = tracking.client.search_model_versions(f"name = '{name}'")
    aliases: dict[str, list[str]] = {}
    if versions:  # search results carry no aliases; the registered model does
        registered = tracking.client.get_registered_model(name)
        for alias, number in sorted(dict(registered.aliases or {}).items()):
            aliases.setdefault(str(number), []).append(alias)
    rows: list[dict[str, Any]] = []
    for mv in sorted(versions, key=lambda v: int(v.version)):
        tags = dict(mv.tags or {})
        rows.append(
            {
                "version": str(mv.version),
                "aliases": aliases.get(str(mv.version), []),
                "model_id": tags.get("fedcredit.model_id", ""),
                "job_id": tags.get(TAG_JOB_ID, ""),
                "algorithm": tags.get("fedcredit.algorithm", ""),
                "run_id": mv.run_id or "",
                "approved_by": tags.get(TAG_APPROVED_BY, ""),
                "approved_at": tags.get(TAG_APPROVED_AT, ""),
            }
        )
    if args.json:
        print(json.dumps({"name": args.name, "versions": rows}, indent=2, sort_keys=True))
        return 0
    if not rows:
        print(f"{args.name}: no versions")
        return 0
    print(f"{args.name}:")
    for r in rows:
        tagged = f" [{', '.join(r['aliases'])}]" if r["aliases"] else ""
        approved = (
            f", approved by {r['approved_by']} at {r['approved_at']}" if r["approved_by"] else ""
        )
        print(
            f"  version {r['version']}{tagged}: {r['algorithm']} model {r['model_id']} "
            f"(job {r['job_id']}, run {r['run_id']}{approved})"
        )
    return 0
