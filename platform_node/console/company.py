"""A company's pages: its records, consents (grant and revoke), uses of its data, objections.

A company account is bound to one USCC (``Account.subject``); every page works on that code
only, so another company's objection or attachment simply does not exist for it (404).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from models.errors import InvalidArgument, NotFound
from platform_node.console.records import company_records, find_record
from platform_node.console.services import PlatformServices
from platform_node.objections import KINDS, REPAIRABLE_TABLES
from proto.transport.web.accounts import Account
from proto.transport.web.app import actor_of, console, render, require, session_of

router = APIRouter()
COMPANY = require("company")


def svc(request: Request) -> PlatformServices:
    s: PlatformServices = console(request).services["platform"]
    return s


@router.get("/company")
async def records(request: Request, account: Account = COMPANY) -> Response:
    s = svc(request)
    cats = await run_in_threadpool(company_records, s.data_dir, account.subject)
    marks = s.objections.record_marks(account.subject)
    return render(request, "company_records.html", cats=cats, marks=marks,
                  repairable=REPAIRABLE_TABLES)  # fmt: skip


@router.get("/company/consents")
def consents(request: Request, done: str = "", account: Account = COMPANY) -> Response:
    s = svc(request)
    rows = s.consent.list(account.subject)
    now = dt.datetime.now(dt.UTC).isoformat()
    return render(request, "company_consents.html", rows=rows[::-1], banks=s.banks, now=now,
                  done=done)  # fmt: skip


@router.post("/company/consents/grant")
async def grant(request: Request, account: Account = COMPANY) -> Response:
    form = await request.form()
    s = svc(request)
    bank = str(form.get("bank", ""))
    if bank not in s.banks:
        raise InvalidArgument("choose one of the platform's banks")
    scope = str(form.get("scope", "scoring"))
    try:
        days = int(str(form.get("days", "365")))
    except ValueError:
        raise InvalidArgument("days must be a whole number") from None
    if not 1 <= days <= 3 * 365:
        raise InvalidArgument("a consent lasts 1 to 1095 days")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    s.consent.grant(account.subject, bank, scope, expires, actor=actor_of(account),
                    evidence=f"console:{session_of(request).tag}")  # fmt: skip
    return RedirectResponse("/company/consents?done=granted", status_code=303)


@router.post("/company/consents/revoke")
async def revoke(request: Request, account: Account = COMPANY) -> Response:
    form = await request.form()
    s = svc(request)
    bank = str(form.get("bank", ""))
    if bank not in s.banks:
        raise InvalidArgument("choose one of the platform's banks")
    scope = str(form.get("scope", "")) or None
    s.consent.revoke(account.subject, bank, scope, actor=actor_of(account))
    return RedirectResponse("/company/consents?done=revoked", status_code=303)


@router.get("/company/uses")
def uses(request: Request, account: Account = COMPANY) -> Response:
    return render(request, "company_uses.html", uses=svc(request).uses(account.subject))


@router.get("/company/objections")
def objections(request: Request, account: Account = COMPANY) -> Response:
    rows = svc(request).objections.list(account.subject)
    return render(request, "company_objections.html", rows=rows[::-1])


@router.get("/company/objections/new")
async def new_objection(
    request: Request, table: str, record: str, kind: str = "objection", account: Account = COMPANY
) -> Response:
    s = svc(request)
    rec = await run_in_threadpool(find_record, s.data_dir, account.subject, table, record)
    if rec is None:
        raise NotFound("no such record")
    if kind not in KINDS:
        kind = "objection"
    return render(request, "company_objection_new.html", rec=rec, kind=kind,
                  repairable=table in REPAIRABLE_TABLES)  # fmt: skip


@router.post("/company/objections")
async def submit(request: Request, account: Account = COMPANY) -> Response:
    form = await request.form()
    s = svc(request)
    table, rid = str(form.get("table", "")), str(form.get("record", ""))
    rec = await run_in_threadpool(find_record, s.data_dir, account.subject, table, rid)
    if rec is None:
        raise NotFound("no such record")
    upload = form.get("attachment")
    data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    obj = s.objections.submit(
        account.subject, str(form.get("kind", "objection")), table, rid, rec.date,
        str(form.get("reason", "")), actor_of(account), attachment=data or None,
    )  # fmt: skip
    if form.get("exclude") == "yes":
        s.objections.request_exclusion(obj.objection_id, actor_of(account))
    return RedirectResponse(f"/company/objections/{obj.objection_id}", status_code=303)


@router.get("/company/objections/{objection_id}")
def objection(request: Request, objection_id: str, account: Account = COMPANY) -> Response:
    s = svc(request)
    obj = s.objections.get_for(objection_id, account.subject)
    return render(request, "objection_detail.html", obj=obj, steps=s.objections.steps(objection_id),
                  side="company", rec=None)  # fmt: skip


@router.post("/company/objections/{objection_id}/{action}")
async def company_step(
    request: Request, objection_id: str, action: str, account: Account = COMPANY
) -> Response:
    s = svc(request)
    s.objections.get_for(objection_id, account.subject)
    if action == "withdraw":
        s.objections.act(objection_id, "withdraw", actor_of(account))
    elif action == "exclude":
        s.objections.request_exclusion(objection_id, actor_of(account))
    else:
        raise NotFound("no such action")
    return RedirectResponse(f"/company/objections/{objection_id}", status_code=303)


@router.get("/company/objections/{objection_id}/attachment")
def attachment(request: Request, objection_id: str, account: Account = COMPANY) -> Response:
    s = svc(request)
    obj = s.objections.get_for(objection_id, account.subject)
    return _file(s, obj)


def _file(s: PlatformServices, obj: object) -> Response:
    from platform_node.objections import Objection

    assert isinstance(obj, Objection)
    path = s.objections.attachment_path(obj)
    return Response(
        path.read_bytes(),
        media_type=obj.attachment_type,
        headers={"content-disposition": f'attachment; filename="{obj.attachment}"'},
    )
