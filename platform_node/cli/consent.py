"""``fedcredit consent grant|revoke|list``: the platform's consent registry (operator, local).

Usage (on the platform node, with its config)::

    fedcredit consent grant  --config platform.toml (--uscc CODE | --file CODES.csv) \\
        --bank bank-a --scope scoring --days 365 [--evidence DOC-REF]
    fedcredit consent revoke --config platform.toml --uscc CODE --bank bank-a [--scope S]
    fedcredit consent list   --config platform.toml [--uscc CODE] [--bank bank-a] [--active]

The commands open the consent database and the audit log under the platform's data directory
(the running server uses the same files safely). Every grant and revocation is audited with
the operator as actor: ``<platform>/<OS account that ran the command>`` (from the password
database of the effective user, never a flag), role ``operator``, with the fingerprint of the
platform's certificate. ``list --uscc CODE`` is also the company's own view: who holds its
consent, and every score request that used its data (from the platform's audit log).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument

MAX_DAYS = 3650
#: The registry's scopes (platform_node/consent/registry.py: SCOPES; not imported, to start fast).
SCOPE_CHOICES = ["scoring", "training", "all", "whitelist_listing", "post_loan_monitoring"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("consent", help="companies' consents to banks (platform operator)")
    csub = p.add_subparsers(dest="consent_cmd", required=True)

    g = csub.add_parser("grant", help="record companies' consents to a bank (one or a file)")
    _common(g)
    who = g.add_mutually_exclusive_group(required=True)
    who.add_argument("--uscc", help="the company's unified social credit code")
    who.add_argument(
        "--file",
        type=Path,
        help="many companies: one USCC per line, or a CSV with a 'uscc' column (and an "
        "optional 'evidence' column); every code is checked before any is granted",
    )
    g.add_argument("--bank", required=True, help="the bank's party name")
    g.add_argument("--scope", default="scoring", choices=SCOPE_CHOICES)
    g.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    g.add_argument("--evidence", default="", help="reference of the signed authorisation")
    g.set_defaults(func=run_grant)

    r = csub.add_parser("revoke", help="revoke a company's consents to a bank")
    _common(r)
    r.add_argument("--uscc", required=True)
    r.add_argument("--bank", required=True)
    r.add_argument("--scope", default=None, choices=SCOPE_CHOICES)
    r.set_defaults(func=run_revoke)

    ls = csub.add_parser("list", help="consents (and, for one company, who used its data)")
    _common(ls)
    ls.add_argument("--uscc", default=None)
    ls.add_argument("--bank", default=None)
    ls.add_argument("--active", action="store_true", help="only consents in force")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, required=True, help="the platform's platform.toml")


class _Platform:
    """The platform's consent registry and audit log, opened from its config."""

    def __init__(self, config_path: Path) -> None:
        from models.audit import Actor
        from platform_node.config import PlatformConfig
        from platform_node.consent import ConsentRegistry
        from proto.transport.local_identity import operator_identity
        from proto.transport.node_audit import open_node_audit_log

        self.config = PlatformConfig.load(config_path, plaintext=True)
        self.audit = open_node_audit_log(self.config.data_dir, self.config.party, "platform")
        node_tls = PlatformConfig.load(config_path).tls  # paths only; read if present
        cert = node_tls.cert if node_tls is not None else None
        self.actor = Actor.of(operator_identity(self.config.party, cert))
        self.registry = ConsentRegistry.in_data_dir(
            self.config.data_dir, self.audit, actor=self.actor
        )

    def check_bank(self, bank: str) -> str:
        if self.config.known_parties.get(bank) != "bank":
            raise InvalidArgument("the bank is not a known bank of this platform")
        return bank

    def close(self) -> None:
        self.registry.close()


def _uscc(code: str) -> str:
    from models.uscc import validate_uscc

    return validate_uscc(code.strip().upper())


def _record(rec: Any) -> dict[str, str]:
    return {
        "consent_id": rec.consent_id,
        "uscc": rec.uscc,
        "bank": rec.bank_party,
        "scope": rec.scope,
        "granted_at": rec.granted_at,
        "granted_by": rec.granted_by,
        "expires_at": rec.expires_at,
        "revoked_at": rec.revoked_at,
        "revoked_by": rec.revoked_by,
    }


def read_consent_file(path: Path) -> list[tuple[str, str]]:
    """``[(uscc, evidence)]`` from a file of codes (one per line, or CSV with ``uscc`` and an
    optional ``evidence`` column). Every code is validated first; invalid ones are counted
    and named by line number (never by value), and nothing is granted."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidArgument(f"consent file not found: {path}") from None
    except (OSError, UnicodeDecodeError):
        raise InvalidArgument(f"consent file could not be read as text: {path}") from None
    lines = text.splitlines()
    rows: list[tuple[int, str, str]] = []
    if lines and "uscc" in [c.strip().lower() for c in lines[0].split(",")]:
        reader = csv.DictReader(lines)
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        for number, rec in enumerate(reader, start=2):
            code = (rec.get(fields["uscc"]) or "").strip()
            evidence = (rec.get(fields["evidence"]) or "").strip() if "evidence" in fields else ""
            if code:
                rows.append((number, code, evidence))
    else:
        rows = [(n, line.strip(), "") for n, line in enumerate(lines, start=1) if line.strip()]
    if not rows:
        raise InvalidArgument(f"consent file lists no companies: {path}")
    out: list[tuple[str, str]] = []
    bad: list[int] = []
    for number, code, evidence in rows:
        try:
            out.append((_uscc(code), evidence))
        except InvalidArgument:
            bad.append(number)
    if bad:
        shown = ", ".join(str(n) for n in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise InvalidArgument(
            f"{path}: {len(bad)} of {len(rows)} codes are not valid USCCs (lines {shown}); "
            "nothing was granted"
        )
    return out


def run_grant(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_DAYS:
        raise InvalidArgument(f"--days is between 1 and {MAX_DAYS}")
    one = args.file is None
    items = [(_uscc(args.uscc), "")] if one else read_consent_file(args.file)
    node = _Platform(args.config)
    granted = []
    try:
        bank = node.check_bank(args.bank)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.days)
        for uscc, evidence in items:
            granted.append(
                node.registry.grant(
                    uscc, bank, args.scope, expires, evidence=evidence or args.evidence
                )
            )
    finally:
        node.close()
    for rec in granted[:20]:
        print(
            f"granted {rec.consent_id}: {rec.uscc} -> {rec.bank_party} for {rec.scope} "
            f"until {rec.expires_at} (by {rec.granted_by})"
        )
    if len(granted) > 20:
        print(f"... {len(granted)} consents granted in all")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    uscc = _uscc(args.uscc)
    node = _Platform(args.config)
    try:
        revoked = node.registry.revoke(uscc, node.check_bank(args.bank), args.scope)
    finally:
        node.close()
    for rec in revoked:
        print(f"revoked {rec.consent_id}: {rec.uscc} -> {rec.bank_party} for {rec.scope}")
    return 0


def _uses(audit: Any, uscc: str) -> list[dict[str, Any]]:
    """Every score request in the platform's log that concerned the company."""
    from models.audit import events as ev

    out = []
    for e in audit.query(event=ev.SCORE_REQUEST, uscc=uscc):
        out.append(
            {
                "seq": e.seq,
                "at": e.ts,
                "bank": e.details.get("bank_party") or e.actor.party,
                "caller": e.actor.party,
                "model_id": e.details.get("model_id", ""),
                "consent_id": e.details.get("consent_id", ""),
                "outcome": e.details.get("outcome", ""),
            }
        )
    return out


def run_list(args: argparse.Namespace) -> int:
    uscc = _uscc(args.uscc) if args.uscc else None
    node = _Platform(args.config)
    try:
        records = node.registry.list(uscc, args.bank, active_only=args.active)
        uses = _uses(node.audit, uscc) if uscc else []
    finally:
        node.close()
    if args.json:
        doc: dict[str, Any] = {"consents": [_record(r) for r in records]}
        if uscc:
            doc["uses"] = uses
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    now = dt.datetime.now(dt.UTC)
    print(f"{len(records)} consents")
    for r in records:
        state = (
            f"revoked {r.revoked_at} by {r.revoked_by}"
            if r.revoked_at
            else ("in force" if r.active(now) else "expired")
        )
        print(
            f"  {r.consent_id} {r.uscc} -> {r.bank_party:10s} {r.scope:8s} "
            f"granted {r.granted_at} by {r.granted_by}, expires {r.expires_at}: {state}"
        )
    if uscc:
        print(f"{len(uses)} score requests used this company's data")
        for u in uses:
            print(
                f"  #{u['seq']} {u['at']} {u['bank']} ({u['caller']}) model {u['model_id']} "
                f"consent {u['consent_id'] or '-'}: {u['outcome']}"
            )
    return 0
