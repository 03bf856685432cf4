"""``fedcredit bank serve|ping``: run the bank node's own server; check the platform answers.

``bank ping --config bank.toml [--dataset catalogue] [--as-of YYYY-MM-DD]`` checks the
platform's health service, then opens a session and asks it to describe the data set (no
rows). A TLS mismatch is reported as a configuration error (exit code 2), an unreachable
platform as unavailable (4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from proto.transport.cli_options import add_serve_options
from proto.transport.logs import setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bank", help="the bank node (active party)")
    bsub = p.add_subparsers(dest="bank_cmd", required=True)
    serve = bsub.add_parser("serve", help="run the bank's gRPC server (scoring, audit)")
    add_serve_options(serve, "bank")
    serve.set_defaults(func=run_serve)
    ping = bsub.add_parser("ping", help="check that the platform answers (health + describe)")
    ping.add_argument("--config", type=Path, required=True)
    ping.add_argument("--dataset", default="catalogue", help="data set to describe")
    ping.add_argument(
        "--as-of",
        default="",
        help="point-in-time date of the catalogue, YYYY-MM-DD (default: today)",
    )
    ping.set_defaults(func=run_ping)


def run_serve(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.server import create_bank_server
    from proto.transport.server import wait_for_signal

    config = BankConfig.load(args.config, plaintext=args.insecure_plaintext_for_tests)
    setup_logging(config.log_level, node="bank")
    running = create_bank_server(config)
    print(f"bank {config.party} listening on port {running.port}", flush=True)
    console = None
    if config.console.enabled:  # the web console (issue 18), served by the node itself
        from bank_node.console.app import start_bank_console

        console = start_bank_console(config)
        print(f"bank {config.party} console on {console.url}", flush=True)
    try:
        wait_for_signal(running, config.grace_s)
    finally:
        if console is not None:
            console.stop()
    return 0


def run_ping(args: argparse.Namespace) -> int:
    import datetime as dt
    import uuid

    from bank_node.config import BankConfig
    from bank_node.federation_client import health_check
    from models.errors import InvalidArgument
    from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec

    as_of = args.as_of or dt.date.today().isoformat()
    try:
        dt.date.fromisoformat(as_of)
    except ValueError:
        raise InvalidArgument("--as-of must be a date YYYY-MM-DD") from None
    config = BankConfig.load(args.config)
    serving = health_check(
        config.platform_target, config.tls, server_name=config.platform_name, timeout_s=5.0
    )
    print(f"platform {config.platform_target}: health {'SERVING' if serving else 'no answer'}")
    peer = config.platform_peer()  # if the health check failed, this names the reason
    try:
        job = f"ping-{uuid.uuid4().hex[:8]}"
        params = {"as_of": as_of} if args.dataset == "catalogue" else {}
        peer.open_session(
            SessionSpec(job_id=job, algorithm="describe", dataset=args.dataset, params=params)
        )
        reply = peer.call("describe/0", DescribeRequest(), DescribeResponse)
        peer.close_session("ping")
    finally:
        peer.close()
    print(
        f"platform {peer.party}: dataset {reply.dataset or args.dataset} rows={reply.n_rows} "
        f"features={reply.n_features} digest={reply.digest[:16]}"
    )
    return 0
