"""Credit officers' alerts page: post-loan early-warning alerts on watched companies.

The page reads the bank's own alert store (``bank_node/alerts``: what the platform sent, i.e.
an event's type and severity, and the champion's re-score it triggered); an officer
acknowledges an alert as a signed-in person (audited as ``alert_acknowledged`` with the
username, as the CLI's ``fedcredit alerts ack`` does).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from bank_node.alerts.store import BankAlertStore
from bank_node.console.officer import OFFICER, svc
from models.errors import InvalidArgument
from proto.transport.web.accounts import Account
from proto.transport.web.app import audit_action, render

router = APIRouter()
ALERT_ACKNOWLEDGED = "alert_acknowledged"


def _store(request: Request) -> BankAlertStore:
    return BankAlertStore.in_data_dir(svc(request).config.data_dir)


@router.get("/officer/alerts")
async def alerts(request: Request, all: str = "", account: Account = OFFICER) -> Response:
    store = _store(request)
    try:
        rows = await run_in_threadpool(lambda: store.list(unacked_only=not all, limit=500))
    finally:
        store.close()
    rows = sorted(rows, key=lambda a: (a.acked_at != "", a.priority != "high", -a.seq))
    return render(request, "officer_alerts.html", alerts=rows, show_all=bool(all))


@router.post("/officer/alerts/ack")
async def ack(request: Request, account: Account = OFFICER) -> Response:
    form = await request.form()
    event_id = str(form.get("event_id", "")).strip()
    if not event_id or len(event_id) > 128:
        raise InvalidArgument("an alert id is required")
    store = _store(request)
    try:
        n = await run_in_threadpool(store.ack, event_id, account.party)
    finally:
        store.close()
    audit_action(request, account, ALERT_ACKNOWLEDGED, {"event_id": event_id, "loans": n})
    return RedirectResponse("/officer/alerts", status_code=303)
