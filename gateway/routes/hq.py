"""The HQ call centre: requests routed to the branch that owns the customer's region, over
that branch's broker (vhost). Active on a gateway started with ``HQ_ROUTING_FILE``; such a
gateway serves the ``HQ`` pseudo-branch (``BRANCHES=HQ``) and its ``hq_agent`` tokens."""

from __future__ import annotations

from apispec import APISpec
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider

from gateway.auth import Caller
from gateway.hq import BranchUnavailable, RoutingTable, call_branch, load_table
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from services.common.errors import InvalidInput, NotFound

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "hq_create_request": ("hq_agent",),
    "hq_read_orders": ("hq_agent",),
}


class HqRoutingProvider(DependencyProvider):
    """The routing table, loaded once at start-up (a bad file stops the gateway)."""

    def setup(self) -> None:
        path = self.container.config.get("hq_routing_file")
        self.table = load_table(path) if path else None

    def get_dependency(self, worker_ctx) -> RoutingTable | None:
        return self.table


class HqRoutes:
    hq_routing = HqRoutingProvider()

    def _table(self) -> RoutingTable:
        if self.hq_routing is None:
            raise NotFound("HQ routing is not configured on this gateway (HQ_ROUTING_FILE)")
        return self.hq_routing

    @http("POST", "/api/v1/hq/requests")
    @endpoint("hq_create_request")
    def hq_create_request(self, request, caller: Caller):
        table = self._table()
        body = self._body(request)
        region = (body.get("customer") or {}).get("region_code") \
            if isinstance(body.get("customer"), dict) else None
        if not isinstance(region, str) or not region.isdigit():
            raise InvalidInput("the request has invalid fields", {"customer": {
                "region_code": ["Give the customer's 6-digit region code."]}})
        branch = table.branch_for_region(region)
        if branch is None:
            raise InvalidInput(f"no branch owns region {region}", {"customer": {
                "region_code": ["No branch owns this region."]}})
        order = call_branch(table, branch, "intake", "create_request", body, branch,
                            caller.staff_id)
        return json_response(201 if order.pop("created", False) else 200, order)

    @http("GET", "/api/v1/hq/orders/<string:order_id>")
    @endpoint("hq_read_orders")
    def hq_get_order(self, request, caller: Caller, order_id: str):
        table = self._table()
        branch = table.branch_of_order(order_id)
        if branch is None:
            raise NotFound(f"order {order_id} not found")
        try:
            order = call_branch(table, branch, "dispatch", "get_order", order_id, branch)
        except (RemoteError, BranchUnavailable) as exc:  # not dispatched (yet): intake's
            if isinstance(exc, RemoteError) and exc.exc_type != "NotFound":
                raise
            order = call_branch(table, branch, "intake", "get_request", order_id, branch)
        return json_response(200, order)


def document(spec: APISpec) -> None:
    spec.path("/api/v1/hq/requests", operations={"post": operation(
        "HQ call centre: take a request; routed to the branch owning the region",
        {"201": {"description": "Order created in that branch", **json_body("Order")},
         "200": {"description": "Existing order", **json_body("Order")}},
        body="ServiceRequest")})
    spec.path("/api/v1/hq/orders/{order_id}", operations={"get": operation(
        "HQ call centre: one order, from the branch its number names",
        {"200": {"description": "The order", **json_body("Order")}},
        params=[path_param("order_id")])})
