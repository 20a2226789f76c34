"""Signing in and out of the console, its language and its static files."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.auth import authenticate
from gateway.console import i18n, pages
from gateway.console.session import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    cookie_options,
    new_csrf,
    same_token,
)
from gateway.console.web import (
    SESSIONS,
    ConsoleBase,
    View,
    console_page,
    language_of,
)
from gateway.observed import http
from services.common.errors import Unauthorized


class SignInRoutes(ConsoleBase):
    @http("GET", "/")
    def console_root(self, request: Request) -> Response:
        return pages.redirect(pages.HOME)

    @http("GET", "/console")
    @console_page()
    def console_home(self, request: Request, view: View) -> Response:
        if view.nav:
            return pages.redirect(view.nav[0][1])
        return view.render("home.html")

    @http("GET", "/console/login")
    def console_login_page(self, request: Request) -> Response:
        return self._login_form(request, 200, None)

    @http("POST", "/console/login")
    def console_login(self, request: Request) -> Response:
        if not same_token(request.cookies.get(LOGIN_COOKIE), request.form.get("csrf")):
            return self._login_form(request, 403, "error.csrf")
        token = request.form.get("token", "").strip()
        try:
            caller = authenticate(f"Bearer {token}", self.tokens())
        except Unauthorized:
            return self._login_form(request, 401, "login.failed")
        if caller.branch not in self.config["branches"]:
            return self._login_form(request, 403, "login.branch")
        response = pages.redirect(pages.safe_next(request.args.get("next")))
        response.set_cookie(SESSION_COOKIE, SESSIONS.open(token, caller.role, caller.branch,
                                                         caller.technician_id),
                            **cookie_options(request.is_secure))
        response.delete_cookie(LOGIN_COOKIE, path=pages.HOME)
        return response

    @http("POST", "/console/logout")
    @console_page()
    def console_logout(self, request: Request, view: View) -> Response:
        SESSIONS.close(request.cookies.get(SESSION_COOKIE))
        response = pages.redirect(pages.LOGIN)
        response.delete_cookie(SESSION_COOKIE, path=pages.HOME)
        return response

    @http("GET", "/console/lang/<string:lang>")
    def console_switch_language(self, request: Request, lang: str) -> Response:
        """A preference, not an action on data: a plain link may change it."""
        response = pages.redirect(pages.safe_next(request.args.get("next")))
        response.set_cookie(LANG_COOKIE, i18n.language(lang), max_age=365 * 86400,
                            **cookie_options(request.is_secure))
        return response

    @http("GET", "/console/assets/<string:name>")
    def console_asset(self, request: Request, name: str) -> Response:
        return pages.asset(name) or Response("", status=404)

    def _login_form(self, request: Request, status: int, error: str | None) -> Response:
        """The form with a fresh CSRF token, also set as a cookie the POST must match
        (there is no session yet to hold it)."""
        csrf = new_csrf()
        response = pages.render("login.html", language_of(request), status, csrf=csrf,
                                error=error, next=request.args.get("next", ""),
                                path=request.full_path)
        response.set_cookie(LOGIN_COOKIE, csrf, max_age=3600,
                            **cookie_options(request.is_secure))
        return response
