"""The platform operator's pages: served tables, consents, the objections queue, audit
verification; and the regulator's audit verification of the platform's log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from models.audit.events import AUDIT_READ
from models.audit.incremental import IncrementalVerifier
from models.errors import NotFound
from platform_node.console.company import _file, svc
from platform_node.console.records import find_record
from proto.transport.web.accounts import Account
from proto.transport.web.app import actor_of, audit_action, render, require

router = APIRouter()
OPERATOR = require("operator")
VERIFIERS = require("operator", "regulator")


@router.get("/operator")
async def tables(request: Request, account: Account = OPERATOR) -> Response:
    s = svc(request)
    catalogue = await run_in_threadpool(s.catalogue_tables)
    return render(request, "operator_tables.html", served=s.served, catalogue=catalogue)


@router.get("/operator/consents")
def consents(request: Request, account: Account = OPERATOR) -> Response:
    rows = svc(request).consent.list()
    return render(request, "operator_consents.html", rows=rows[::-1][:500])


@router.get("/operator/objections")
def queue(request: Request, account: Account = OPERATOR) -> Response:
    rows = svc(request).objections.list()
    rows.sort(key=lambda o: (not o.open, o.created_at))
    return render(request, "operator_objections.html", rows=rows)


@router.get("/operator/objections/{objection_id}")
async def objection(request: Request, objection_id: str, account: Account = OPERATOR) -> Response:
    s = svc(request)
    obj = s.objections.get(objection_id)
    rec = await run_in_threadpool(find_record, s.data_dir, obj.uscc, obj.table_name, obj.record_id)
    return render(request, "objection_detail.html", obj=obj, steps=s.objections.steps(objection_id),
                  side="operator", rec=rec)  # fmt: skip


@router.post("/operator/objections/{objection_id}/{action}")
async def step(
    request: Request, objection_id: str, action: str, account: Account = OPERATOR
) -> Response:
    form = await request.form()
    if action not in ("review", "correct", "flag", "reject"):
        raise NotFound("no such action")
    svc(request).objections.act(objection_id, action, actor_of(account), str(form.get("note", "")))
    return RedirectResponse(f"/operator/objections/{objection_id}", status_code=303)


@router.get("/operator/objections/{objection_id}/attachment")
def attachment(request: Request, objection_id: str, account: Account = OPERATOR) -> Response:
    s = svc(request)
    return _file(s, s.objections.get(objection_id))


@router.get("/operator/verify")
@router.get("/regulator/verify")
async def verify(request: Request, account: Account = VERIFIERS) -> Response:
    s = svc(request)
    report = await run_in_threadpool(IncrementalVerifier(s.audit.path).verify)
    if account.role == "regulator":
        audit_action(request, account, AUDIT_READ, {"what": "verify_log", "ok": report.ok})
    return render(request, "verify.html", report=report, log_party=s.party)
