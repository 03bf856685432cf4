"""The regulator's pages (read-only): lineage with cross-check, audit verification, privacy
report, scores served per version. Nothing here trains, scores or changes anything; every
read is recorded (``audit_read``) with the examiner as the actor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from bank_node.console.officer import svc
from bank_node.console.registry_view import registry_rows, score_counts
from models.audit.events import AUDIT_READ
from models.audit.incremental import IncrementalVerifier
from models.errors import FedCreditError
from proto.transport.web.accounts import Account
from proto.transport.web.app import audit_action, render, require

router = APIRouter()
REGULATOR = require("regulator")


@router.get("/regulator")
async def overview(request: Request, account: Account = REGULATOR) -> Response:
    s = svc(request)
    rows = await run_in_threadpool(registry_rows, s.config, s.engine.store)
    counts = await run_in_threadpool(score_counts, s.audit)
    audit_action(request, account, AUDIT_READ, {"what": "registry_and_score_counts"})
    return render(request, "regulator_home.html", rows=rows, counts=counts)


def _lineage(s: Any, spec: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from bank_node.lineage_fetch import (
        bank_lineage,
        cross_check,
        fetch_related,
        lineage_keys,
        platform_audit_client,
    )

    lineage = bank_lineage(s.config, spec)
    check: dict[str, Any] | None = None
    job_id = str(lineage.job.get("job_id", ""))
    try:
        from bank_node.jobs.tracking_glue import bank_tracking

        _, model_ids = lineage_keys(bank_tracking(s.config), spec)
        with platform_audit_client(s.config, timeout_s=10.0) as client:
            check = cross_check(lineage, fetch_related(client, job_id, model_ids))
    except FedCreditError as err:
        check = {"ok": False, "problem": err.kind.value}
    return lineage.to_dict(), check


@router.get("/regulator/lineage")
async def lineage(request: Request, model: str, account: Account = REGULATOR) -> Response:
    s = svc(request)
    doc, check = await run_in_threadpool(_lineage, s, model[:200])
    audit_action(
        request, account, AUDIT_READ,
        {"what": "lineage", "model_name": doc["model"].get("name", ""),
         "model_version": doc["model"].get("version", "")},
    )  # fmt: skip
    return render(request, "regulator_lineage.html", doc=doc, check=check, spec=model)


@router.get("/regulator/verify")
async def verify(request: Request, account: Account = REGULATOR) -> Response:
    s = svc(request)
    report = await run_in_threadpool(IncrementalVerifier(s.audit.path).verify)
    audit_action(request, account, AUDIT_READ, {"what": "verify_log", "ok": report.ok})
    return render(request, "verify.html", report=report, log_party=s.config.party)


@router.get("/regulator/privacy")
async def privacy(request: Request, model: str, account: Account = REGULATOR) -> Response:
    s = svc(request)
    doc, _ = await run_in_threadpool(_lineage, s, model[:200])
    params = {k: v for k, v in doc.get("params", {}).items() if k.startswith("privacy")}
    audit_action(request, account, AUDIT_READ, {"what": "privacy_report", "model": model[:200]})
    return render(
        request, "regulator_privacy.html", doc=doc, params=params, crypto=doc.get("crypto", {}),
        spec=model,
    )  # fmt: skip
