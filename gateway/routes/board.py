"""The built-in wallboard (大屏): a static page at ``/board`` and the figures it polls at
``/api/v1/board``.

A wall screen cannot type a password, so it opens ``/board#token=<board token>``: the page
reads the token from the URL fragment (never sent to the server, so not in access logs)
and sends it as a bearer token. The ``board`` role may read the board and nothing else.
Satisfaction and complaints come from the callbacks and complaints services when they
answer ``board_figures`` within a short wait; otherwise the board shows '—'.
"""

from __future__ import annotations

import logging
from pathlib import Path

import eventlet
from apispec import APISpec
from nameko.rpc import RpcProxy
from werkzeug.wrappers import Response

from gateway.auth import Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import operation

log = logging.getLogger(__name__)
PAGE = Path(__file__).resolve().parents[1] / "static" / "board.html"
PEER_TIMEOUT_SECONDS = 1.5  # the board never waits long for the services built later

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read_board": ("board", "agent", "dispatcher", "supervisor", "admin", "hq_auditor",
                   "callback_staff", "complaint_handler"),
}


class BoardRoutes:
    dispatch = RpcProxy("dispatch")
    callbacks = RpcProxy("callbacks")
    complaints = RpcProxy("complaints")

    @http("GET", "/board")
    def board_page(self, request):
        return Response(PAGE.read_bytes(), status=200, mimetype="text/html",
                        headers={"Cache-Control": "no-cache",
                                 "Content-Security-Policy": "default-src 'self'; "
                                 "script-src 'unsafe-inline'; style-src 'unsafe-inline'",
                                 "Referrer-Policy": "no-referrer"})

    @http("GET", "/api/v1/board")
    @endpoint("read_board")
    def board_figures(self, request, caller: Caller):
        # Ask the optional services first, so their waits overlap dispatch's answer.
        pending = {name: self._ask(getattr(self, name), caller.branch)
                   for name in ("callbacks", "complaints")}
        figures = self._call(self.dispatch.board_figures, caller.branch)
        body = {"branch": caller.branch, "dispatch": figures}
        for name, reply in pending.items():
            body[{"callbacks": "satisfaction"}.get(name, name)] = self._settle(name, reply)
        return json_response(200, body)

    @staticmethod
    def _ask(proxy, branch: str):
        try:
            return proxy.board_figures.call_async(branch)
        except Exception:  # the service is not deployed (unroutable): no figures
            return None

    @staticmethod
    def _settle(name: str, reply) -> dict | None:
        if reply is None:
            return None
        try:
            with eventlet.Timeout(PEER_TIMEOUT_SECONDS):
                return reply.result()
        except (Exception, eventlet.Timeout) as exc:
            log.debug("no board figures from %s: %s", name, exc)
            return None


def document(spec: APISpec) -> None:
    spec.path("/api/v1/board", operations={"get": operation(
        "Wallboard figures of the caller's branch: open orders by state, overdue by "
        "milestone, today's on-time share; satisfaction and complaints when those services "
        "answer (else null)", {"200": {"description": "Figures"}})})
    spec.path("/board", operations={"get": {
        "operationId": "getBoardPage",  # getBoard is the figures' (/api/v1/board)
        "summary": "The wallboard page; open as /board#token=<board token>",
        "responses": {"200": {"description": "HTML page"}}}})
