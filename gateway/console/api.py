"""The public HTTP API, called in-process with the signed-in user's own token.

The console never calls a service itself: each call is turned into the request a client
would send (method, path, bearer token, JSON body) and given to the very handler the
gateway routes that path to, so authentication, the role's permissions, branch checks,
body checks, masking and error mapping are the API's own. The console can do nothing the
API would refuse the same user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder

API_PREFIX = "/api/"


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else ""

    @property
    def fields(self) -> dict:
        found = self.body.get("fields") if isinstance(self.body, dict) else None
        return found or {}


def api_routes(service_class: type) -> Map:
    """The API's paths and the names of the handlers serving them, read from the
    service's nameko ``http`` entrypoints."""
    rules = []
    for name in dir(service_class):
        handler = getattr(service_class, name, None)
        for entrypoint in getattr(handler, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler) and entrypoint.url.startswith(
                    API_PREFIX):
                rules.append(Rule(entrypoint.url, methods=entrypoint.method.split(","),
                                  endpoint=name))
    return Map(rules)


class ApiClient:
    """One user's view of the API, inside a gateway worker."""

    def __init__(self, service: Any, routes: Map, token: str) -> None:
        self._service = service
        self._routes = routes.bind("localhost")
        self._token = token

    def get(self, path: str, query: dict | None = None) -> Reply:
        return self.call("GET", path, query=query)

    def post(self, path: str, body: dict) -> Reply:
        return self.call("POST", path, body=body)

    def call(self, method: str, path: str, body: dict | None = None,
             query: dict | None = None) -> Reply:
        try:
            name, arguments = self._routes.match(path, method=method)
        except (NotFound, MethodNotAllowed):
            return Reply(404, {"error": "not_found", "message": path})
        builder = EnvironBuilder(path=path, method=method, query_string=query or {},
                                 headers={"Authorization": f"Bearer {self._token}"},
                                 json=body)
        try:
            response = getattr(self._service, name)(builder.get_request(), **arguments)
        finally:
            builder.close()
        return Reply(response.status_code, json.loads(response.get_data() or b"null"))
