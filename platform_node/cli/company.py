"""``fedcredit company report``: a company's view of what the platform holds and who used it."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("company", help="a company's own view of its data on the platform")
    csub = p.add_subparsers(dest="company_cmd", required=True)
    r = csub.add_parser("report", help="records held per category, consents, and every use")
    r.add_argument("--config", type=Path, required=True, help="the platform's platform.toml")
    r.add_argument("--uscc", required=True)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from models.uscc import validate_uscc
    from platform_node.cli.consent import _Platform, _record, _uses
    from platform_node.company_report import holdings, render

    uscc = validate_uscc(args.uscc)
    node = _Platform(args.config)
    try:
        held = holdings(node.config.data_dir, uscc)
        consents = [_record(r) for r in node.registry.list(uscc, None, active_only=False)]
        uses = _uses(node.audit, uscc)
    finally:
        node.close()
    if args.json:
        doc = {
            "uscc": uscc,
            "holdings": [asdict(h) for h in held],
            "consents": consents,
            "uses": uses,
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(render(uscc, held, consents, uses))
    return 0
