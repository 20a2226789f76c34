"""Console sessions: an opaque id in an HttpOnly, SameSite=Strict cookie; the user's API
token stays on the server, so no script in the page (nor the browser's storage) holds it.

Sessions live in the gateway process: a restart signs everyone out, which a console may
afford; several gateway replicas need sticky sessions (or a shared store, later). Each
session carries its own CSRF token, which every form sends back and every POST checks.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"  # the CSRF token of the sign-in form, before any session
LANG_COOKIE = "console_lang"
IDLE_SECONDS = 8 * 3600  # a shift: idle longer, sign in again
MAX_SESSIONS = 10_000  # bounded memory: the oldest go first


@dataclass
class Session:
    token: str
    role: str
    branch: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = 0.0
    technician_id: str | None = None  # a technician's own (their jobs, their van)


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 idle_seconds: float = IDLE_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._idle = idle_seconds
        self._limit = limit

    def open(self, token: str, role: str, branch: str, technician_id: str | None = None
             ) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            while len(self._sessions) >= self._limit:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[session_id] = Session(token, role, branch, seen=self._clock(),
                                                 technician_id=technician_id)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle time restarted; None if unknown or idle too long."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self._idle:
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time CSRF comparison; a missing token on either side never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def cookie_options(secure: bool) -> dict:
    """Whatever the cookie: unreadable by scripts, never sent by another site's page."""
    return {"httponly": True, "samesite": "Strict", "secure": secure, "path": "/console"}
