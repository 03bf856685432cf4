"""``fedcredit platform ...``: run the platform node and manage its served tables.

The platform operator's commands live in this package: ``platform serve`` and ``platform tables``
here, ``consent`` (:mod:`.consent`) and ``company report`` (:mod:`.company`); ``fedcredit``
(``bank_node.cli.main``) is the one entry point that lists both nodes' commands.
"""

from __future__ import annotations

import argparse

from proto.transport.cli_options import add_serve_options
from proto.transport.logs import setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platform", help="the city's credit platform node (passive party)")
    psub = p.add_subparsers(dest="platform_cmd", required=True)
    serve = psub.add_parser("serve", help="run the platform gRPC server")
    add_serve_options(serve, "platform")
    serve.set_defaults(func=run_serve)
    from platform_node.cli.tables import add_parser as add_tables_parser

    add_tables_parser(psub)


def run_serve(args: argparse.Namespace) -> int:
    from platform_node.config import PlatformConfig
    from platform_node.node import start_platform_node
    from proto.transport.server import wait_for_signal

    config = PlatformConfig.load(args.config, plaintext=args.insecure_plaintext_for_tests)
    setup_logging(config.log_level, node="platform")
    running = start_platform_node(config)
    print(f"platform listening on port {running.port}", flush=True)
    if "console" in running.extras:
        print(f"platform console on {running.extras['console'].url}", flush=True)
    wait_for_signal(running.node, config.grace_s)
    running.stop(0)
    return 0
