"""``fedcredit alerts``: post-loan early warning (docs/alerts.md).

Usage::

    fedcredit alerts watch --config bank.toml [--register loans.csv] [--for SECONDS]
                           [--no-rescore]
    fedcredit alerts list --config bank.toml [--uscc CODE] [--unacked]
                          [--min-priority low|normal|high|urgent]
                          [--webhook pending|ok|dead] [--json]
    fedcredit alerts ack --config bank.toml EVENT_ID --by NAME
    fedcredit alerts loans --config bank.toml            # the bank's watches on the platform
    fedcredit alerts stop --config bank.toml --loan-id ID
    fedcredit alerts ingest --config platform.toml --table TABLE --file FEED.parquet|.csv

``watch`` registers the loans of ``--register`` (CSV with ``loan_id, uscc, start_date,
end_date``; refused per loan without the company's ``post_loan_monitoring`` consent), then
receives alerts from the platform into ``<bank data>/alerts/alerts.db`` until interrupted (or
for ``--for`` seconds), auditing, re-scoring with the champion and forwarding each one.
``ingest`` is the platform operator's: a feed of a catalogue table; risk events are derived
as it is ingested, invalid USCCs are rejected and counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bank_node.alerts.client import LoanWatch
    from bank_node.alerts.store import StoredAlert
    from bank_node.config import BankConfig

PRIORITY_CHOICES = ["low", "normal", "high", "urgent"]
LOAN_COLUMNS = ("loan_id", "uscc", "start_date", "end_date")
WEBHOOK_STATES = ["pending", "ok", "dead"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("alerts", help="post-loan early warning: watch loans, list, acknowledge")
    asub = p.add_subparsers(dest="alerts_cmd", required=True)

    w = asub.add_parser("watch", help="register loans and receive alerts (until Ctrl-C)")
    w.add_argument("--config", type=Path, required=True, help="the bank's config (bank.toml)")
    w.add_argument("--register", type=Path, default=None,
                   help="CSV of loans to watch: loan_id, uscc, start_date, end_date")  # fmt: skip
    w.add_argument("--for", dest="for_s", type=float, default=0.0,
                   help="stop after this many seconds (default: until interrupted)")  # fmt: skip
    w.add_argument("--no-rescore", action="store_true", help="do not re-score on alerts")
    w.set_defaults(func=run_watch)

    ls = asub.add_parser("list", help="alerts stored at the bank")
    ls.add_argument("--config", type=Path, required=True)
    ls.add_argument("--uscc", default=None)
    ls.add_argument("--unacked", action="store_true", help="only alerts not acknowledged")
    ls.add_argument("--min-priority", default=None, choices=PRIORITY_CHOICES)
    ls.add_argument("--webhook", default=None, choices=WEBHOOK_STATES,
                    help="only alerts whose webhook delivery is in this state"
                         " (dead: every attempt failed)")  # fmt: skip
    ls.add_argument("--limit", type=int, default=1000)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    ack = asub.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("--config", type=Path, required=True)
    ack.add_argument("event_id")
    ack.add_argument("--by", required=True, help="who acknowledges (an officer's name)")
    ack.set_defaults(func=run_ack)

    loans = asub.add_parser("loans", help="the bank's watched loans on the platform")
    loans.add_argument("--config", type=Path, required=True)
    loans.set_defaults(func=run_loans)

    stop = asub.add_parser("stop", help="stop watching a loan")
    stop.add_argument("--config", type=Path, required=True)
    stop.add_argument("--loan-id", required=True)
    stop.set_defaults(func=run_stop)

    ing = asub.add_parser("ingest", help="(platform) ingest a feed and derive its risk events")
    ing.add_argument("--config", type=Path, required=True, help="the platform's config")
    ing.add_argument("--table", required=True, help="catalogue table of the feed")
    ing.add_argument("--file", type=Path, required=True, help="Parquet or CSV feed")
    ing.add_argument("--source", default="", help="providing agency or feed name")
    ing.set_defaults(func=run_ingest)


def _bank(args: argparse.Namespace) -> BankConfig:
    from bank_node.config import BankConfig

    return BankConfig.load(args.config)


def read_loans(path: Path) -> list[LoanWatch]:
    """Loans to watch from a CSV (``loan_id, uscc, start_date, end_date``)."""
    import pandas as pd

    from bank_node.alerts.client import LoanWatch
    from models.errors import InvalidArgument

    frame = pd.read_csv(path, dtype=str).fillna("")
    missing = set(LOAN_COLUMNS) - set(frame.columns)
    if missing:
        raise InvalidArgument(f"the loans file lacks the columns {sorted(missing)}")
    cols = [frame[c].astype(str).str.strip().tolist() for c in LOAN_COLUMNS]
    return [LoanWatch(*row) for row in zip(*cols, strict=True)]


def run_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from bank_node.alerts.runtime import AlertRuntime, alert_client
    from proto.transport.logs import setup_logging

    config = _bank(args)
    setup_logging(config.log_level, node="bank")
    if args.register is not None:
        client = alert_client(config)
        try:
            outcomes = client.register(read_loans(args.register))
        finally:
            client.close()
        accepted = sum(o.accepted for o in outcomes)
        print(f"watching {accepted} of {len(outcomes)} loans")
        for o in outcomes:
            if not o.accepted:
                print(f"  refused {o.loan_id}: {o.error_code.lower()}: {o.error_message}")
    runtime = AlertRuntime.from_config(config, rescore=False if args.no_rescore else None)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    runtime.start()
    where = "the stored cursor" if runtime.store.cursor() else "the start of each watch"
    print(f"receiving alerts from {where}", flush=True)
    done.wait(args.for_s if args.for_s > 0 else None)
    runtime.stop()
    print(f"stopped; {runtime.store.count()} alerts stored")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from bank_node.alerts.store import BankAlertStore
    from models.uscc import normalize_uscc

    config = _bank(args)
    store = BankAlertStore.in_data_dir(config.data_dir)
    rows = store.list(
        uscc=normalize_uscc(args.uscc) if args.uscc else None,
        unacked_only=args.unacked,
        min_priority=args.min_priority,
        webhook=args.webhook,
        limit=args.limit,
    )
    if args.json:
        import dataclasses

        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        band = f"{r.band_before or '?'}->{r.band_after}" if r.band_after else r.rescore
        acked = f" acked by {r.acked_by}" if r.acked_at else ""
        print(
            f"{r.event_id} {r.priority:7s} {r.event_type:26s} sev {r.severity} {r.uscc} "
            f"loan {r.loan_id} band {band}{_webhook_text(r)}{acked}"
        )
    print(f"{len(rows)} alerts")
    return 0


def _webhook_text(r: StoredAlert) -> str:
    if not r.webhook:
        return ""
    if r.webhook == "dead":
        return f" webhook DEAD after {r.webhook_attempts} attempts ({r.webhook_error})"
    if r.webhook == "pending" and r.webhook_attempts:
        return (
            f" webhook retrying ({r.webhook_attempts} failed, last {r.webhook_error},"
            f" next {r.webhook_next_at})"
        )
    return f" webhook {r.webhook}"


def run_ack(args: argparse.Namespace) -> int:
    from bank_node.alerts.runtime import node_actor
    from bank_node.alerts.store import BankAlertStore
    from bank_node.audit_service import bank_audit_log

    config = _bank(args)
    n = BankAlertStore.in_data_dir(config.data_dir).ack(args.event_id, args.by)
    bank_audit_log(config).append(
        "alert_acknowledged", node_actor(config), {"event_id": args.event_id, "by": args.by}
    )
    print(f"acknowledged {args.event_id} ({n} loan{'s' if n != 1 else ''})")
    return 0


def run_loans(args: argparse.Namespace) -> int:
    from bank_node.alerts.runtime import alert_client

    client = alert_client(_bank(args))
    try:
        for w in client.list():
            print(f"{w.loan_id} {w.uscc} {w.start_date} .. {w.end_date}")
    finally:
        client.close()
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from bank_node.alerts.runtime import alert_client

    client = alert_client(_bank(args))
    try:
        print(f"stopped {client.stop(args.loan_id)} watch(es)")
    finally:
        client.close()
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    import pandas as pd
    import pyarrow.parquet as pq

    from platform_node.alerts.ingest import AlertIngestor
    from platform_node.config import PlatformConfig
    from proto.transport.node_audit import open_node_audit_log

    config = PlatformConfig.load(args.config)
    open_node_audit_log(config.data_dir, config.party, "platform")  # private data dir
    if args.file.suffix == ".parquet":
        data = pq.read_table(args.file)
    else:
        data = pd.read_csv(args.file, dtype={"uscc": str}, parse_dates=["event_date"])
    report = AlertIngestor(config.data_dir).ingest(args.table, data, source=args.source)
    print(json.dumps(report.to_dict(), sort_keys=True))
    return 0
