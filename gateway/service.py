"""HTTP gateway: authenticate, check the body's shape, call a service, map errors.

No business rule lives here; services validate again with the same shared schemas. The
routes live in ``gateway/routes/``, one mixin per domain, composed below.
"""

from __future__ import annotations

from functools import lru_cache

from gateway.console.routes import ConsoleRoutes
from gateway.http import GatewayBase, json_response
from gateway.observed import http
from gateway.openapi import build_spec
from gateway.routes import (
    billing,
    board,
    callbacks,
    complaints,
    customers,
    hq,
    inventory,
    orders,
)
from services.common.health import live, ready

ROUTE_MODULES = (orders, customers, inventory, billing, callbacks, complaints, board, hq)


def _permissions() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for module in ROUTE_MODULES:
        clash = table.keys() & module.PERMISSIONS.keys()
        if clash:
            raise RuntimeError(f"operations defined twice: {sorted(clash)}")
        table.update(module.PERMISSIONS)
    return table


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    return build_spec(module.document for module in ROUTE_MODULES)


class GatewayService(orders.OrderRoutes, customers.CustomerRoutes, inventory.InventoryRoutes,
                     billing.BillingRoutes, callbacks.CallbackRoutes, complaints.ComplaintRoutes,
                     board.BoardRoutes, hq.HqRoutes, ConsoleRoutes, GatewayBase):
    name = "gateway"
    permissions = _permissions()

    @live("GET", "/health/live")
    def health_live(self, request):
        """Liveness, answered without a worker (services/common/health.py)."""

    @ready("GET", "/health")
    @ready("GET", "/health/ready")
    def health(self, request):
        """Readiness (the gateway has no store: ready when live); without a worker."""

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        return self.metrics.exposition()

    @http("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return json_response(200, openapi_document())
