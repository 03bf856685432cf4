"""``fedcredit``: one command for data scientists, operators, officers and regulators.

Subcommands are added by small modules, each with ``add_parser(subparsers)``; a module whose
feature is not installed is skipped. Only the module of the command being run is imported:
``fedcredit --help`` lists the commands from :data:`COMMANDS` without importing any of them,
so it and light commands start fast (measured in ``tests/test_cli_startup.py``).

Exit codes
----------
====  ==========================================================================
0     success
1     internal error (a bug, corrupt state: ``internal``, ``data_loss``)
2     usage: bad arguments or input (``invalid_argument``, ``not_found``,
      ``already_exists``, a missing file)
3     refused: the caller is not allowed or the state forbids it
      (``permission_denied``, ``unauthenticated``, ``failed_precondition``,
      ``resource_exhausted``)
4     unavailable: a node could not be reached or did not answer in time
      (``unavailable``, ``deadline_exceeded``, ``cancelled``)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import os
import sys

from models.errors import ErrorKind, FedCreditError
from models.optional_modules import import_optional

#: command -> (module that adds it, one-line help shown by ``fedcredit --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "pki": ("bank_node.cli.pki_cmd", "development CA and party certificates"),
    "platform": ("platform_node.cli", "the city's credit platform node (passive party)"),
    "bank": ("bank_node.cli.bank_cmd", "the bank node (active party)"),
    "data": ("experiments.synthetic_city.cli", "data sets: the synthetic city"),
    "train": ("bank_node.cli.train_cmd", "run a joint training job (PSI, train, register)"),
    "model": (
        "bank_node.cli.model_cmd",
        "registered models: list versions, promote with approval",
    ),
    "consent": ("platform_node.cli.consent", "companies' consents to banks (platform operator)"),
    "company": ("platform_node.cli.company", "a company's own view of its data on the platform"),
    "audit": (
        "bank_node.cli.audit_cmd",
        "verify audit logs and read model lineage (also remotely)",
    ),
    "score": ("bank_node.cli.score_cmd", "score a company (credit officers)"),
    "console": ("bank_node.cli.console_cmd", "web console accounts of a node"),
    "completion": ("bank_node.cli.completion_cmd", "print a shell completion script"),
    "whitelist": ("bank_node.cli.whitelist_cmd", "the financing white list (banks, recommenders)"),
    "monitor": ("bank_node.cli.monitor_cmd", "model monitoring: score and feature stability"),
    "alerts": ("bank_node.cli.alerts_cmd", "post-loan early warning: watch loans, list, ack"),
}
COMMAND_MODULES = tuple(module for module, _ in COMMANDS.values())

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_REFUSED, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID_ARGUMENT: EXIT_USAGE,
    ErrorKind.NOT_FOUND: EXIT_USAGE,
    ErrorKind.ALREADY_EXISTS: EXIT_USAGE,
    ErrorKind.PERMISSION_DENIED: EXIT_REFUSED,
    ErrorKind.UNAUTHENTICATED: EXIT_REFUSED,
    ErrorKind.FAILED_PRECONDITION: EXIT_REFUSED,
    ErrorKind.RESOURCE_EXHAUSTED: EXIT_REFUSED,
    ErrorKind.UNAVAILABLE: EXIT_UNAVAILABLE,
    ErrorKind.DEADLINE_EXCEEDED: EXIT_UNAVAILABLE,
    ErrorKind.CANCELLED: EXIT_UNAVAILABLE,
    ErrorKind.DATA_LOSS: EXIT_INTERNAL,
    ErrorKind.INTERNAL: EXIT_INTERNAL,
}


def package_version() -> str:
    from bank_node import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        print(f"fedcredit {package_version()}")
        parser.exit()


def _command_in(argv: list[str]) -> str | None:
    """The subcommand ``argv`` runs (the first word not starting with '-')."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command it names is imported and fully built
    (``None``: every command, e.g. for documentation)."""
    parser = argparse.ArgumentParser(
        prog="fedcredit",
        description="Privacy-preserving joint credit modelling between a city's public "
        "credit platform and its partner banks.",
        epilog="exit codes: 0 ok, 1 internal error, 2 usage or bad input, 3 refused, "
        "4 a node is unavailable",
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="print the version and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _command_in(argv) if argv is not None else None
    for name, (module_name, help_text) in COMMANDS.items():
        if argv is not None and name != wanted:
            sub.add_parser(name, help=help_text)  # listed only; not imported
            continue
        module = import_optional(module_name)
        if module is not None:
            module.add_parser(sub)
    return parser


def exit_code(err: FedCreditError) -> int:
    return EXIT_CODES.get(err.kind, EXIT_INTERNAL)


def _grpc_error(err: Exception) -> FedCreditError | None:
    """A gRPC error that escaped a command, as the domain error of its status."""
    code = getattr(err, "code", None)
    if not callable(code) or type(err).__module__.split(".")[0] != "grpc":
        return None
    from proto.transport.status import error_from_rpc

    return error_from_rpc(err)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except FedCreditError as err:
        print(f"fedcredit: {err.kind.value}: {err.message}", file=sys.stderr)
        return exit_code(err)
    except KeyboardInterrupt:
        return 130
    except OSError as err:  # a file named on the command line (or in a config) is unusable
        what = err.strerror or type(err).__name__
        where = f": {err.filename}" if err.filename else ""
        print(f"fedcredit: invalid_argument: {what}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:
        mapped = _grpc_error(err)
        if mapped is not None:
            print(f"fedcredit: {mapped.kind.value}: {mapped.message}", file=sys.stderr)
            return exit_code(mapped)
        if os.environ.get("FEDCREDIT_DEBUG"):
            raise
        print(
            f"fedcredit: internal: unexpected {type(err).__name__} "
            "(set FEDCREDIT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    raise SystemExit(main())
