"""``fedcredit score``: an officer scores a company (or a file of companies) at its bank.

Usage::

    fedcredit score --config bank.toml --cert-dir PKI/alice --uscc CODE [--application-id ID]
                    [--model NAME[@alias|@VERSION]] [--field NAME=VALUE ...]
                    [--as-of YYYY-MM-DD] [--json]
    fedcredit score batch --config bank.toml --cert-dir PKI/alice --in FILE
                    --out FILE.csv|.parquet [--model NAME[@alias]] [--chunk N] [--no-progress]
    fedcredit score register --config bank.toml --name NAME --part BANK_PART.json
                    [--version V] [--as-of DATE] [--approve champion --cert-dir PKI/head]
                    [--loanbook DIR | --features-table FILE [--id-column id]]
    fedcredit score models --config bank.toml

``score`` and ``score batch`` connect to the bank's own server (``listen`` in the config) over
mutual TLS with the officer's certificate (``--cert-dir``, required: every score request
carries an officer's identity; the bank's own certificate is refused). Without ``--model``
the bank serves its approved ``champion``.
``register`` adds a model part to the bank's served-model registry
(``<data_dir>/scoring/models.json``) unapproved, or approved with an approver's certificate;
``models`` lists it with aliases and approvals (after reconciling MLflow's aliases).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument, Unauthenticated


def _common(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--config", type=Path, required=required, help="the bank's config (bank.toml)")
    p.add_argument(
        "--cert-dir",
        type=Path,
        default=None,
        help="the officer's certificate directory (cert.pem, key.pem; ca.pem in its parent)",
    )
    p.add_argument(
        "--model",
        default="",
        help="NAME, NAME@alias, NAME@VERSION or a model id of an approved version "
        "(default: the champion)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per call")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score a company (credit officers)")
    _common(p, required=False)  # required in run_score; `score batch` has its own
    p.add_argument("--uscc", default="", help="the company's unified social credit code")
    p.add_argument("--application-id", default="", help="a loan application in the bank's records")
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a bank-side field of the application (repeatable)",
    )
    p.add_argument("--as-of", default="", help="scoring date YYYY-MM-DD (default today)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_score)
    ssub = p.add_subparsers(dest="score_cmd")
    b = ssub.add_parser("batch", help="score a file of USCCs into a CSV or Parquet file")
    _common(b, required=True)
    b.add_argument("--in", dest="in_path", type=Path, required=True)
    b.add_argument("--out", dest="out_path", type=Path, required=True)
    b.add_argument("--chunk", type=int, default=50, help="companies per call")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=run_batch)
    r = ssub.add_parser("register", help="serve a model part for scoring (bank operator)")
    r.add_argument("--config", type=Path, required=True)
    r.add_argument("--name", required=True, help="model name officers use")
    r.add_argument("--part", type=Path, required=True, help="the bank's model part (JSON)")
    r.add_argument("--version", default="")
    r.add_argument(
        "--approve",
        choices=["champion", "challenger"],
        default=None,
        help="approve it for this alias at once (needs --cert-dir of an approver)",
    )
    r.add_argument("--cert-dir", type=Path, default=None, help="the approver's certificate dir")
    r.add_argument("--as-of", default="", help="scoring date when a request names none")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--loanbook", type=Path, help="bank data dir with the loan book")
    src.add_argument("--features-table", type=Path, help="CSV/Parquet of bank features")
    r.add_argument("--id-column", default="id", help="id column of --features-table")
    r.set_defaults(func=run_register)
    m = ssub.add_parser("models", help="list the models served for scoring")
    m.add_argument("--config", type=Path, required=True)
    m.set_defaults(func=run_models)


def _client(args: argparse.Namespace) -> Any:
    from bank_node.config import BankConfig
    from bank_node.scoring.client import ScoringClient, connect_target, officer_tls
    from proto.transport.local_identity import certified_person

    config = BankConfig.load(args.config)
    if args.cert_dir is None:
        raise Unauthenticated(
            "scoring needs the officer's identity: give --cert-dir with the officer's "
            "certificate directory (cert.pem, key.pem)"
        )
    if config.tls is None:
        raise InvalidArgument("the bank's config names no pki_dir: scoring needs mutual TLS")
    # checked here so that a wrong directory is a clear message, not a TLS failure
    certified_person(args.cert_dir, config.tls.ca, roles=("officer",), organisation=config.party)
    tls = officer_tls(args.cert_dir, config.tls.ca)
    return ScoringClient(
        connect_target(config.listen), tls, server_name=config.party, timeout_s=args.timeout
    )


def _fields(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidArgument("fields are given as NAME=VALUE")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InvalidArgument("field values must be numbers") from None
    return out


def run_score(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    from bank_node.scoring.client import ScoringClient

    if args.config is None or not args.uscc:
        raise InvalidArgument("give --config and --uscc (or use `fedcredit score batch`)")
    request = ScoringClient.request(
        args.uscc,
        application_id=args.application_id,
        model=args.model,
        fields=_fields(args.field),
        as_of=args.as_of,
    )
    with _client(args) as client:
        reply = client.score(request)
    if args.json:
        doc = MessageToDict(reply, preserving_proto_field_name=True)
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    print(f"probability of default  {reply.probability_of_default:.4f}")
    print(f"score                   {reply.score:.0f}")
    print(f"risk band               {reply.risk_band}")
    version = f" v{reply.model_version}" if reply.model_version else ""
    print(f"model                   {reply.model_name or '-'}{version} ({reply.model_id})")
    print(f"as of                   {reply.as_of}   consent {reply.consent_id}")
    print("reasons (most adverse first):")
    for r in reply.reasons:
        print(f"  {r.rank}. [{r.code}] {r.description}")
    if not reply.reasons:
        print("  (no adverse factor)")
    return 0


def run_register(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.scoring.model_store import ModelStore

    config = BankConfig.load(args.config)
    features: dict[str, str] = {}
    if args.loanbook is not None:
        features = {"kind": "loanbook", "dir": str(args.loanbook.resolve())}
    elif args.features_table is not None:
        features = {
            "kind": "table",
            "path": str(args.features_table.resolve()),
            "id_column": args.id_column,
        }
    if args.approve and args.cert_dir is None:
        raise InvalidArgument("--approve needs the approver's --cert-dir")
    approver = None
    if args.approve:
        from bank_node.governance import approver_identity

        approver = approver_identity(config, args.cert_dir)  # before anything is written
    store = ModelStore(config.data_dir)
    entry = store.register(
        args.name,
        args.part,
        version=args.version,
        features=features,
        as_of=args.as_of,
    )
    if approver is None:
        print(
            f"registered {entry.name}@latest -> {entry.model_id} ({entry.family}); not approved: "
            "it serves once an approver promotes it"
        )
        return 0
    from bank_node.audit_service import bank_audit_log
    from bank_node.governance import approve_served
    from proto.transport.local_identity import os_account

    approve_served(
        store, bank_audit_log(config), entry, args.approve, approver,
        details={"os_account": os_account()},
    )  # fmt: skip
    print(
        f"serving {entry.name}@{args.approve} -> {entry.model_id} ({entry.family}), "
        f"approved by {approver.party}"
    )
    return 0


def run_models(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig
    from bank_node.scoring.model_store import ModelStore

    config = BankConfig.load(args.config)
    store = ModelStore(config.data_dir)
    from bank_node.governance import has_tracking_store

    if has_tracking_store(config):
        from bank_node.cli.model_cmd import _reconciled

        _reconciled(config)
    aliases: dict[str, list[str]] = {}
    for spec, key in sorted(store.aliases().items()):
        aliases.setdefault(key, []).append(spec.partition("@")[2])
    default = store.default()
    print(f"default: {default if default.endswith('@champion') else '(no approved champion)'}")
    for e in store.entries():
        version = f" v{e.version}" if e.version else ""
        tags = ",".join(aliases.get(e.key, [])) or "-"
        approvals = "; ".join(
            f"{alias} approved by {a.get('by', '?')} at {a.get('at', '?')}"
            for alias, a in sorted(e.approvals.items())
        )
        print(
            f"{e.model_id}  {e.name}{version}  {e.family}  aliases={tags}  "
            f"as_of={e.as_of or 'request'}  {approvals or 'NOT APPROVED (does not serve)'}"
        )
    return 0


def run_batch(args: argparse.Namespace) -> int:
    from bank_node.scoring.batch import score_file

    with _client(args) as client:
        summary = score_file(
            client,
            args.in_path,
            args.out_path,
            model=args.model,
            chunk_size=args.chunk,
            progress=not args.no_progress,
        )
    failed = ", ".join(f"{k}: {v}" for k, v in sorted(summary.failed.items())) or "none"
    print(
        f"scored {summary.ok} of {summary.total} companies -> {summary.out_path} "
        f"(failures: {failed})",
        file=sys.stdout,
    )
    return 0
