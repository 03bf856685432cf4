"""The head of risk's pages: the model registry and promotion as a signed-in approver."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from bank_node.console.officer import svc
from bank_node.console.registry_view import plot_png, registry_rows
from models.audit.entry import Actor
from models.errors import InvalidArgument, NotFound
from proto.transport.web.accounts import Account
from proto.transport.web.app import render, require, session_of

router = APIRouter()
APPROVER = require("approver")
READERS = require("approver", "regulator")


@router.get("/risk/registry")
async def registry(request: Request, done: str = "", account: Account = APPROVER) -> Response:
    s = svc(request)
    rows = await run_in_threadpool(registry_rows, s.config, s.engine.store)
    return render(request, "risk_registry.html", rows=rows, done=done)


@router.get("/models/{name}/{version}/{plot}.png")
async def plot(
    request: Request, name: str, version: str, plot: str, account: Account = READERS
) -> Response:
    png = await run_in_threadpool(plot_png, svc(request).config, name, version, plot)
    if png is None:
        raise NotFound("no such plot")
    return Response(png, media_type="image/png")


@router.post("/risk/promote")
async def promote(request: Request, account: Account = APPROVER) -> Response:
    form = await request.form()
    name, version = str(form.get("name", "")), str(form.get("version", ""))
    alias = str(form.get("alias", "champion"))
    if alias not in ("champion", "challenger"):
        raise InvalidArgument("alias is champion or challenger")
    s = svc(request)
    entry = next(
        (e for e in s.engine.store.entries() if e.name == name and e.version == version), None
    )
    if entry is None:
        raise NotFound("no such model version")
    approver = Actor(account.party, "approver", "")
    details = {"via": "console", "username": account.username, "session": session_of(request).tag}

    def run() -> None:
        from bank_node.console.registry_view import _run_of, _tracking
        from bank_node.governance import approve_served, promote_version

        tracking = _tracking(s.config)
        if tracking is not None and _run_of(tracking, name, version) is not None:
            promote_version(
                s.config, name, version, alias, approver, audit=s.audit, details=details,
            )  # fmt: skip
        else:  # a part served outside MLflow: the same audited approval, store only
            approve_served(s.engine.store, s.audit, entry, alias, approver, details=details)

    await run_in_threadpool(run)
    return RedirectResponse(f"/risk/registry?done={name}@{version}", status_code=303)
