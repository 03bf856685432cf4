"""Console sessions: random tokens held on the node, each with its CSRF token and language.

The browser holds only the session token, in a cookie named ``__Host-fc_session`` (``Secure``,
``HttpOnly``, ``SameSite=Strict``, ``Path=/``; the ``__Host-`` prefix makes the browser refuse
it from any other host or over plain HTTP). Every visitor gets a session before signing in, so
the sign-in form carries a CSRF token too; signing in and out replace the token (no session
fixation). Sessions end after ``idle_s`` without a request or ``max_age_s`` in all.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "__Host-fc_session"


@dataclass
class Session:
    token: str
    csrf: str
    created: float
    seen: float
    username: str = ""
    lang: str = "zh-CN"
    cookie_token: str = ""  # the token the browser sent (the cookie is re-set when they differ)
    data: dict[str, object] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """A short, non-secret name of the session for the audit log."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:16]


class SessionStore:
    """Sessions in the node's memory (a restart signs everybody out)."""

    def __init__(
        self,
        *,
        idle_s: float = 1800.0,
        max_age_s: float = 12 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def _new(self, lang: str = "zh-CN") -> Session:
        now = self._clock()
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang=lang)
        self._sessions[s.token] = s
        return s

    def get_or_create(self, token: str | None) -> Session:
        now = self._clock()
        with self._lock:
            s = self._sessions.get(token or "")
            if s is not None and (now - s.seen > self.idle_s or now - s.created > self.max_age_s):
                del self._sessions[s.token]
                s = None
            if s is None:
                s = self._new()
            s.seen = now
            s.cookie_token = token or ""
            if len(self._sessions) > 100_000:  # drop the idlest when flooded
                for old in sorted(self._sessions.values(), key=lambda x: x.seen)[:10_000]:
                    self._sessions.pop(old.token, None)
            return s

    def rotate(self, session: Session, username: str) -> None:
        """Give the session a new token and CSRF token, signed in as ``username`` ("" = out)."""
        with self._lock:
            self._sessions.pop(session.token, None)
            session.token = secrets.token_urlsafe(32)
            session.csrf = secrets.token_urlsafe(32)
            session.username = username
            session.created = session.seen = self._clock()
            session.data.clear()
            self._sessions[session.token] = session

    def end_user(self, username: str) -> None:
        """Sign a person out everywhere (e.g. after a lockout)."""
        with self._lock:
            for s in self._sessions.values():
                if s.username == username:
                    s.username = ""


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and secrets.compare_digest(session.csrf, str(presented))
