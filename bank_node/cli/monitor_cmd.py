"""``fedcredit monitor run|show``: stability of a model's scores and of the platform's features.

Usage (on the bank node, with its config)::

    fedcredit monitor run --config bank.toml --model sme-credit[@champion] [--scores scores.csv] \\
        [--week 2026-W48] [--reference-week 2026-W40] [--population borrowers.txt] \\
        [--no-platform] [--dataset catalogue] [--categories tax,judicial] [--bins 10] \\
        [--warning 0.1] [--action 0.25] [--json]
    fedcredit monitor show --config bank.toml --model sme-credit[@VERSION] [--json]

``run`` computes the PSI of the week's scores against the reference week (the bank's own
data: the file, else the risk bands it served with the version, from its audit log), asks
the platform for its features' stability over the monitored population (the companies in
``--population``, else those scored in the week; only those with a
``post_loan_monitoring`` consent count, at least 50), raises warning / action alerts at the
thresholds, logs the values as MLflow metrics of the model version, saves the report and
audits the run (``bank_node/monitoring/runner.py``). ``show`` prints the saved reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="model monitoring: score and feature stability")
    msub = p.add_subparsers(dest="monitor_cmd", required=True)

    r = msub.add_parser("run", help="monitor a model version for one week")
    r.add_argument("--config", type=Path, required=True, help="the bank's bank.toml")
    r.add_argument("--model", required=True, help="NAME[@VERSION|@ALIAS] (default champion)")
    r.add_argument(
        "--scores",
        type=Path,
        default=None,
        help="CSV/Parquet of scores (default: the risk bands served, from the bank's audit log)",
    )
    r.add_argument("--week", default=None, help="ISO week YYYY-Www (default: the latest)")
    r.add_argument("--reference-week", default=None, help="default: the earliest week")
    r.add_argument("--population", type=Path, default=None, help="USCCs monitored (txt/CSV)")
    r.add_argument("--no-platform", action="store_true", help="only the bank's score stability")
    r.add_argument("--dataset", default="catalogue", help="the platform's dataset")
    r.add_argument("--categories", default=None, help="default: the model's categories")
    r.add_argument("--bins", type=int, default=10)
    r.add_argument("--warning", type=float, default=0.1)
    r.add_argument("--action", type=float, default=0.25)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_run)

    s = msub.add_parser("show", help="the saved monitoring reports of a model version")
    s.add_argument("--config", type=Path, required=True, help="the bank's bank.toml")
    s.add_argument("--model", required=True, help="NAME[@VERSION|@ALIAS] (default champion)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_show)


def render(report: Any) -> str:
    """A report as text."""
    lines = [
        f"{report.model_name} v{report.model_version} week {report.week} "
        f"(reference {report.reference_week}): level {report.level}",
        f"  score PSI {report.score_psi:.4f} [{report.score_level}] "
        f"({report.n_reference} -> {report.n_current} scores, by {report.score_basis})",
    ]
    if report.platform:
        lines.append(
            f"  platform features over {report.platform['n_population']} companies "
            f"({report.platform['reference_as_of']} -> {report.platform['current_as_of']}):"
        )
        for f in sorted(report.features, key=lambda f: -f["index"]):
            lines.append(f"    {f['feature']:32s} CSI {f['index']:.4f} [{f['level']}]")
    for a in report.alerts:
        lines.append(f"  ALERT {a.level}: {a.metric} = {a.value:.4f}")
    return "\n".join(lines)


def run_run(args: argparse.Namespace) -> int:
    from bank_node.audit_service import bank_audit_log
    from bank_node.config import BankConfig
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.monitoring.client import MonitoringClient
    from bank_node.monitoring.runner import Thresholds, run_monitoring
    from bank_node.monitoring.scores import read_population, read_scores

    config = BankConfig.load(args.config)
    thresholds = Thresholds(args.warning, args.action)
    records = read_scores(args.scores) if args.scores is not None else None
    population = read_population(args.population) if args.population else None
    tracking = bank_tracking(config, bank_audit_log(config))
    platform = (
        None
        if args.no_platform
        else MonitoringClient(config.platform_target, config.tls, server_name=config.platform_name)
    )
    try:
        report = run_monitoring(
            tracking=tracking,
            model=args.model,
            records=records,
            week=args.week,
            reference_week=args.reference_week,
            platform=platform,
            population=population,
            dataset=args.dataset,
            categories=args.categories,
            n_bins=args.bins,
            thresholds=thresholds,
            data_dir=config.data_dir,
        )
    finally:
        if platform is not None:
            platform.close()
    print(json.dumps(report.to_dict(), indent=2, sort_keys=True) if args.json else render(report))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from bank_node.audit_service import bank_audit_log
    from bank_node.config import BankConfig
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.monitoring.runner import load_reports
    from bank_node.tracking.registry import get_version, parse_model_spec

    config = BankConfig.load(args.config)
    name, version = parse_model_spec(args.model)
    mv = get_version(bank_tracking(config, bank_audit_log(config)), name, version)
    reports = load_reports(config.data_dir, name, str(mv.version))
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2, sort_keys=True))
        return 0
    if not reports:
        print(f"no monitoring reports for {name} v{mv.version}")
    for r in reports:
        print(render(r))
    return 0
