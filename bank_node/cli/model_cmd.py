"""``fedcredit model promote|list``: the bank's registered models and who approved them.

Usage::

    fedcredit model list NAME --config bank.toml [--json]
    fedcredit model promote NAME VERSION --alias champion|challenger --approver WHO \\
        --config bank.toml [--operator NAME]

``promote`` gives the alias to the version in the MLflow registry, stores the approver on the
version (tags) and appends a ``model_promoted`` entry naming the approver, the operator who
ran the command and the version replaced to the bank's audit log. If the scoring service
already serves that model id, its ``NAME@alias`` is moved to it as well.
"""

from __future__ import annotations

import argparse
import getpass
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
    pr.add_argument("--approver", required=True, help="who approved it (recorded)")
    pr.add_argument("--config", type=Path, required=True, help="the bank's bank.toml")
    pr.add_argument("--operator", default="", help="who runs the command (default: login name)")
    pr.set_defaults(func=run_promote)

    ls = msub.add_parser("list", help="versions of a registered model")
    ls.add_argument("name")
    ls.add_argument("--config", type=Path, required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)


def _operator(config: Any, name: str) -> Any:
    """The audit actor of a CLI promotion: ``<bank>/<operator>`` with the node's certificate."""
    from models.audit import Actor
    from proto.transport.tls import cert_fingerprint

    who = name or _login()
    fp = ""
    if config.tls is not None and Path(config.tls.cert).is_file():
        fp = cert_fingerprint(config.tls.cert)
    return Actor(f"{config.party}/{who}", "bank", fp)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def run_promote(args: argparse.Namespace) -> int:
    from bank_node.audit_service import bank_audit_log
    from bank_node.config import BankConfig
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.tracking import promote
    from bank_node.tracking.registry import TAG_MODEL_ID, get_version

    config = BankConfig.load(args.config)
    tracking = bank_tracking(config, bank_audit_log(config))
    approval = promote(
        tracking,
        args.name,
        args.version,
        args.alias,
        args.approver.strip(),
        actor=_operator(config, args.operator),
    )
    replaced = (
        f"; replaces version {approval.previous_version}" if approval.previous_version else ""
    )
    print(
        f"{approval.name} version {approval.version} is now {approval.alias} "
        f"(approved by {approval.approver} at {approval.approved_at}{replaced})"
    )
    model_id = (get_version(tracking, args.name, approval.version).tags or {}).get(TAG_MODEL_ID)
    served = _move_scoring_alias(config, args.name, args.alias, model_id or "")
    if served:
        print(f"scoring now serves {args.name}@{args.alias} with model {model_id}")
    return 0


def _move_scoring_alias(config: Any, name: str, alias: str, model_id: str) -> bool:
    """Point the scoring service's ``NAME@alias`` at ``model_id`` if it serves that model."""
    if not model_id:
        return False
    try:
        from bank_node.scoring.model_store import ModelStore
    except ImportError:  # scoring not installed
        return False
    store = ModelStore(config.data_dir)
    if model_id not in {e.model_id for e in store.entries()}:
        return False
    store.set_alias(name, alias, model_id)
    return True


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
