"""``fedcredit pki init|issue``: a development certificate authority."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.errors import InvalidArgument


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pki", help="development CA and party certificates")
    psub = p.add_subparsers(dest="pki_cmd", required=True)
    init = psub.add_parser("init", help="create a CA and certificates for every party")
    init.add_argument("--dir", type=Path, required=True)
    init.add_argument("--banks", required=True, help="comma-separated bank names")
    init.add_argument("--platform", default="platform")
    init.add_argument("--regulator", default="regulator")
    init.add_argument("--officers", default="", help="comma-separated OFFICER@BANK credit officers")
    init.add_argument(
        "--approvers", default="", help="comma-separated NAME@BANK model approvers (head of risk)"
    )
    init.add_argument(
        "--recommenders",
        default="",
        help="comma-separated white-list recommenders (districts, departments)",
    )
    init.set_defaults(func=run_init)
    iss = psub.add_parser("issue", help="issue one more certificate from an existing CA")
    iss.add_argument("--dir", type=Path, required=True)
    iss.add_argument("--name", required=True)
    iss.add_argument(
        "--role",
        required=True,
        choices=["platform", "bank", "regulator", "officer", "approver", "recommender"],
    )
    iss.add_argument("--org", default="", help="for officers and approvers: the bank they work for")
    iss.set_defaults(func=run_issue)
    rev = psub.add_parser("revoke", help="revoke a certificate (adds it to DIR/crl.pem)")
    rev.add_argument("--dir", type=Path, required=True)
    rev.add_argument("--name", required=True, help="the party whose certificate is revoked")
    rev.set_defaults(func=run_revoke)


def _officers(spec: str) -> list[tuple[str, str]]:
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, bank = item.partition("@")
        if not sep or not name or not bank:
            raise InvalidArgument("officers and approvers are given as NAME@BANK")
        out.append((name, bank))
    return out


def run_init(args: argparse.Namespace) -> int:
    from proto.transport.pki import init_pki

    banks = [b.strip() for b in args.banks.split(",") if b.strip()]
    files = init_pki(
        args.dir,
        banks,
        platform=args.platform,
        regulator=args.regulator,
        officers=_officers(args.officers),
        approvers=_officers(args.approvers),
        recommenders=[r.strip() for r in args.recommenders.split(",") if r.strip()],
    )
    from proto.transport.pki import DEV_CA_WARNING, ca_key_dir

    print(DEV_CA_WARNING, file=sys.stderr)
    print(f"CA: {args.dir / 'ca.pem'} (its key, apart: {ca_key_dir(args.dir) / 'ca.key'})")
    for f in files:
        print(f"{f.role:9s} {f.name:16s} {f.cert}")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    from proto.transport.pki import issue

    f = issue(args.dir, args.name, args.role, organisation=args.org)
    print(f"{f.role} {f.name} {f.cert}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from proto.transport.pki import revoke

    path = revoke(args.dir, args.dir / args.name / "cert.pem")
    print(f"revoked {args.name}: {path} (servers re-read it on their next call)")
    return 0
