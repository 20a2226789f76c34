"""Rendering the console's pages: the Jinja2 templates, the security headers every page
carries, and redirects that never leave the console."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.wrappers import Response

from gateway.console import i18n

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "assets"
ASSET_TYPES = {".css": "text/css", ".js": "text/javascript"}
HOME = "/console"
LOGIN = "/console/login"
HEADERS = {
    "Cache-Control": "no-store",
    # Scripts and styles only from the console's own files: no inline script, no CDN.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                         autoescape=select_autoescape(["html"]), trim_blocks=True,
                         lstrip_blocks=True)


def render(name: str, lang: str, status: int = 200, /, **context) -> Response:
    html = _templates.get_template(name).render(
        lang=lang, html_lang=i18n.HTML_LANG[lang], t=partial(i18n.translate, lang),
        when=partial(i18n.format_time, lang), reason=partial(i18n.reason, lang),
        detail=partial(i18n.detail, lang),
        codes=i18n.codes, **context)
    return Response(html, status=status, mimetype="text/html", headers=HEADERS)


def redirect(location: str) -> Response:
    """303: after a POST the browser GETs the page (a reload never re-sends the form)."""
    return Response("", status=303, headers={**HEADERS, "Location": location})


def safe_next(value: str | None) -> str:
    """Where to go after signing in or switching language: only a console page."""
    if value and value.startswith(HOME) and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


def login_url(next_path: str) -> str:
    return f"{LOGIN}?next={quote(next_path, safe='/')}"


def asset(name: str) -> Response | None:
    path = ASSETS / name
    kind = ASSET_TYPES.get(path.suffix)
    if kind is None or path.parent != ASSETS or not path.is_file():
        return None
    return Response(path.read_bytes(), status=200, mimetype=kind,
                    headers={"Cache-Control": "max-age=300",
                             "X-Content-Type-Options": "nosniff"})
