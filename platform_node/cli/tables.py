"""``fedcredit platform tables list|add|check|retire``: served tables while the node runs.

Usage (on the platform node, with its config; the running server follows the changes)::

    fedcredit platform tables list   --config platform.toml [--all] [--json]
    fedcredit platform tables check  --config platform.toml --path FILE [--id-column id]
    fedcredit platform tables add    --config platform.toml --name NAME --path FILE \\
                                     [--id-column id] [--categorical C ...] [--exclude C ...]
    fedcredit platform tables retire --config platform.toml --name NAME

``check`` validates a file without registering it; its report (columns, counts) is for the
operator and stays on the platform. ``add`` registers a new version (audited with its
digests); ``retire`` stops serving a name.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_node.tables import ServedTableRegistry, TableCheck


def add_parser(psub: argparse._SubParsersAction) -> None:
    p = psub.add_parser("tables", help="served tables: list, check, add, retire (no restart)")
    tsub = p.add_subparsers(dest="tables_cmd", required=True)

    ls = tsub.add_parser("list", help="served tables and their versions")
    _config(ls)
    ls.add_argument("--all", action="store_true", help="every version, not only active ones")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    check = tsub.add_parser("check", help="validate a file without serving it")
    _config(check)
    _file_options(check)
    check.set_defaults(func=run_check)

    add = tsub.add_parser("add", help="validate a file and serve it as NAME's new version")
    _config(add)
    add.add_argument("--name", required=True)
    _file_options(add)
    add.set_defaults(func=run_add)

    retire = tsub.add_parser("retire", help="stop serving NAME (its versions stay for lineage)")
    _config(retire)
    retire.add_argument("--name", required=True)
    retire.set_defaults(func=run_retire)


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the platform's platform.toml")


def _file_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", type=Path, required=True, help="CSV or Parquet file")
    p.add_argument("--id-column", default="id", help="column of company ids (default: id)")
    p.add_argument("--categorical", nargs="*", default=[], help="numeric columns to encode")
    p.add_argument("--exclude", nargs="*", default=[], help="columns never served")
    p.add_argument(
        "--id-format", choices=("auto", "uscc", "any"), default="auto",
        help="validate ids as USCCs (auto: when most of them are)",
    )  # fmt: skip
    p.add_argument(
        "--max-missing", type=float, default=0.95,
        help="refuse columns missing in more than this share of rows (default 0.95)",
    )  # fmt: skip


def _registry(config_path: Path) -> ServedTableRegistry:
    from models.audit import Actor
    from platform_node.config import PlatformConfig
    from platform_node.tables import ServedTableRegistry
    from proto.transport.local_identity import operator_identity
    from proto.transport.node_audit import open_node_audit_log

    config = PlatformConfig.load(config_path, plaintext=True)
    audit = open_node_audit_log(config.data_dir, config.party, "platform")
    tls = PlatformConfig.load(config_path).tls
    actor = Actor.of(operator_identity(config.party, tls.cert if tls is not None else None))
    return ServedTableRegistry(config.data_dir, audit, actor)


def run_list(args: argparse.Namespace) -> int:
    registry = _registry(args.config)
    versions = registry.versions()
    if not args.all:
        versions = [v for v in versions if v.status == "active"]
    if args.json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return 0
    if not versions:
        print("no served tables")
        return 0
    print(f"{'name':<20} {'ver':>3} {'status':<10} {'rows':>9} {'feat':>4}  table digest")
    for v in versions:
        print(
            f"{v.name:<20} {v.version:>3} {v.status:<10} {v.n_rows:>9} {v.n_features:>4}  "
            f"{v.table_digest[:16]}"
        )
    return 0


def _report(report: TableCheck) -> None:
    print(json.dumps(report.to_dict(), indent=2))


def run_check(args: argparse.Namespace) -> int:
    from models.errors import NotFound
    from platform_node.data_provider import ServedTable
    from platform_node.tables import check_table

    if not args.path.is_file():
        raise NotFound(f"no such file: {args.path}")
    spec = ServedTable(args.path, args.id_column, tuple(args.exclude), tuple(args.categorical))
    report = check_table(spec, id_format=args.id_format, max_missing_ratio=args.max_missing)
    _report(report)
    return 0 if report.ok else 2


def run_add(args: argparse.Namespace) -> int:
    registry = _registry(args.config)
    version, report = registry.add(
        args.name,
        args.path,
        id_column=args.id_column,
        exclude_columns=tuple(args.exclude),
        categorical_columns=tuple(args.categorical),
        id_format=args.id_format,
        max_missing_ratio=args.max_missing,
    )
    print(
        f"served table {version.name!r} version {version.version}: {version.n_rows} rows, "
        f"{version.n_features} features, ids as {report.id_format}, largest missing share "
        f"{report.to_dict()['max_missing_ratio']:.1%}, table digest {version.table_digest[:16]}"
    )
    return 0


def run_retire(args: argparse.Namespace) -> int:
    registry = _registry(args.config)
    version = registry.retire(args.name)
    print(f"served table {version.name!r} retired (was version {version.version})")
    return 0
