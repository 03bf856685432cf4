"""``fedcredit bank serve``: run the bank node's own server."""

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
    ping.add_argument("--dataset", default="")
    ping.set_defaults(func=run_ping)


def run_serve(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.server import create_bank_server
    from proto.transport.server import wait_for_signal

    config = BankConfig.load(args.config, plaintext=args.insecure_plaintext_for_tests)
    setup_logging(config.log_level, node="bank")
    running = create_bank_server(config)
    print(f"bank {config.party} listening on port {running.port}", flush=True)
    wait_for_signal(running, config.grace_s)
    return 0


def run_ping(args: argparse.Namespace) -> int:
    import uuid

    from bank_node.config import BankConfig
    from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec

    config = BankConfig.load(args.config)
    peer = config.platform_peer()
    job = f"ping-{uuid.uuid4().hex[:8]}"
    peer.open_session(SessionSpec(job_id=job, algorithm="describe", dataset=args.dataset))
    reply = peer.call("describe/0", DescribeRequest(), DescribeResponse)
    peer.close_session("ping")
    print(
        f"platform {peer.party}: dataset {reply.dataset or '-'} rows={reply.n_rows} "
        f"features={reply.n_features} digest={reply.digest[:16]}"
    )
    return 0
