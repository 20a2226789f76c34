"""Requests, work orders and technicians: intake and dispatch over HTTP."""

from __future__ import annotations

from apispec import APISpec
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy

from gateway.auth import ROLES, STAFF, Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from schemas.orders import STEP_SCHEMAS, OrderOut, OrderQuery, ServiceRequestIn
from schemas.technicians import TechnicianIn, TechnicianOut, TechnicianPatch
from services.common.errors import NotFound
from services.common.privacy import mask_personal

# Which roles may call each operation. Technicians are further limited to their own orders.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "create_request": ("agent", *STAFF),
    "read_orders": ROLES,
    "accept": ("technician", *STAFF),
    "reject": ("technician", *STAFF),
    "contact": ("technician", *STAFF),
    "appointment": ("technician", "agent", *STAFF),
    "check-in": ("technician", *STAFF),
    "leave": ("technician", *STAFF),
    "complete": ("technician", *STAFF),
    "wait-parts": ("technician", *STAFF),
    "resume": ("technician", *STAFF),
    "pause": ("technician", "agent", *STAFF),
    "unpause": ("technician", "agent", *STAFF),
    "assign": STAFF,
    "cancel": ("agent", *STAFF),
    "approve-delay": ("supervisor", "admin"),
    "read_technicians": STAFF,
    "write_technicians": STAFF,
}


def _step_operation(kwargs: dict) -> str:
    if kwargs.get("action") not in STEP_SCHEMAS:
        raise NotFound(f"unknown order action {kwargs.get('action')!r}")
    return kwargs["action"]


COMPLETION_IMAGES = ("signature_png", "photos")


def _listed(order: dict) -> dict:
    """An order as a list shows it: without the completion's images (the customer's
    signature is personal; each is KBs an order); the order's own resource has them."""
    completion = order.get("completion")
    if not completion or not any(key in completion for key in COMPLETION_IMAGES):
        return order
    return {**order, "completion": {key: value for key, value in completion.items()
                                    if key not in COMPLETION_IMAGES}}


class OrderRoutes:
    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")

    # -- requests and orders ---------------------------------------------------------
    @http("POST", "/api/v1/requests")
    @endpoint("create_request")
    def create_request(self, request, caller: Caller):
        order = self._call(self.intake.create_request, self._body(request), caller.branch,
                           caller.staff_id)
        return json_response(201 if order.pop("created", False) else 200, order)

    @http("GET", "/api/v1/orders")
    @endpoint("read_orders")
    def list_orders(self, request, caller: Caller):
        params = request.args.to_dict()
        page = self._call(self.dispatch.list_orders, params, caller.branch,
                          caller.technician_id if caller.role == "technician" else None)
        page["items"] = [mask_personal(_listed(item)) for item in page["items"]]
        return json_response(200, page)

    @http("GET", "/api/v1/orders/<string:order_id>")
    @endpoint("read_orders")
    def get_order(self, request, caller: Caller, order_id: str):
        return json_response(200, self._order(caller, order_id))

    @http("GET", "/api/v1/orders/<string:order_id>/timeline")
    @endpoint("read_orders")
    def get_timeline(self, request, caller: Caller, order_id: str):
        order = self._order(caller, order_id)
        return json_response(200, {"order_id": order_id, "status": order["status"],
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
    @endpoint(_step_operation)
    def order_step(self, request, caller: Caller, order_id: str, action: str):
        order = self._call(self.dispatch.step, order_id, action, self._body(request),
                           caller.as_actor())
        return json_response(200, order)

    # -- technicians -----------------------------------------------------------------
    @http("GET", "/api/v1/technicians")
    @endpoint("read_technicians")
    def list_technicians(self, request, caller: Caller):
        return json_response(200, {"items": self._call(self.dispatch.list_technicians,
                                                       caller.branch)})

    @http("POST", "/api/v1/technicians")
    @endpoint("write_technicians")
    def create_technician(self, request, caller: Caller):
        return json_response(201, self._call(self.dispatch.create_technician,
                                             self._body(request), caller.branch))

    @http("GET", "/api/v1/technicians/<string:technician_id>")
    @endpoint("read_technicians")
    def get_technician(self, request, caller: Caller, technician_id: str):
        return json_response(200, self._call(self.dispatch.get_technician, technician_id,
                                             caller.branch))

    @http("PATCH", "/api/v1/technicians/<string:technician_id>")
    @endpoint("write_technicians")
    def update_technician(self, request, caller: Caller, technician_id: str):
        return json_response(200, self._call(self.dispatch.update_technician, technician_id,
                                             self._body(request), caller.branch))


def document(spec: APISpec) -> None:
    """The OpenAPI paths of the routes above."""
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

    order = path_param("order_id")
    spec.path("/api/v1/requests", operations={"post": operation(
        "Take a customer's request: a new order (201), or the open order it reminds of (200)",
        {"201": {"description": "Order created", **json_body("Order")},
         "200": {"description": "Existing order (reminder or repeated call_id)",
                 **json_body("Order")}}, body="ServiceRequest")})
    spec.path("/api/v1/orders", operations={"get": operation(
        "List orders of the caller's branch (phones and addresses masked, images left out)",
        {"200": {"description": "A page of orders", **json_body("OrderPage")}},
        params=[{"in": "query", "schema": OrderQuery}])})
    spec.path("/api/v1/orders/{order_id}", operations={"get": operation(
        "One order with deadlines and milestones",
        {"200": {"description": "The order", **json_body("Order")}}, params=[order])})
    spec.path("/api/v1/orders/{order_id}/timeline", operations={"get": operation(
        "Every step of an order, time-stamped", {"200": {"description": "Timeline"}},
        params=[order])})
    for action in STEP_SCHEMAS:
        spec.path(f"/api/v1/orders/{{order_id}}/{action}", operations={"post": operation(
            f"Order step: {action}", {"200": {"description": "The order after the step",
                                              **json_body("Order")}},
            body=f"Step_{action.replace('-', '_')}", params=[order])})
    spec.path("/api/v1/technicians", operations={
        "get": operation("Technicians of the branch", {"200": {"description": "Technicians"}}),
        "post": operation("Create a technician", {"201": {"description": "Created",
                                                          **json_body("Technician")}},
                          body="TechnicianCreate")})
    tech = path_param("technician_id")
    spec.path("/api/v1/technicians/{technician_id}", operations={
        "get": operation("One technician", {"200": {"description": "Technician",
                                                    **json_body("Technician")}},
                         params=[tech]),
        "patch": operation("Update a technician", {"200": {"description": "Updated",
                                                           **json_body("Technician")}},
                           body="TechnicianPatch", params=[tech])})
