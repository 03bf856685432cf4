"""``fedcredit audit verify|lineage|entries``: check and read the nodes' audit logs.

Usage::

    # an operator, on the node (bank.toml or platform.toml; or any log file with --log)
    fedcredit audit verify --config bank.toml [--log PATH] [--pin FINGERPRINT]
    fedcredit audit lineage NAME[@VERSION|@alias] [--json] --config bank.toml
    fedcredit audit entries --config platform.toml [--event E] [--job-id J] [--model M]
    fedcredit audit rotate-key --config platform.toml [--reason TEXT]

    # the regulator, remotely, with its own certificate (PKI/regulator/{cert,key}.pem)
    fedcredit audit verify --remote HOST:PORT --cert-dir PKI/regulator --server-name platform
    fedcredit audit lineage NAME[@VERSION] --remote BANKHOST:PORT --cert-dir PKI/regulator \\
        --server-name bank-a [--platform HOST:PORT --platform-name platform \\
        --pin-platform FINGERPRINT] [--json]
    fedcredit audit entries --remote HOST:PORT --cert-dir PKI/regulator --server-name bank-a

``verify`` prints OK or names the first modified, deleted or reordered entry and exits 0 or 1.
``rotate-key`` retires the node's audit signing key (see ``models/audit/keychain.py``): the
root key fingerprint that verifiers pin stays valid; the running node picks up the new key on
its next append.
``lineage --platform`` also reads the platform's own entries about the job (as the regulator)
and cross-checks them against the platform trail the bank reported; it exits 1 if they differ,
or if the platform signs with another key than ``--pin-platform``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument


def _remote_args(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("remote access (mutual TLS with your own certificate)")
    g.add_argument("--remote", default="", metavar="HOST:PORT", help=f"read {what} over gRPC")
    g.add_argument("--cert-dir", type=Path, default=None, help="dir with cert.pem and key.pem")
    g.add_argument("--ca", type=Path, default=None, help="CA bundle (default: CERT_DIR/../ca.pem)")
    g.add_argument(
        "--server-name", default="", help="the name the node's certificate carries (e.g. bank-a)"
    )
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per call")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify audit logs and read model lineage (also remotely)")
    asub = p.add_subparsers(dest="audit_cmd", required=True)

    v = asub.add_parser("verify", help="check a node's hash-chained, signed audit log")
    v.add_argument("--config", type=Path, default=None, help="the node's bank.toml/platform.toml")
    v.add_argument("--log", type=Path, default=None, help="an audit.jsonl file to check")
    v.add_argument("--public-key", type=Path, default=None, help="the node's audit key (PEM)")
    v.add_argument("--pin", default="", help="the audit key fingerprint you expect")
    v.add_argument("--json", action="store_true")
    _remote_args(v, "the node's own verdict")
    v.set_defaults(func=run_verify)

    lin = asub.add_parser("lineage", help="the whole story of a registered model version")
    lin.add_argument("model", help="NAME, NAME@VERSION or NAME@alias (default: the champion)")
    lin.add_argument("--config", type=Path, default=None, help="the bank's bank.toml")
    lin.add_argument("--json", action="store_true")
    lin.add_argument(
        "--platform", default="", metavar="HOST:PORT", help="with --remote: cross-check there"
    )
    lin.add_argument("--platform-name", default="platform")
    lin.add_argument(
        "--pin-platform",
        default="",
        metavar="FINGERPRINT",
        help="with --platform: the platform's audit key fingerprint you expect",
    )
    _remote_args(lin, "the bank's lineage")
    lin.set_defaults(func=run_lineage)

    rot = asub.add_parser("rotate-key", help="retire the node's audit signing key for a new one")
    rot.add_argument("--config", type=Path, required=True, help="the node's config")
    rot.add_argument("--reason", default="", help="recorded in the rotation entry")
    rot.set_defaults(func=run_rotate)

    rep = asub.add_parser(
        "repair", help="cut a torn last line (power loss) after verifying everything before it"
    )
    rep.add_argument("--config", type=Path, required=True, help="the node's config")
    rep.set_defaults(func=run_repair)

    ent = asub.add_parser("entries", help="list audit entries (all of them, or filtered)")
    ent.add_argument("--config", type=Path, default=None)
    ent.add_argument("--log", type=Path, default=None)
    ent.add_argument("--event", default="", help="event name, or a prefix ending in '*'")
    ent.add_argument("--job-id", default="")
    ent.add_argument("--model", default="", help="a model id or NAME@VERSION")
    ent.add_argument("--party", default="", help="entries concerning this party")
    ent.add_argument("--json", action="store_true", help="one JSON entry per line")
    _remote_args(ent, "the node's entries")
    ent.set_defaults(func=run_entries)


# -- where things are --------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalNode:
    kind: str  # "bank" or "platform"
    party: str
    data_dir: Path

    @property
    def log_path(self) -> Path:
        return self.data_dir / "audit" / "audit.jsonl"


def local_node(config: Path) -> LocalNode:
    """The node a ``bank.toml`` or ``platform.toml`` describes."""
    try:
        doc = tomllib.loads(Path(config).read_text())
    except FileNotFoundError:
        raise InvalidArgument("config file not found") from None
    except tomllib.TOMLDecodeError:
        raise InvalidArgument("config file is not valid TOML") from None
    if "platform" in doc:
        from platform_node.config import PlatformConfig

        pc = PlatformConfig.load(config, plaintext=True)
        return LocalNode("platform", pc.party, pc.data_dir)
    from bank_node.config import BankConfig

    bc = BankConfig.load(config, plaintext=True)
    return LocalNode("bank", bc.party, bc.data_dir)


def _log_path(args: argparse.Namespace) -> tuple[Path, str]:
    if args.log is not None:
        return Path(args.log), "file"
    if args.config is None:
        raise InvalidArgument("give --config (the node's config), --log or --remote")
    node = local_node(args.config)
    return node.log_path, f"{node.party} ({node.kind})"


def _remote_tls(args: argparse.Namespace) -> Any:
    from bank_node.lineage_fetch import tls_from_cert_dir

    if args.cert_dir is None:
        raise InvalidArgument("--remote needs --cert-dir (your certificate and key)")
    if not args.server_name:
        raise InvalidArgument("--remote needs --server-name (the node's certificate name)")
    return tls_from_cert_dir(args.cert_dir, args.ca)


def _audit_client(args: argparse.Namespace, target: str, server_name: str) -> Any:
    from bank_node.lineage_fetch import AuditClient, connect_target

    return AuditClient(
        connect_target(target),
        _remote_tls(args),
        server_name=server_name,
        timeout_s=args.timeout,
    )


# -- verify ------------------------------------------------------------------------------------
def _entry_at(path: Path, seq: int | None) -> str:
    """What the entry at ``seq`` says it is (as written, possibly tampered with)."""
    from models.audit import read_entries

    if not seq:
        return ""
    for e in read_entries(path):
        if e.seq == seq:
            return f"{e.event} by {e.actor.party} at {e.ts}"
    return ""


def run_verify(args: argparse.Namespace) -> int:
    if args.remote:
        return _verify_remote(args)
    from models.audit import key_fingerprint, load_public_key, public_key_path, verify

    path, label = _log_path(args)
    key_source = args.public_key or public_key_path(path)
    try:
        key = load_public_key(key_source)
    except Exception:
        raise InvalidArgument("the node's audit public key could not be read") from None
    fp = key_fingerprint(key)
    if args.pin and args.pin != fp:
        print(f"FAILED: the audit key of {label} is not the pinned one (it is {fp})")
        return 1
    report = verify(path, key)
    where = _entry_at(path, report.first_bad_seq) if not report.ok else ""
    if args.json:
        doc = {
            "node": label,
            "log": str(path),
            "ok": report.ok,
            "n_entries": report.n_entries,
            "first_bad_seq": report.first_bad_seq,
            "problem": report.problem,
            "detail": report.detail,
            "entry": where,
            "head_seq": report.head_seq,
            "head_hash": report.head_hash,
            "key_fingerprint": fp,
            "current_key_fingerprint": report.current_key_fingerprint,
            "rotations": report.rotations,
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(f"audit log of {label}: {path}")
        print(f"audit key fingerprint: {fp}")
        print(report.summary())
        if where:
            print(f"  entry {report.first_bad_seq} as written: {where}")
        elif report.ok:
            print(f"head hash: {report.head_hash or '-'}")
            if report.rotations:
                print(
                    f"key rotated {report.rotations} time(s); "
                    f"current key: {report.current_key_fingerprint}"
                )
    return 0 if report.ok else 1


def _verify_remote(args: argparse.Namespace) -> int:
    with _audit_client(args, args.remote, args.server_name) as client:
        reply = client.verify()
    # the pin is compared here, by the verifier, not left to the node being checked
    pinned_ok = not args.pin or args.pin == reply.key_fingerprint
    if args.json:
        from dataclasses import asdict

        print(json.dumps({**asdict(reply), "pin_ok": pinned_ok}, indent=2, sort_keys=True))
    else:
        print(f"audit log of {reply.node_party or args.server_name} at {args.remote}")
        print(f"audit key fingerprint: {reply.key_fingerprint}")
        if not pinned_ok:
            print("FAILED: the node's audit key is not the pinned one")
        elif reply.ok:
            print(
                f"OK: {reply.n_entries} entries, chain and signatures intact "
                f"(head {reply.head_seq})"
            )
            print(f"head hash: {reply.head_hash or '-'}")
        else:
            print(f"FAILED: entry {reply.first_bad_seq} {reply.problem}: {reply.detail}")
    return 0 if reply.ok and pinned_ok else 1


# -- rotate-key --------------------------------------------------------------------------------
def run_rotate(args: argparse.Namespace) -> int:
    from models.audit import Actor
    from proto.transport.node_audit import open_node_audit_log

    node = local_node(args.config)
    log = open_node_audit_log(node.data_dir, node.party, node.kind)
    before = log.public_key
    from proto.transport.local_identity import operator_identity

    actor = Actor.of(operator_identity(node.party))  # the OS account that ran the command
    entry = log.rotate(actor, reason=args.reason)
    from models.audit import key_fingerprint

    print(f"audit key of {node.party} ({node.kind}) rotated at entry {entry.seq}")
    print(f"retired key:  {key_fingerprint(before)}")
    print(f"current key:  {log.chain.current_fingerprint}")
    print(f"root key (pin this one): {log.key_fingerprint}")
    log.close()
    return 0


# -- repair ------------------------------------------------------------------------------------
def run_repair(args: argparse.Namespace) -> int:
    from models.audit import events as ev
    from models.audit.repair import repair, repair_details
    from proto.transport.node_audit import open_node_audit_log

    node = local_node(args.config)
    report = repair(node.log_path)  # DataLoss (exit code) when the log does not verify
    if not report.repaired:
        print(f"nothing to repair: {report.n_entries} entries verify (head {report.last_seq})")
        return 0
    log = open_node_audit_log(node.data_dir, node.party, node.kind)
    entry = log.append(ev.AUDIT_REPAIRED, None, repair_details(report))
    log.close()
    print(
        f"repaired: cut {report.torn_bytes} torn bytes after entry {report.last_seq} "
        f"(kept in {report.saved_to}); recorded as entry {entry.seq}"
    )
    return 0


# -- lineage -----------------------------------------------------------------------------------
def run_lineage(args: argparse.Namespace) -> int:
    from bank_node.lineage import render_lineage

    if args.remote:
        from bank_node.lineage_fetch import LineageClient, connect_target

        with LineageClient(
            connect_target(args.remote),
            _remote_tls(args),
            server_name=args.server_name,
            timeout_s=args.timeout,
        ) as client:
            lineage, _bank = client.get(args.model)
        ok = True
        if args.platform:
            from bank_node.lineage_fetch import cross_check, fetch_related

            model_ids = [
                m
                for m in dict.fromkeys(
                    (lineage.model.get("platform_part_model_id"), lineage.model.get("model_id"))
                )
                if m
            ]
            with _audit_client(args, args.platform, args.platform_name) as platform:
                own = fetch_related(
                    platform,
                    str(lineage.job.get("job_id", "")),
                    model_ids,
                    pin=args.pin_platform.strip().lower(),
                )
            lineage.cross_check = cross_check(lineage, own)
            ok = bool(lineage.cross_check["ok"])
        sys.stdout.write(render_lineage(lineage, as_json=args.json))
        return 0 if ok else 1
    if args.config is None:
        raise InvalidArgument("give --config (the bank's config) or --remote")
    from bank_node.config import BankConfig
    from bank_node.lineage_fetch import bank_lineage

    config = BankConfig.load(args.config)
    sys.stdout.write(render_lineage(bank_lineage(config, args.model), as_json=args.json))
    return 0


# -- entries -----------------------------------------------------------------------------------
def run_entries(args: argparse.Namespace) -> int:
    if args.remote:
        with _audit_client(args, args.remote, args.server_name) as client:
            entries = client.list_entries(
                event=args.event, model_id=args.model, job_id=args.job_id, party=args.party
            ).entries
    else:
        from models.audit import query, read_entries

        path, _ = _log_path(args)
        entries = query(
            read_entries(path),
            event=args.event,
            party=args.party,
            model_id=args.model,
            job_id=args.job_id,
        )
    for e in entries:
        if args.json:
            print(e.to_json_line(), end="")
        else:
            details = json.dumps(e.details, sort_keys=True, separators=(",", ":"))
            print(f"{e.seq:6d} {e.ts} {e.event:20s} {e.actor.party:16s} {details}")
    if not args.json:
        print(f"{len(entries)} entries")
    return 0
