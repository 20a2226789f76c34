"""HTTP gateway: authenticate, check the body's shape, call a service, map errors.

No business rule lives here; services validate again with the same shared schemas.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import eventlet
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from gateway.auth import Caller, authenticate, authorize, load_tokens
from gateway.openapi import build_spec
from schemas.orders import STEP_SCHEMAS
from services.common.base import ConfigProvider
from services.common.errors import (
    APP_ERRORS,
    AppError,
    GatewayTimeout,
    NotFound,
    TooLarge,
    UnsupportedMedia,
)
from services.common.metrics import Metrics
from services.common.privacy import mask_personal

log = logging.getLogger(__name__)
JSON = "application/json"
MAX_JSON_DEPTH = 20


def _response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON)


def _error(exc: AppError) -> Response:
    return _response(exc.status, {"error": exc.code, "message": exc.message,
                                  "fields": exc.fields})


def _remote(exc: RemoteError) -> Response:
    cls = APP_ERRORS.get(exc.exc_type)
    if cls is None:
        log.error("service error: %s", exc)
        return _response(500, {"error": "internal", "message": "internal error"})
    try:
        detail = json.loads(exc.value)
    except (TypeError, ValueError):
        detail = {"message": str(exc.value)}
    return _response(cls.status, {"error": detail.get("code", cls.code),
                                  "message": detail.get("message"),
                                  "fields": detail.get("fields", {})})


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def endpoint(operation: str | None) -> Callable:
    """Wraps a handler: authenticates (unless ``operation`` is None), maps every error."""

    def decorate(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapper(self, request, **kwargs):
            try:
                caller = None
                if operation is not None:
                    caller = authenticate(request.headers.get("Authorization"), self.tokens())
                    authorize(caller, _operation(operation, kwargs), self.config["branches"])
                return handler(self, request, caller, **kwargs)
            except AppError as exc:
                return _error(exc)
            except RemoteError as exc:
                return _remote(exc)

        return wrapper

    return decorate


def _operation(operation: str, kwargs: dict) -> str:
    if operation != "step":
        return operation
    if kwargs.get("action") not in STEP_SCHEMAS:
        raise NotFound(f"unknown order action {kwargs.get('action')!r}")
    return kwargs["action"]


class GatewayService:
    name = "gateway"
    config = ConfigProvider()
    metrics = Metrics()
    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")

    def tokens(self) -> dict[str, Caller]:
        return load_tokens(self.config["tokens_file"])

    def _call(self, method, *args) -> Any:
        """RPC with a bounded wait."""
        reply = method.call_async(*args)
        seconds = self.config["rpc_timeout_seconds"]
        try:
            with eventlet.Timeout(seconds):
                return reply.result()
        except eventlet.Timeout:
            raise GatewayTimeout(f"no answer within {seconds:g} s; try again") from None

    def _body(self, request) -> dict:
        if request.mimetype != JSON:
            raise UnsupportedMedia("send a JSON body with Content-Type: application/json")
        limit = self.config["http"]["max_body_bytes"]
        if (request.content_length or 0) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
        raw = request.get_data(cache=False)
        if len(raw) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise AppError("the body is not UTF-8") from None
        except (ValueError, RecursionError):
            raise AppError("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise AppError("the body must be a JSON object")
        if _depth(body) > MAX_JSON_DEPTH:
            raise AppError("the body is nested too deeply")
        return body

    # -- public ----------------------------------------------------------------------
    @http("GET", "/health")
    def health(self, request):
        return _response(200, {"status": "ok"})

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        return self.metrics.exposition()

    @http("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return _response(200, build_spec())

    # -- requests and orders ---------------------------------------------------------
    @http("POST", "/api/v1/requests")
    @endpoint("create_request")
    def create_request(self, request, caller: Caller):
        order = self._call(self.intake.create_request, self._body(request), caller.branch)
        return _response(201 if order.pop("created", False) else 200, order)

    @http("GET", "/api/v1/orders")
    @endpoint("read_orders")
    def list_orders(self, request, caller: Caller):
        params = request.args.to_dict()
        page = self._call(self.dispatch.list_orders, params, caller.branch,
                          caller.technician_id if caller.role == "technician" else None)
        page["items"] = [mask_personal(item) for item in page["items"]]
        return _response(200, page)

    @http("GET", "/api/v1/orders/<string:order_id>")
    @endpoint("read_orders")
    def get_order(self, request, caller: Caller, order_id: str):
        return _response(200, self._order(caller, order_id))

    @http("GET", "/api/v1/orders/<string:order_id>/timeline")
    @endpoint("read_orders")
    def get_timeline(self, request, caller: Caller, order_id: str):
        order = self._order(caller, order_id)
        return _response(200, {"order_id": order_id, "status": order["status"],
                               "timeline": order.get("timeline", [])})

    def _order(self, caller: Caller, order_id: str) -> dict:
        try:
            order = self._call(self.dispatch.get_order, order_id, caller.branch)
        except RemoteError as exc:
            if exc.exc_type != "NotFound":
                raise
            # Not yet (or never) dispatched: intake's record of it.
            order = self._call(self.intake.get_request, order_id, caller.branch)
        if caller.role == "technician" and caller.technician_id not in (
                order.get("technician_id"), (order.get("offer") or {}).get("technician_id")):
            raise NotFound(f"order {order_id} not found")
        return order

    @http("POST", "/api/v1/orders/<string:order_id>/<string:action>")
    @endpoint("step")
    def order_step(self, request, caller: Caller, order_id: str, action: str):
        order = self._call(self.dispatch.step, order_id, action, self._body(request),
                           caller.as_actor())
        return _response(200, order)

    # -- technicians -----------------------------------------------------------------
    @http("GET", "/api/v1/technicians")
    @endpoint("read_technicians")
    def list_technicians(self, request, caller: Caller):
        return _response(200, {"items": self._call(self.dispatch.list_technicians,
                                                   caller.branch)})

    @http("POST", "/api/v1/technicians")
    @endpoint("write_technicians")
    def create_technician(self, request, caller: Caller):
        return _response(201, self._call(self.dispatch.create_technician, self._body(request),
                                         caller.branch))

    @http("GET", "/api/v1/technicians/<string:technician_id>")
    @endpoint("read_technicians")
    def get_technician(self, request, caller: Caller, technician_id: str):
        return _response(200, self._call(self.dispatch.get_technician, technician_id,
                                         caller.branch))

    @http("PATCH", "/api/v1/technicians/<string:technician_id>")
    @endpoint("write_technicians")
    def update_technician(self, request, caller: Caller, technician_id: str):
        return _response(200, self._call(self.dispatch.update_technician, technician_id,
                                         self._body(request), caller.branch))
