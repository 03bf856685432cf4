"""The console application both nodes build on: sessions, CSRF, sign-in, roles, pages, audit.

A node's console is a FastAPI app made by :func:`create_console_app` from a
:class:`ConsoleContext` (the node's accounts, audit log and page templates) and the node's own
routers. What every console gets from here:

- :class:`ConsoleMiddleware` (pure ASGI): a session for every visitor (cookie
  ``__Host-fc_session``: Secure, HttpOnly, SameSite=Strict), and the CSRF check: every
  ``POST`` (any unsafe method) must carry the session's token, as the form field ``csrf`` or
  the header ``X-CSRF-Token``, or it is refused with 403 before any route code runs. It also
  sets the security headers (a Content-Security-Policy allowing only the node's own scripts,
  styles and images, no framing, no caching, no referrer) and caps request bodies.
- Sign-in and sign-out (``/login``, ``/logout``), the language switch (``/lang/{code}``) and
  the static files (``/static``, shipped with the package: nothing comes from the internet).
- :func:`require`: a route dependency that admits only signed-in people with one of the given
  roles. Anybody else is sent to sign in, or refused with 403 and an audit entry.
- :func:`audit_action`: every action is appended to the node's audit log with the person as
  the actor (``party`` = ``<node>/<username>`` or ``company/<USCC>``, their role) and
  ``via = "console"``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from models.audit.entry import Actor
from models.audit.log import AuditLog
from models.errors import ErrorKind, FedCreditError
from proto.transport.web.accounts import Account, AccountLocked, AccountStore, BadCredentials
from proto.transport.web.i18n import LANGS, Catalogue, catalogue
from proto.transport.web.sessions import COOKIE, Session, SessionStore, csrf_ok

log = logging.getLogger("fedcredit.console")

WEB_DIR = Path(__file__).parent
MAX_BODY_BYTES = 16 * 1024 * 1024
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Audit events of the consoles (the actions themselves use their services' events).
CONSOLE_LOGIN = "console_login"
CONSOLE_LOGIN_FAILED = "console_login_failed"
CONSOLE_LOGOUT = "console_logout"
CONSOLE_REFUSED = "console_refused"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000"),
]


@dataclass
class ConsoleContext:
    """What a node's console needs from its node."""

    node: str  # "bank" | "platform"
    party: str  # the node's party name
    accounts: AccountStore
    audit: AuditLog
    template_dir: Path
    homes: Mapping[str, str]  # role -> the page a person of that role lands on
    nav: Mapping[str, Sequence[tuple[str, str]]]  # role -> [(message key, path)]
    sessions: SessionStore = field(default_factory=SessionStore)
    messages: Catalogue = field(default_factory=catalogue)
    secure_cookie: bool = True
    services: dict[str, Any] = field(default_factory=dict)
    env: Environment = field(init=False)

    @property
    def cookie_name(self) -> str:
        """``__Host-`` names need Secure; a plain-HTTP test console uses a plain name."""
        return COOKIE if self.secure_cookie else COOKIE.removeprefix("__Host-")

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=ChoiceLoader(
                [
                    FileSystemLoader(str(self.template_dir)),
                    FileSystemLoader(str(WEB_DIR / "templates")),
                ]
            ),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )


# -- errors raised by route dependencies -------------------------------------------------------
class LoginRequired(Exception):
    pass


class RoleRefused(Exception):
    def __init__(self, account: Account, path: str) -> None:
        super().__init__("role refused")
        self.account, self.path = account, path


# -- middleware ----------------------------------------------------------------------------------
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class ConsoleMiddleware:
    """Sessions, CSRF on unsafe methods, body cap and security headers (module docstring)."""

    def __init__(self, app: ASGIApp, ctx: ConsoleContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        session = self.ctx.sessions.get_or_create(request.cookies.get(self.ctx.cookie_name))
        scope.setdefault("state", {})["session"] = session
        body = b""
        if scope["method"] in UNSAFE:
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    await self._plain(send, 413, "request too large", session)
                    return
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            if not await self._csrf_ok(scope, body, session):
                log.warning(
                    "request without a valid CSRF token refused", extra={"path": scope["path"]}
                )
                await self._plain(send, 403, "CSRF token missing or invalid", session)
                return

            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = replay

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {h[0].lower() for h in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if session.token != session.cookie_token:
                    headers.append((b"set-cookie", self._cookie(session).encode()))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, session: Session) -> str:
        secure = "; Secure" if self.ctx.secure_cookie else ""
        return f"{self.ctx.cookie_name}={session.token}; Path=/; HttpOnly; SameSite=Strict{secure}"

    async def _csrf_ok(self, scope: Any, body: bytes, session: Session) -> bool:
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if csrf_ok(session, headers.get("x-csrf-token")):
            return True
        ctype = headers.get("content-type", "")
        if not (
            ctype.startswith("application/x-www-form-urlencoded")
            or ctype.startswith("multipart/form-data")
        ):
            return False
        done = False

        async def once() -> dict[str, Any]:
            nonlocal done
            if done:
                return {"type": "http.disconnect"}
            done = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(scope, once).form()
        except Exception:  # a malformed body is refused like a missing token
            return False
        try:
            token = form.get("csrf")
            return csrf_ok(session, token if isinstance(token, str) else None)
        finally:
            await form.close()

    async def _plain(self, send: Any, status: int, text: str, session: Session) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})


# -- helpers for routes ------------------------------------------------------------------------
def console(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.console
    return ctx


def session_of(request: Request) -> Session:
    s: Session = request.state.session
    return s


def account_of(request: Request) -> Account | None:
    s = session_of(request)
    if not s.username:
        return None
    cached = s.data.get("account")
    if isinstance(cached, Account) and cached.username == s.username:
        return cached
    try:
        account = console(request).accounts.get(s.username)
    except FedCreditError:
        s.username = ""
        return None
    s.data["account"] = account
    return account


def require(*roles: str) -> Any:
    """A dependency: the signed-in account, if its role is one of ``roles``."""

    def dependency(request: Request) -> Account:
        account = account_of(request)
        if account is None:
            raise LoginRequired()
        if account.role not in roles:
            raise RoleRefused(account, request.url.path)
        return account

    return Depends(dependency)


def actor_of(account: Account) -> Actor:
    """The audit actor of a person signed in with a password (no certificate)."""
    return Actor(account.party, account.role, "")


def audit_action(
    request: Request, account: Account, event: str, details: Mapping[str, Any] | None = None
) -> None:
    ctx = console(request)
    ctx.audit.append(
        event,
        actor_of(account),
        {
            **dict(details or {}),
            "via": "console",
            "username": account.username,
            "session": session_of(request).tag,
        },
    )


def t_for(request: Request) -> Callable[..., str]:
    ctx, lang = console(request), session_of(request).lang

    def t(key: str, **fields: Any) -> str:
        return ctx.messages.text(key, lang, **fields)

    return t


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = console(request)
    session = session_of(request)
    account = account_of(request)
    nav = ctx.nav.get(account.role, ()) if account else ()
    path = request.url.path
    here = max((h for _, h in nav if path == h or path.startswith(h.rstrip("/") + "/")),
               key=len, default="")  # fmt: skip
    page = ctx.env.get_template(template).render(
        request=request,
        t=t_for(request),
        lang=session.lang,
        langs=LANGS,
        csrf=session.csrf,
        account=account,
        nav=nav,
        here=here,
        node=ctx.node,
        node_party=ctx.party,
        path=path,
        **values,
    )
    return HTMLResponse(page, status_code=status)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no host, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


_STATUS = {
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.ALREADY_EXISTS: 409,
    ErrorKind.PERMISSION_DENIED: 403,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FAILED_PRECONDITION: 409,
    ErrorKind.RESOURCE_EXHAUSTED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.DEADLINE_EXCEEDED: 504,
}


def error_page(request: Request, err: FedCreditError) -> HTMLResponse:
    status = _STATUS.get(err.kind, 500)
    message = str(err) if status != 500 else ""
    return render(request, "error.html", status, kind=err.kind.value, message=message)


# -- the app -----------------------------------------------------------------------------------
def _auth_router() -> APIRouter:
    router = APIRouter()

    @router.get("/login")
    def login_form(request: Request, next: str = "") -> Response:
        return render(request, "login.html", next=safe_next(next, ""), problem="")

    @router.post("/login")
    async def login(request: Request) -> Response:
        ctx = console(request)
        form = await request.form()
        username = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        target = safe_next(str(form.get("next", "")), "")
        try:
            account = ctx.accounts.authenticate(username, password)
        except (BadCredentials, AccountLocked) as err:
            locked = isinstance(err, AccountLocked)
            ctx.audit.append(
                CONSOLE_LOGIN_FAILED,
                Actor(f"{ctx.party}/console", ctx.node, ""),
                {"username": username, "locked": locked, "via": "console"},
            )
            if locked:
                ctx.sessions.end_user(username)
            problem = "login.locked" if locked else "login.bad"
            return render(request, "login.html", 401, next=target, problem=problem)
        session = session_of(request)
        ctx.sessions.rotate(session, account.username)
        audit_action(request, account, CONSOLE_LOGIN, {"role": account.role})
        return RedirectResponse(target or ctx.homes.get(account.role, "/"), status_code=303)

    @router.post("/logout")
    def logout(request: Request) -> Response:
        account = account_of(request)
        if account is not None:
            audit_action(request, account, CONSOLE_LOGOUT)
        console(request).sessions.rotate(session_of(request), "")
        return RedirectResponse("/login", status_code=303)

    @router.get("/lang/{code}")
    def switch_lang(request: Request, code: str, next: str = "/") -> Response:
        if code in LANGS:
            session_of(request).lang = code
        return RedirectResponse(safe_next(next), status_code=303)

    @router.get("/")
    def home(request: Request) -> Response:
        account = account_of(request)
        if account is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(console(request).homes.get(account.role, "/login"), status_code=303)

    return router


def create_console_app(ctx: ConsoleContext, routers: Sequence[APIRouter]) -> FastAPI:
    """The node's console: shared parts (module docstring) plus the node's ``routers``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = ctx
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.include_router(_auth_router())
    for router in routers:
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(RoleRefused)
    async def refused(request: Request, exc: RoleRefused) -> Response:
        ctx.audit.append(
            CONSOLE_REFUSED,
            actor_of(exc.account),
            {"path": exc.path[:200], "via": "console", "username": exc.account.username},
        )
        return render(request, "error.html", 403, kind="permission_denied", message="")

    @app.exception_handler(FedCreditError)
    async def domain_error(request: Request, exc: FedCreditError) -> Response:
        return error_page(request, exc)

    app.add_middleware(ConsoleMiddleware, ctx=ctx)
    return app
