"""The OpenAPI document, generated from the shared marshmallow schemas: each route module
documents its own paths (``document(spec)``); this module holds the shared pieces."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
ERRORS = {str(code): ERROR for code in (400, 401, 403, 404, 409, 413, 415, 422, 504)}
# A store or broker outage: nothing was changed; try again after the Retry-After seconds.
ERRORS["503"] = {**ERROR, "description": "Unavailable (store or broker); see Retry-After",
                 "headers": {"Retry-After": {"schema": {"type": "integer"}}}}


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
    for document in documenters:
        document(spec)
    for path, summary in (("/health/live", "存活 / Liveness: the process answers"),
                          ("/health/ready", "就绪 / Readiness: the process and its store"),
                          ("/health", "就绪 / Readiness (the same as /health/ready)")):
        spec.path(path, operations={"get": {"summary": summary, "responses": {
            "200": {"description": "OK"}, "503": ERRORS["503"]}}})
    return spec.to_dict()
