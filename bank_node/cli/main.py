"""``fedcredit``: one command for data scientists, operators, officers and regulators.

Subcommands are added by small modules, each with ``add_parser(subparsers)``; a module whose
feature is not installed is skipped.
"""

from __future__ import annotations

import argparse
import sys

from models.errors import FedCreditError
from models.optional_modules import import_optional

COMMAND_MODULES = (
    "bank_node.cli.pki_cmd",
    "platform_node.cli",
    "bank_node.cli.bank_cmd",
    "bank_node.cli.data_cmd",
    "bank_node.cli.train_cmd",
    "bank_node.cli.model_cmd",
    "bank_node.cli.consent_cmd",
    "bank_node.cli.company_cmd",
    "bank_node.cli.audit_cmd",
    "bank_node.cli.score_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedcredit",
        description="Privacy-preserving joint credit modelling between a city's public "
        "credit platform and its partner banks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = import_optional(name)
        if module is not None:
            module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except FedCreditError as err:
        print(f"fedcredit: {err.kind.value}: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
