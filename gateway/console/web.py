"""What every console page shares: the signed-in user's session, their language, the
CSRF check on every POST, and their own in-process view of the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.auth import authenticate
from gateway.console import i18n, pages
from gateway.console.api import ApiClient, api_routes
from gateway.console.session import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionStore,
    same_token,
)
from services.common.errors import Unauthorized

SESSIONS = SessionStore()


@dataclass(frozen=True)
class View:
    """One request of a signed-in user."""

    request: Request
    lang: str
    session: Session
    api: ApiClient
    nav: tuple[tuple[str, str], ...]  # the screens this user has: (label key, path)

    def render(self, template: str, status: int = 200, /, **context: Any) -> Response:
        return pages.render(template, self.lang, status, session=self.session,
                            csrf=self.session.csrf, path=self.request.full_path, nav=self.nav,
                            **context)

    def error(self, status: int, message: str = "", key: str | None = None) -> Response:
        key = key or {403: "error.forbidden", 404: "error.not_found"}.get(status,
                                                                          "error.failed")
        return self.render("error.html", status, title=key, message=message)


def language_of(request: Request) -> str:
    return i18n.language(request.cookies.get(LANG_COOKIE))


@lru_cache(maxsize=4)
def _routes(service_class: type):
    return api_routes(service_class)


def may_take_requests(session: Session, permissions: dict) -> bool:
    return session.role in permissions.get("create_request", ())


def may_dispatch(session: Session, permissions: dict) -> bool:
    return all(session.role in permissions.get(operation, ())
               for operation in ("assign", "read_technicians"))


def is_technician(session: Session, permissions: dict) -> bool:
    return session.role == "technician"


# The console's screens, the first one a user has being where they land.
SCREENS = (("nav.dispatch", "/console/dispatch", may_dispatch),
           ("nav.agent", "/console/agent", may_take_requests),
           ("nav.tech", "/console/tech", is_technician))


def screens_of(session: Session, permissions: dict) -> tuple[tuple[str, str], ...]:
    return tuple((label, path) for label, path, allowed in SCREENS
                 if allowed(session, permissions))


def console_page(screen: Callable[[Session, dict], bool] | None = None) -> Callable:
    """A console page: signed-out users go to the login page; a POST without the
    session's CSRF token is refused before anything is done; ``screen`` says whether the
    user's role has this page at all (the API checks each call again)."""

    def decorate(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapper(self, request: Request, **kwargs: Any) -> Response:
            view = self._view(request)
            if view is None:
                return pages.redirect(pages.login_url(request.full_path.rstrip("?")))
            if request.method == "POST" and not same_token(view.session.csrf,
                                                           request.form.get("csrf")):
                return view.error(403, key="error.csrf")
            if screen is not None and not screen(view.session, self.permissions):
                return view.error(403)
            return handler(self, request, view, **kwargs)

        return wrapper

    return decorate


class ConsoleBase:
    """Mixed into the gateway, whose ``tokens()`` and ``permissions`` it reads."""

    permissions: dict[str, tuple[str, ...]]

    def _view(self, request: Request) -> View | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        session = SESSIONS.get(session_id)
        if session is None:
            return None
        try:  # a token revoked or expired since sign-in ends the session
            caller = authenticate(f"Bearer {session.token}", self.tokens())
        except Unauthorized:
            SESSIONS.close(session_id)
            return None
        session.role, session.branch = caller.role, caller.branch  # the token file's today
        return View(request, language_of(request), session,
                    ApiClient(self, _routes(type(self)), session.token),
                    screens_of(session, self.permissions))
