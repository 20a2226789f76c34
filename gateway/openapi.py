"""The OpenAPI document, generated from the shared marshmallow schemas."""

from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from schemas.orders import STEP_SCHEMAS, OrderOut, OrderQuery, ServiceRequestIn
from schemas.technicians import TechnicianIn, TechnicianOut, TechnicianPatch

ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
ERRORS = {str(code): ERROR for code in (400, 401, 403, 404, 409, 413, 415, 422, 504)}


def _json(schema: str) -> dict:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _op(summary: str, ok: dict, body: str | None = None, params: list | None = None) -> dict:
    op = {"summary": summary, "security": [{"bearer": []}], "responses": {**ok, **ERRORS}}
    if body:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


@lru_cache(maxsize=1)
def build_spec() -> dict:
    spec = APISpec(title="aftersales gateway", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object"}}})
    for name, schema in (("ServiceRequest", ServiceRequestIn), ("Order", OrderOut),
                         ("Technician", TechnicianOut), ("TechnicianCreate", TechnicianIn),
                         ("TechnicianPatch", TechnicianPatch)):
        spec.components.schema(name, schema=schema)
    for action, schema in STEP_SCHEMAS.items():
        spec.components.schema(f"Step_{action.replace('-', '_')}", schema=schema)
    spec.components.schema("OrderPage", {"type": "object", "properties": {
        "total": {"type": "integer"}, "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}}})

    order = _path_param("order_id")
    spec.path("/api/v1/requests", operations={"post": _op(
        "Take a customer's request: a new order (201), or the open order it reminds of (200)",
        {"201": {"description": "Order created", **_json("Order")},
         "200": {"description": "Existing order (reminder or repeated call_id)",
                 **_json("Order")}}, body="ServiceRequest")})
    spec.path("/api/v1/orders", operations={"get": _op(
        "List orders of the caller's branch (phones and addresses masked)",
        {"200": {"description": "A page of orders", **_json("OrderPage")}},
        params=[{"in": "query", "schema": OrderQuery}])})
    spec.path("/api/v1/orders/{order_id}", operations={"get": _op(
        "One order with deadlines and milestones",
        {"200": {"description": "The order", **_json("Order")}}, params=[order])})
    spec.path("/api/v1/orders/{order_id}/timeline", operations={"get": _op(
        "Every step of an order, time-stamped", {"200": {"description": "Timeline"}},
        params=[order])})
    for action in STEP_SCHEMAS:
        spec.path(f"/api/v1/orders/{{order_id}}/{action}", operations={"post": _op(
            f"Order step: {action}", {"200": {"description": "The order after the step",
                                              **_json("Order")}},
            body=f"Step_{action.replace('-', '_')}", params=[order])})
    spec.path("/api/v1/technicians", operations={
        "get": _op("Technicians of the branch", {"200": {"description": "Technicians"}}),
        "post": _op("Create a technician", {"201": {"description": "Created",
                                                    **_json("Technician")}},
                    body="TechnicianCreate")})
    spec.path("/api/v1/technicians/{technician_id}", operations={
        "get": _op("One technician", {"200": {"description": "Technician",
                                              **_json("Technician")}},
                   params=[_path_param("technician_id")]),
        "patch": _op("Update a technician", {"200": {"description": "Updated",
                                                     **_json("Technician")}},
                     body="TechnicianPatch", params=[_path_param("technician_id")])})
    spec.path("/health", operations={"get": {"summary": "Liveness",
                                             "responses": {"200": {"description": "OK"}}}})
    return spec.to_dict()
