"""Parts and stock: the inventory service over HTTP (warehouse keepers, technicians,
dispatchers, supervisors, finance, HQ audit).

Parts for a job are asked for on the order (``POST /api/v1/orders/{id}/parts-request``):
the gateway checks the order with dispatch as for any order step (branch, and a
technician only on their own order), and inventory decides where the parts come from;
dispatch hears of a shortage through ``inventory.parts_short``. Inventory owns the
decision because it owns the stock; dispatch needs only the outcome.
"""

from __future__ import annotations

from apispec import APISpec
from nameko.rpc import RpcProxy

from gateway.auth import ROLES, STAFF, Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import operation, path_param
from schemas.inventory import (
    CountIn,
    DecisionIn,
    MovementQuery,
    OldPartReturnIn,
    PartsRequestIn,
    PurchaseIn,
    ReceiptIn,
    ReservationIn,
    StatusQuery,
    StockQuery,
    StockRequestIn,
    TransferIn,
)
from services.common.errors import NotFound

KEEPERS = ("warehouse", "admin")
READERS = ("warehouse", "technician", "finance", "hq_auditor", *STAFF)

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read_parts": ROLES,
    "read_stock": READERS,
    "read_valuation": ("warehouse", "finance", "hq_auditor", "supervisor", "admin"),
    "receive_stock": KEEPERS,
    "count_stock": KEEPERS,
    "reserve_stock": ("warehouse", *STAFF),
    "release_stock": ("warehouse", *STAFF),
    "transfer_stock": ("warehouse", *STAFF),
    "send_transfer": ("warehouse", *STAFF),
    "receive_transfer": ("warehouse", "technician", *STAFF),
    "purchase_stock": KEEPERS,
    "request_stock": ("warehouse", "technician", *STAFF),
    "decide_stock_request": ("supervisor", "admin"),
    "request_parts": ("technician", "warehouse", *STAFF),
    "read_order_parts": READERS,
    "return_old_part": ("warehouse", "technician", *STAFF),
}
# POST /api/v1/stock/<command>: path word -> (operation, service command)
STOCK_COMMANDS = {"receipts": ("receive_stock", "receive"),
                  "reservations": ("reserve_stock", "reserve"),
                  "releases": ("release_stock", "release"),
                  "counts": ("count_stock", "count")}


def _by(caller: Caller) -> str:
    return caller.technician_id or f"{caller.role}@{caller.branch}"


def _stock_operation(kwargs: dict) -> str:
    if kwargs.get("command") not in STOCK_COMMANDS:
        raise NotFound(f"unknown stock command {kwargs.get('command')!r}")
    return STOCK_COMMANDS[kwargs["command"]][0]


def _transfer_operation(kwargs: dict) -> str:
    if kwargs.get("step") not in ("send", "receive"):
        raise NotFound(f"unknown transfer step {kwargs.get('step')!r}")
    return f"{kwargs['step']}_transfer"


def _decision_operation(kwargs: dict) -> str:
    if kwargs.get("decision") not in ("approve", "reject"):
        raise NotFound(f"unknown decision {kwargs.get('decision')!r}")
    return "decide_stock_request"


class InventoryRoutes:
    inventory = RpcProxy("inventory")
    dispatch = RpcProxy("dispatch")

    @http("GET", "/api/v1/parts")
    @endpoint("read_parts")
    def list_parts(self, request, caller: Caller):
        return json_response(200, {"items": self._call(self.inventory.parts)})

    @http("GET", "/api/v1/stock")
    @endpoint("read_stock")
    def list_stock(self, request, caller: Caller):
        return json_response(200, self._call(self.inventory.stock, request.args.to_dict(),
                                             caller.branch))

    @http("GET", "/api/v1/stock/movements")
    @endpoint("read_stock")
    def list_movements(self, request, caller: Caller):
        return json_response(200, self._call(self.inventory.movements,
                                             request.args.to_dict(), caller.branch))

    @http("GET", "/api/v1/stock/valuation")
    @endpoint("read_valuation")
    def stock_valuation(self, request, caller: Caller):
        return json_response(200, self._call(self.inventory.valuation, caller.branch))

    @http("POST", "/api/v1/stock/<string:command>")
    @endpoint(_stock_operation)
    def stock_command(self, request, caller: Caller, command: str):
        result = self._call(self.inventory.stock_command, STOCK_COMMANDS[command][1],
                            self._body(request), caller.branch, _by(caller))
        return json_response(201 if command in ("receipts", "counts") else 200, result)

    @http("POST", "/api/v1/transfers")
    @endpoint("transfer_stock")
    def create_transfer(self, request, caller: Caller):
        return json_response(201, self._call(self.inventory.stock_command, "transfer",
                                             self._body(request), caller.branch, _by(caller)))

    @http("POST", "/api/v1/transfers/<string:transfer_id>/<string:step>")
    @endpoint(_transfer_operation)
    def transfer_step(self, request, caller: Caller, transfer_id: str, step: str):
        return json_response(200, self._call(self.inventory.transfer_step, transfer_id, step,
                                             caller.branch, _by(caller)))

    @http("POST", "/api/v1/purchases")
    @endpoint("purchase_stock")
    def create_purchase(self, request, caller: Caller):
        return json_response(201, self._call(self.inventory.stock_command, "purchase",
                                             self._body(request), caller.branch, _by(caller)))

    @http("POST", "/api/v1/stock-requests")
    @endpoint("request_stock")
    def create_stock_request(self, request, caller: Caller):
        return json_response(201, self._call(self.inventory.stock_command, "request",
                                             self._body(request), caller.branch, _by(caller)))

    @http("POST", "/api/v1/stock-requests/<string:request_id>/<string:decision>")
    @endpoint(_decision_operation)
    def decide_stock_request(self, request, caller: Caller, request_id: str, decision: str):
        return json_response(200, self._call(self.inventory.decide_request, request_id,
                                             decision == "approve", self._body(request),
                                             caller.branch, _by(caller)))

    @http("GET", "/api/v1/backorders")
    @endpoint("read_stock")
    def list_backorders(self, request, caller: Caller):
        return self._listing(request, caller, "backorders")

    @http("GET", "/api/v1/transfers")
    @endpoint("read_stock")
    def list_transfers(self, request, caller: Caller):
        return self._listing(request, caller, "transfers")

    @http("GET", "/api/v1/stock-requests")
    @endpoint("read_stock")
    def list_stock_requests(self, request, caller: Caller):
        return self._listing(request, caller, "requests")

    @http("GET", "/api/v1/writeoffs")
    @endpoint("read_stock")
    def list_writeoffs(self, request, caller: Caller):
        return self._listing(request, caller, "writeoffs")

    def _listing(self, request, caller: Caller, what: str):
        return json_response(200, self._call(self.inventory.listing, what,
                                             request.args.to_dict(), caller.branch))

    @http("POST", "/api/v1/writeoffs/<string:order_id>/returns")
    @endpoint("return_old_part")
    def return_old_part(self, request, caller: Caller, order_id: str):
        return json_response(200, self._call(self.inventory.return_old_part, order_id,
                                             self._body(request), caller.branch, _by(caller)))

    # -- parts on an order ---------------------------------------------------------------
    @http("POST", "/api/v1/orders/<string:order_id>/parts-request")
    @endpoint("request_parts")
    def request_parts(self, request, caller: Caller, order_id: str):
        body = self._body(request)
        order = self._order(caller, order_id)  # 404: another branch's, or not theirs
        facts = {key: order.get(key) for key in ("order_id", "branch", "status",
                                                 "technician_id", "product", "lat", "lon")}
        return json_response(200, self._call(self.inventory.request_parts, facts, body,
                                             _by(caller)))

    @http("GET", "/api/v1/orders/<string:order_id>/parts")
    @endpoint("read_order_parts")
    def order_parts(self, request, caller: Caller, order_id: str):
        if caller.role == "technician":
            self._order(caller, order_id)  # only their own orders
        return json_response(200, self._call(self.inventory.job, order_id, caller.branch))


def document(spec: APISpec) -> None:
    """The OpenAPI paths of the routes above."""
    bodies = {"PartsRequest": PartsRequestIn, "Receipt": ReceiptIn,
              "Reservation": ReservationIn, "Count": CountIn, "Transfer": TransferIn,
              "Purchase": PurchaseIn, "StockRequest": StockRequestIn, "Decision": DecisionIn,
              "OldPartReturn": OldPartReturnIn}
    for name, schema in bodies.items():
        spec.components.schema(name, schema=schema)
    ok = {"200": {"description": "OK"}}
    created = {"201": {"description": "Created"}}
    spec.path("/api/v1/parts", operations={"get": operation(
        "The national parts catalogue (prices in yuan and fen)", ok)})
    spec.path("/api/v1/stock", operations={"get": operation(
        "Stock per location and part (below=reorder|safety for the 欠料 list)", ok,
        params=[{"in": "query", "schema": StockQuery}])})
    spec.path("/api/v1/stock/movements", operations={"get": operation(
        "The stock ledger, newest first", ok,
        params=[{"in": "query", "schema": MovementQuery}])})
    spec.path("/api/v1/stock/valuation", operations={"get": operation(
        "Stock value at cost, per location and location kind", ok)})
    for word, body in (("receipts", "Receipt"), ("reservations", "Reservation"),
                       ("releases", "Reservation"), ("counts", "Count")):
        spec.path(f"/api/v1/stock/{word}", operations={"post": operation(
            f"Stock {word}: one ledger movement (counts create an adjustment for approval)",
            created if word in ("receipts", "counts") else ok, body=body)})
    spec.path("/api/v1/transfers", operations={
        "post": operation("Transfer between two locations (sent at once)", created,
                          body="Transfer"),
        "get": operation("Transfers and purchases", ok,
                         params=[{"in": "query", "schema": StatusQuery}])})
    for step in ("send", "receive"):
        spec.path(f"/api/v1/transfers/{{transfer_id}}/{step}", operations={"post": operation(
            f"Transfer: {step}", ok, params=[path_param("transfer_id")])})
    spec.path("/api/v1/purchases", operations={"post": operation(
        "An expected purchase (its arrival dates backorders)", created, body="Purchase")})
    spec.path("/api/v1/stock-requests", operations={
        "post": operation("Requisition (领用) or scrap (报废), applied on approval", created,
                          body="StockRequest"),
        "get": operation("Requests awaiting or past approval", ok,
                         params=[{"in": "query", "schema": StatusQuery}])})
    for decision in ("approve", "reject"):
        spec.path(f"/api/v1/stock-requests/{{request_id}}/{decision}", operations={
            "post": operation(f"Stock request: {decision}", ok, body="Decision",
                              params=[path_param("request_id")])})
    for what in ("backorders", "writeoffs"):
        spec.path(f"/api/v1/{what}", operations={"get": operation(
            f"{what.capitalize()} (writeoffs: overdue=true)", ok,
            params=[{"in": "query", "schema": StatusQuery}])})
    spec.path("/api/v1/writeoffs/{order_id}/returns", operations={"post": operation(
        "Old part (旧件) returned against a warranty write-off", ok, body="OldPartReturn",
        params=[path_param("order_id")])})
    order = path_param("order_id")
    spec.path("/api/v1/orders/{order_id}/parts-request", operations={"post": operation(
        "Ask for parts at diagnosis: van, nearest stock (transfer) or backorder",
        {"200": {"description": "The order's parts: lines, shortages"}},
        body="PartsRequest", params=[order])})
    spec.path("/api/v1/orders/{order_id}/parts", operations={"get": operation(
        "The parts of an order: lines, shortages, consumption", ok, params=[order])})
