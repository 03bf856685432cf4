"""The white list for officers and model monitoring for heads of risk and regulators.

* ``/officer/whitelist``: the platform's financing white list (issue 17) as this bank may see
  it (companies that consented to be listed to it), filtered by industry or district. The
  query goes to the platform with the bank's certificate, as ``fedcredit whitelist list``
  does; the platform audits it and the console audits who asked.
* ``/risk/monitoring``: the saved stability reports of each model version (score PSI
  and the platform features' indices, with their alert levels), as ``fedcredit monitor show``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bank_node.console.officer import OFFICER, svc
from bank_node.console.risk import READERS
from proto.transport.web.accounts import Account
from proto.transport.web.app import audit_action, render

router = APIRouter()
WHITELIST_VIEWED = "console_whitelist_viewed"


def _whitelist(config: Any, industry: str, district: str) -> tuple[int, list[dict[str, Any]]]:
    from bank_node.cli.whitelist_cmd import WhitelistClient, entry_dict

    with WhitelistClient(
        config.platform_target, config.tls, server_name=config.platform_name
    ) as client:
        reply = client.list(industry, district, 200)
    return int(reply.total), [entry_dict(e) for e in reply.entries]


@router.get("/officer/whitelist")
async def whitelist(
    request: Request, industry: str = "", district: str = "", account: Account = OFFICER
) -> Response:
    industry, district = industry.strip()[:8], district.strip()[:12]
    config = svc(request).config
    total, entries = await run_in_threadpool(_whitelist, config, industry, district)
    audit_action(
        request, account, WHITELIST_VIEWED,
        {"industry": industry, "district": district, "returned": len(entries)},
    )  # fmt: skip
    return render(
        request, "officer_whitelist.html", entries=entries, total=total,
        industry=industry, district=district,
    )  # fmt: skip


def _reports(request: Request) -> list[dict[str, Any]]:
    """Every saved report (``<data>/monitoring/<name>/v<version>/<week>.json``), by model."""
    from bank_node.monitoring.runner import load_reports

    root = svc(request).config.data_dir / "monitoring"
    out = []
    for folder in sorted(root.glob("*/v*")) if root.is_dir() else []:
        for r in load_reports(svc(request).config.data_dir, folder.parent.name, folder.name[1:]):
            doc = r.to_dict()
            doc["top_features"] = sorted(r.features, key=lambda f: -float(f.get("index", 0.0)))[:5]
            out.append(doc)
    return out


@router.get("/risk/monitoring")
async def monitoring(request: Request, account: Account = READERS) -> Response:
    reports = await run_in_threadpool(_reports, request)
    return render(request, "risk_monitoring.html", reports=reports)
