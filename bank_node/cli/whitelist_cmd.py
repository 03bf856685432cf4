"""``fedcredit whitelist list|upload``: the financing white list (白名单) on the platform.

Usage::

    # a bank: the listed companies (those that consented to be listed to it), filtered
    fedcredit whitelist list --config bank.toml [--industry C26] [--district 410105] [--json]
    # a district or department (role "recommender"), with its own certificate
    fedcredit whitelist upload --platform HOST:PORT --cert-dir PKI/jinshui --file cands.csv

The candidates file is a CSV with columns ``uscc``, ``reason`` and optionally ``criteria``
(several joined by ``;``). The platform checks every USCC, refuses unknown companies,
deduplicates and records who recommended whom; the command prints its counts. Every query of
the list is audited on the platform. A listed company is scored the usual way (``fedcredit
score``), which needs its scoring consent: listing consent is not scoring consent.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import InvalidArgument, NotFound

DEADLINE_S = 60.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("whitelist", help="the financing white list on the platform")
    wsub = p.add_subparsers(dest="whitelist_cmd", required=True)

    ls = wsub.add_parser("list", help="listed companies (a bank, with its config)")
    ls.add_argument("--config", type=Path, required=True, help="the bank's bank.toml")
    ls.add_argument("--industry", default="", help="GB/T 4754 prefix, e.g. C or C26")
    ls.add_argument("--district", default="", help="six-digit division code, e.g. 410105")
    ls.add_argument("--limit", type=int, default=0, help="at most this many (0 = default)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    up = wsub.add_parser("upload", help="recommend companies (a district or department)")
    up.add_argument("--platform", required=True, metavar="HOST:PORT")
    up.add_argument("--cert-dir", type=Path, required=True, help="dir with cert.pem and key.pem")
    up.add_argument("--ca", type=Path, default=None, help="CA bundle (default: CERT_DIR/../ca.pem)")
    up.add_argument("--server-name", default="platform", help="the platform's certificate name")
    up.add_argument("--file", type=Path, required=True, help="CSV: uscc, reason[, criteria]")
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=run_upload)


@dataclass(frozen=True)
class Candidate:
    uscc: str
    reason: str
    criteria: tuple[str, ...] = ()


def read_candidates(path: Path) -> list[Candidate]:
    """Candidates from a CSV with ``uscc``, ``reason`` and optional ``criteria`` columns."""
    path = Path(path)
    if not path.is_file():
        raise NotFound("the candidates file does not exist")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or [])
        if not {"uscc", "reason"} <= fields:
            raise InvalidArgument("the candidates file needs 'uscc' and 'reason' columns")
        return [
            Candidate(
                uscc=(row.get("uscc") or "").strip(),
                reason=(row.get("reason") or "").strip(),
                criteria=tuple(
                    c.strip() for c in (row.get("criteria") or "").split(";") if c.strip()
                ),
            )
            for row in reader
        ]


class WhitelistClient:
    """The platform's ``WhitelistService`` over mutual TLS (``tls=None``: plaintext tests)."""

    def __init__(self, target: str, tls: Any, *, server_name: str = "platform") -> None:
        from proto.fedcredit.v1 import whitelist_pb2_grpc
        from proto.transport.channel import open_channel

        self.channel = open_channel(target, tls, server_name=server_name)
        self.stub = whitelist_pb2_grpc.WhitelistServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> WhitelistClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any) -> Any:
        import grpc

        from proto.transport.status import raise_from_rpc

        try:
            return method(request, timeout=DEADLINE_S)
        except grpc.RpcError as err:
            raise_from_rpc(err)

    def recommend(self, candidates: list[Candidate], batch_ref: str = "") -> Any:
        """Upload candidates; the platform's ``RecommendResponse`` (counts, refusals)."""
        from proto.fedcredit.v1 import whitelist_pb2

        request = whitelist_pb2.RecommendRequest(
            candidates=[
                whitelist_pb2.WhitelistCandidate(
                    uscc=c.uscc, reason=c.reason, criteria=list(c.criteria)
                )
                for c in candidates
            ],
            batch_ref=batch_ref,
        )
        return self._call(self.stub.Recommend, request)

    def list(self, industry: str = "", district: str = "", limit: int = 0) -> Any:
        """The listed companies matching the filters (``ListWhitelistResponse``)."""
        from proto.fedcredit.v1 import whitelist_pb2

        request = whitelist_pb2.ListWhitelistRequest(
            industry=industry, district=district, limit=limit
        )
        return self._call(self.stub.ListWhitelist, request)


def entry_dict(entry: Any) -> dict[str, Any]:
    return {
        "uscc": entry.uscc,
        "name": entry.name,
        "industry_code": entry.industry_code,
        "district": entry.district,
        "recommendations": [
            {
                "recommender": r.recommender,
                "reason": r.reason,
                "criteria": list(r.criteria),
                "recommended_at": r.recommended_at,
            }
            for r in entry.recommendations
        ],
    }


def run_list(args: argparse.Namespace) -> int:
    from bank_node.config import BankConfig

    config = BankConfig.load(args.config)
    with WhitelistClient(
        config.platform_target, config.tls, server_name=config.platform_name
    ) as client:
        reply = client.list(args.industry, args.district, args.limit)
    entries = [entry_dict(e) for e in reply.entries]
    if args.json:
        doc = {"total": reply.total, "query_id": reply.query_id, "entries": entries}
        print(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True))
        return 0
    print(f"{reply.total} listed companies match (showing {len(entries)}; query {reply.query_id})")
    for e in entries:
        who = ", ".join(r["recommender"] for r in e["recommendations"])
        print(f"{e['uscc']}  {e['industry_code']:5s} {e['district']}  {e['name']}  [{who}]")
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from bank_node.lineage_fetch import tls_from_cert_dir

    candidates = read_candidates(args.file)
    tls = tls_from_cert_dir(args.cert_dir, args.ca)
    with WhitelistClient(args.platform, tls, server_name=args.server_name) as client:
        reply = client.recommend(candidates, batch_ref=args.file.name)
    counts = {
        "received": reply.received,
        "accepted": reply.accepted,
        "duplicates": reply.duplicates,
        "rejected_invalid_uscc": reply.rejected_invalid_uscc,
        "rejected_other": reply.rejected_other,
    }
    rejected = [{"row": r.index + 1, "kind": r.kind, "message": r.message} for r in reply.rejected]
    if args.json:
        print(json.dumps({**counts, "rejected": rejected}, indent=2, sort_keys=True))
        return 0
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    for r in rejected:
        print(f"row {r['row']}: {r['kind']}: {r['message']}")
    return 0
