"""What every gateway route shares: JSON responses, error mapping, the authenticated
``endpoint`` wrapper, bounded RPC calls and body checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Response

from gateway.auth import Caller, authenticate, authorize, load_tokens
from gateway.language import DEFAULT, localized, localized_fields, negotiate
from gateway.observed import http_metrics
from schemas.fields import unicode_errors
from services.common.base import ConfigProvider
from services.common.errors import (
    RETRY_AFTER_SECONDS,
    AppError,
    GatewayTimeout,
    InvalidInput,
    TooLarge,
    Unavailable,
    UnsupportedMedia,
    from_remote,
    store_outage,
)
from services.common.metrics import Metrics
from services.common.request_id import RequestIdProvider

log = logging.getLogger(__name__)
JSON = "application/json"
MAX_JSON_DEPTH = 20
# The broker refused or dropped the connection while the call was being sent.
BROKER_ERRORS = (OSError, OperationalError, AMQPError)


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=JSON)


def _error_response(status: int, body: dict, language: str) -> Response:
    response = json_response(status, body)
    response.headers["Content-Language"] = language
    if status == 503:  # an outage: tell clients when to come back instead of hammering
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _error(exc: AppError, language: str = DEFAULT) -> Response:
    message = localized(exc.code, exc.message, language)
    return _error_response(exc.status, {"error": exc.code, "message": message,
                                        "fields": localized_fields(exc.fields, language)},
                           language)


def _remote(exc: RemoteError, language: str = DEFAULT) -> Response:
    outage = store_outage(exc.exc_type, exc.value)
    if outage is not None:
        log.warning("a service's store is unavailable: %s", exc)
        return _error(outage, language)
    error = from_remote(exc.exc_type, exc.value)
    if error is None:
        log.error("service error: %s", exc)
        return _error_response(500, {"error": "internal", "message": localized(
            "internal", "", language), "fields": {}}, language)
    return _error(error, language)


def _broker_down(reason: object) -> Unavailable:
    log.warning("the broker did not take an RPC: %s", reason)
    return Unavailable("消息服务暂时不可用，请稍后重试。The message broker cannot be "
                       "reached; try again later.")


def _timed_out(seconds: float) -> GatewayTimeout:
    return GatewayTimeout(f"服务在 {seconds:g} 秒内未应答，操作可能仍会完成，请先查询结果再重试。"
                          f"No answer within {seconds:g} s; the operation may still "
                          f"complete, check before trying again.")


def _not_running(service: str) -> Unavailable:
    return Unavailable(f"服务 {service} 未运行，请稍后重试。The {service} service is not "
                       f"running; try again later.")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _language(request) -> str:
    return negotiate(getattr(request, "headers", {}).get("Accept-Language"))


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
                return _error(exc, _language(request))
            except RemoteError as exc:
                return _remote(exc, _language(request))

        return wrapper

    return decorate


class GatewayBase:
    """Shared plumbing of the gateway's route mixins."""

    config = ConfigProvider()
    metrics = Metrics(http_metrics)
    request_ids = RequestIdProvider()
    permissions: dict[str, tuple[str, ...]] = {}

    def tokens(self) -> dict[str, Caller]:
        return load_tokens(self.config["tokens_file"])

    def _call(self, method, *args) -> Any:
        """RPC with a bounded wait, sending included. A call the broker would not take is
        a 503 (the service did not get it); one sent but unanswered is a 504 (it may
        still complete)."""
        seconds = self.config["rpc_timeout_seconds"]
        reply = None
        try:
            with eventlet.Timeout(seconds):
                reply = method.call_async(*args)
                return reply.result()
        except eventlet.Timeout:
            if reply is None:
                raise _broker_down(f"not sent within {seconds:g} s") from None
            raise _timed_out(seconds) from None
        except UnknownService:  # no queue for it: never deployed on this broker
            raise _not_running(method.service_name) from None
        except BROKER_ERRORS as exc:
            raise _broker_down(exc) from None

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
