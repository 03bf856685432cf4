"""Credit officers' pages: find a company, its consent, score it, history, batch, PDF."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from bank_node.console.batch import parse_upload
from bank_node.console.report_pdf import render_report
from bank_node.console.services import BankServices
from models.errors import InvalidArgument, NotFound
from models.federation.party import Caller
from models.uscc import validate_uscc
from proto.fedcredit.v1 import scoring_pb2
from proto.transport.web.accounts import Account
from proto.transport.web.app import audit_action, console, render, require, session_of, t_for

router = APIRouter()
OFFICER = require("officer")
REPORT_PRINTED = "console_report_printed"
BATCH_STARTED = "console_batch_started"


def svc(request: Request) -> BankServices:
    s: BankServices = console(request).services["bank"]
    return s


def caller_of(account: Account) -> Caller:
    """The officer as the scoring engine sees a person (``<bank>/<username>``, officer)."""
    return Caller(account.party, "officer", "")


def reason_label(reason: Any, t: Callable[..., str], messages: Any) -> str:
    """A reason in business language: the catalogue's text for the factor when it has one."""
    for key in (f"factor.{reason.factor}", f"category.{reason.factor}"):
        if key in messages:
            return t(key)
    return str(reason.description or reason.factor)


def result_view(request: Request, r: scoring_pb2.ScoreResponse, uscc: str) -> dict[str, Any]:
    t = t_for(request)
    ctx = console(request)
    account = session_of(request).data.get("account")
    return {
        "uscc": uscc,
        "name": svc(request).customers.get(uscc, ""),
        "request_id": r.request_id,
        "pd": r.probability_of_default,
        "score": r.score,
        "band": r.risk_band,
        "model_name": r.model_name,
        "model_version": r.model_version,
        "family": r.model_family,
        "consent_id": r.consent_id,
        "as_of": r.as_of,
        "bank": ctx.party,
        "officer": getattr(account, "party", ""),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reasons": [
            {
                "rank": x.rank,
                "code": x.code,
                "source": x.source,
                "label": reason_label(x, t, ctx.messages.messages),
            }
            for x in r.reasons
        ],
    }


@router.get("/officer")
def search(request: Request, q: str = "", account: Account = OFFICER) -> Response:
    q = q.strip()
    if q:
        try:
            code = validate_uscc(q.upper())
        except InvalidArgument:
            matches = svc(request).find(q)
            if len(matches) == 1:
                return RedirectResponse(f"/officer/company/{matches[0][0]}", status_code=303)
            return render(request, "officer_search.html", q=q, matches=matches, searched=True)
        return RedirectResponse(f"/officer/company/{code}", status_code=303)
    return render(request, "officer_search.html", q="", matches=[], searched=False)


@router.get("/officer/company/{uscc}")
async def company(request: Request, uscc: str, account: Account = OFFICER) -> Response:
    code = validate_uscc(uscc)
    s = svc(request)
    consent = await run_in_threadpool(lambda: s.consent_status(code, fresh=True))
    history = await run_in_threadpool(s.history, code)
    models = [e for e in s.engine.store.entries() if e.approved]
    return render(
        request, "officer_company.html", uscc=code, name=s.customers.get(code, ""),
        consent=consent, history=history, models=models, result=None,
    )  # fmt: skip


@router.post("/officer/score")
async def score(request: Request, account: Account = OFFICER) -> Response:
    form = await request.form()
    code = validate_uscc(str(form.get("uscc", "")).strip().upper())
    model = str(form.get("model", ""))[:200]
    s = svc(request)
    started = time.perf_counter()
    reply = await run_in_threadpool(
        s.engine.score, caller_of(account), scoring_pb2.ScoreRequest(uscc=code, model=model)
    )
    scored = time.perf_counter()
    view = result_view(request, reply, code)
    results = session_of(request).data.setdefault("results", {})
    assert isinstance(results, dict)
    results[reply.request_id] = view
    while len(results) > 50:
        results.pop(next(iter(results)))
    consent = await run_in_threadpool(s.consent_status, code)
    history = await run_in_threadpool(s.history, code)
    models = [e for e in s.engine.store.entries() if e.approved]
    page = render(
        request, "officer_company.html", uscc=code, name=s.customers.get(code, ""),
        consent=consent, history=history, models=models, result=view,
    )  # fmt: skip
    done = time.perf_counter()  # Server-Timing: the engine's share and the page's
    page.headers["server-timing"] = (
        f"score;dur={1000 * (scored - started):.1f}, page;dur={1000 * (done - scored):.1f}"
    )
    return page


@router.get("/officer/report/{request_id}.pdf")
async def report(request: Request, request_id: str, account: Account = OFFICER) -> Response:
    results = session_of(request).data.get("results", {})
    view = results.get(request_id) if isinstance(results, dict) else None
    if view is None:  # only the officer's own scores of this session
        raise NotFound("no such score in this session")
    pdf = await run_in_threadpool(render_report, view, t_for(request))
    audit_action(request, account, REPORT_PRINTED, {"request_id": request_id, "uscc": view["uscc"]})
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'inline; filename="credit-report-{request_id[:12]}.pdf"'},
    )


@router.get("/officer/batch")
def batch_form(request: Request, account: Account = OFFICER) -> Response:
    models = [e for e in svc(request).engine.store.entries() if e.approved]
    return render(request, "officer_batch.html", batch=None, models=models)


@router.post("/officer/batch")
async def batch_start(request: Request, account: Account = OFFICER) -> Response:
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidArgument("choose a CSV file of companies")
    data = await upload.read()
    s = svc(request)
    codes = parse_upload(data, s.engine.settings.max_batch)
    batch = s.batches.start(caller_of(account), codes, str(form.get("model", ""))[:200])
    audit_action(
        request, account, BATCH_STARTED, {"batch_id": batch.batch_id, "companies": len(codes)}
    )
    return RedirectResponse(f"/officer/batch/{batch.batch_id}", status_code=303)


@router.get("/officer/batch/{batch_id}")
def batch_page(request: Request, batch_id: str, account: Account = OFFICER) -> Response:
    batch = svc(request).batches.get(batch_id, account.party)
    partial = request.headers.get("hx-request") == "true"
    return render(request, "officer_batch_progress.html" if partial else "officer_batch.html",
                  batch=batch, models=[])  # fmt: skip


@router.get("/officer/batch-result/{batch_id}.csv")
def batch_csv(request: Request, batch_id: str, account: Account = OFFICER) -> Response:
    batch = svc(request).batches.get(batch_id, account.party)
    if not batch.finished:
        raise InvalidArgument("the batch is still running")
    return Response(
        batch.csv_text(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="scores-{batch.batch_id}.csv"'},
    )
