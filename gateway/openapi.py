"""The OpenAPI document, generated from the shared marshmallow schemas: each route module
documents its own paths (``document(spec)``); this module holds the shared pieces."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.examples import EXAMPLES

ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
# Every status services/common/errors.py (and the HQ routes) answer with, on every
# authenticated operation: the checks behind them (token, role, branch, body size and type,
# the store) run before any route's own logic, so each operation can return each.
ERROR_STATUSES = {
    400: "请求格式错误 / Malformed request (JSON, query or path value)",
    401: "缺少或无效的令牌 / Missing or unknown bearer token",
    403: "无权操作或非本分支 / The token's role or branch may not do this",
    404: "不存在 / No such resource in the caller's branch",
    409: "状态冲突 / The resource's state does not allow this step (or a concurrent change)",
    413: "请求体过大 / Request body over the gateway's limit",
    415: "不是 JSON / The body is not application/json",
    422: "校验失败 / A field fails validation; `fields` names each",
    504: "服务超时 / A service did not answer in time; the change may have been made",
}
ERRORS = {str(code): {**ERROR, "description": text} for code, text in ERROR_STATUSES.items()}
# A store or broker outage: nothing was changed; try again after the Retry-After seconds.
ERRORS["503"] = {**ERROR,
                 "description": "暂不可用 / Unavailable (store or broker); see Retry-After",
                 "headers": {"Retry-After": {"schema": {"type": "integer"}}}}
HEALTH_TAG = {"name": "health", "description": "存活与就绪 / Liveness and readiness probes"}


# Headers every operation reads: the language of error messages and the request's id.
HEADERS = ["AcceptLanguage", "RequestId"]  # apispec makes a name a $ref to the component


def json_body(schema: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def operation(summary: str, ok: dict, body: str | None = None,
              params: list | None = None) -> dict:
    """An authenticated operation with its success responses and the shared errors."""
    op = {"summary": summary, "security": [{"bearer": []}], "responses": {**ok, **ERRORS}}
    if body:
        op["requestBody"] = {"required": True, **json_body(body)}
    op["parameters"] = [*(params or []), *HEADERS]
    return op


def path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def operation_id(method: str, path: str) -> str:
    """A stable id from the method and path, unique as they are, e.g.
    ``POST /api/v1/orders/{order_id}/check-in`` -> ``postOrdersByOrderIdCheckIn``."""
    words = [method.lower()]
    for segment in path.removeprefix("/api/v1").strip("/").split("/"):
        param = segment.startswith("{")
        parts = [p for p in re.split(r"[^A-Za-z0-9]+", segment) if p]
        words.append(("By" if param else "") + "".join(p[:1].upper() + p[1:] for p in parts))
    return "".join(words)


def _tag(document: Callable[[APISpec], None]) -> dict:
    """A route module's tag: its name, described by its docstring's first sentence."""
    module = __import__(document.__module__, fromlist=["_"])
    first = (module.__doc__ or document.__module__).strip().split("\n\n")[0]
    return {"name": document.__module__.rsplit(".", 1)[-1],
            "description": " ".join(first.split())}


def _finish(paths: dict, tag: str) -> None:
    """Tags, ids and request examples on the operations a documenter added."""
    for path, operations in paths.items():
        for method, op in operations.items():
            op.setdefault("tags", [tag])
            op.setdefault("operationId", operation_id(method, path))
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            name = body and body["schema"].get("$ref", "").rsplit("/", 1)[-1]
            if name in EXAMPLES:
                body.setdefault("example", EXAMPLES[name])


def build_spec(documenters: Iterable[Callable[[APISpec], None]]) -> dict:
    spec = APISpec(title="aftersales gateway", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object"}}})
    spec.components.parameter("AcceptLanguage", "header", {
        "name": "Accept-Language", "required": False,
        "description": "错误信息的语言 / language of error messages: Chinese (default) or "
                       "English; the error code never changes",
        "schema": {"type": "string", "maxLength": 200}, "example": "en"})
    spec.components.parameter("RequestId", "header", {
        "name": "X-Request-Id", "required": False,
        "description": "请求编号 / the request's id, answered in the same header and written "
                       "in every service's log; another value is replaced by a new id",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}})
    paths = spec._paths  # apispec keeps the paths added so far here, in order
    for document in documenters:
        before = set(paths)
        document(spec)
        tag = _tag(document)
        spec.tag(tag)
        _finish({p: ops for p, ops in paths.items() if p not in before}, tag["name"])
    spec.tag(HEALTH_TAG)
    for path, summary in (("/health/live", "存活 / Liveness: the process answers"),
                          ("/health/ready", "就绪 / Readiness: the process and its store"),
                          ("/health", "就绪 / Readiness (the same as /health/ready)")):
        spec.path(path, operations={"get": {"summary": summary, "responses": {
            "200": {"description": "OK"}, "503": ERRORS["503"]}}})
        _finish({path: spec._paths[path]}, HEALTH_TAG["name"])
    return spec.to_dict()
