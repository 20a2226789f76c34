"""What every gateway route shares: JSON responses, error mapping, the authenticated
``endpoint`` wrapper, bounded RPC calls and body checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import eventlet
from nameko.exceptions import RemoteError
from werkzeug.wrappers import Response

from gateway.auth import Caller, authenticate, authorize, load_tokens
from schemas.fields import unicode_errors
from services.common.base import ConfigProvider
from services.common.errors import (
    APP_ERRORS,
    AppError,
    GatewayTimeout,
    InvalidInput,
    TooLarge,
    UnsupportedMedia,
)
from services.common.metrics import Metrics

log = logging.getLogger(__name__)
JSON = "application/json"
MAX_JSON_DEPTH = 20


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON)


def _error(exc: AppError) -> Response:
    return json_response(exc.status, {"error": exc.code, "message": exc.message,
                                      "fields": exc.fields})


def _remote(exc: RemoteError) -> Response:
    cls = APP_ERRORS.get(exc.exc_type)
    if cls is None:
        log.error("service error: %s", exc)
        return json_response(500, {"error": "internal", "message": "internal error"})
    try:
        detail = json.loads(exc.value)
    except (TypeError, ValueError):
        detail = {"message": str(exc.value)}
    return json_response(cls.status, {"error": detail.get("code", cls.code),
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


def endpoint(operation: str | Callable[[dict], str] | None) -> Callable:
    """Wraps a handler: authenticates (unless ``operation`` is None), checks the caller's
    role against the service's permission table, maps every error. ``operation`` may be
    a function of the path arguments (one route serving several operations)."""

    def decorate(handler: Callable) -> Callable:
        @wraps(handler)
        def wrapper(self, request, **kwargs):
            try:
                caller = None
                if operation is not None:
                    caller = authenticate(request.headers.get("Authorization"), self.tokens())
                    name = operation(kwargs) if callable(operation) else operation
                    authorize(caller, name, self.config["branches"], self.permissions)
                return handler(self, request, caller, **kwargs)
            except AppError as exc:
                return _error(exc)
            except RemoteError as exc:
                return _remote(exc)

        return wrapper

    return decorate


class GatewayBase:
    """Shared plumbing of the gateway's route mixins."""

    config = ConfigProvider()
    metrics = Metrics()
    permissions: dict[str, tuple[str, ...]] = {}

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
        # A "\ud800" escape decodes to a lone surrogate, which no service could store
        # (BSON is UTF-8) and no answer could carry: refused here, by field.
        invalid = unicode_errors(body)
        if invalid:
            raise InvalidInput("请求含无效的 Unicode 字符。The body holds invalid Unicode.",
                               invalid)
        return body
