"""Warehouse work: receipts (入库 with inspection), reservations, releases, transfers,
purchases, counts, and the approvals a requisition (领用), scrap (报废) or count adjustment
(盘点) needs."""

from __future__ import annotations

import uuid
from typing import Any

from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.inventory.base import KeeperBase
from services.inventory.domain import sourcing
from services.inventory.domain.catalogue import Location
from services.inventory.store import (
    REQUESTS,
    TRANSFERS,
)


class Warehouse(KeeperBase):
    """The storekeeper's work on stock itself."""

    # -- warehouse work ----------------------------------------------------------------
    def receive(self, branch: str, payload: dict, by: str) -> dict:
        """入库 with the inspection result; accepted units may fill backorders."""
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        receipt_id = payload.get("receipt_id") or uuid.uuid4().hex[:12]
        details = {"rejected": payload["rejected"] or None,
                   "reject_reason": payload.get("reject_reason"),
                   "purchase_id": payload.get("purchase_id"),
                   "delivery_note": payload.get("delivery_note"), "receipt_id": receipt_id}
        if payload.get("purchase_id"):
            purchase = self.store.get(TRANSFERS, payload["purchase_id"], branch)
            if purchase is None or purchase.get("kind") != "purchase":
                raise NotFound(f"purchase {payload['purchase_id']} not found")
            self.store.move(TRANSFERS, purchase["_id"], ("requested", "sent"),
                            {"status": "received", "received_at": self.now})
        if payload["accepted"]:
            self.move(loc, sku, "receive", payload["accepted"], f"receipt:{receipt_id}", by,
                      **details)
            self.fill_backorders(branch, sku)
        else:
            self.move(loc, sku, "inspection_reject", payload["rejected"],
                      f"receipt:{receipt_id}", by, **details)
        return self.balance_view(loc, sku)

    def reserve(self, branch: str, payload: dict, by: str) -> dict:
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        if not self.move(loc, sku, "reserve", payload["quantity"],
                         f"manual:{uuid.uuid4().hex}", by, payload["order_id"]):
            raise Conflict("not enough free stock", {"quantity": ["More than is free here."]})
        return self.balance_view(loc, sku)

    def release(self, branch: str, payload: dict, by: str) -> dict:
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        if not self.move(loc, sku, "release", payload["quantity"],
                         f"manual:{uuid.uuid4().hex}", by, payload["order_id"]):
            raise Conflict("the order holds less than that here",
                           {"quantity": ["More than the order holds here."]})
        self.fill_backorders(branch, sku)
        return self.balance_view(loc, sku)

    def create_transfer(self, branch: str, payload: dict, by: str) -> dict:
        """A transfer between two of the branch's locations, sent at once."""
        source = self.location(payload["from_location"], branch)
        target = self.location(payload["to_location"], branch)
        sku = self.part(payload["sku"]).sku
        transfer_id = f"T-{uuid.uuid4().hex[:12]}"
        self.store.insert(TRANSFERS, {
            "_id": transfer_id, "kind": "transfer", "branch": branch, "sku": sku,
            "quantity": payload["quantity"], "from_location": source.location_id,
            "to_location": target.location_id, "order_id": None, "status": "requested",
            "expected_at": sourcing.transfer_eta(self.now, self.catalogue.transfer_hours),
            "created_at": self.now, "created_by": by})
        return self.send_transfer(branch, transfer_id, by)

    def create_purchase(self, branch: str, payload: dict, by: str) -> dict:
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        if payload["expected_at"] < self.now:
            raise InvalidInput("the arrival is in the past", {"expected_at": ["In the past."]})
        purchase_id = f"P-{uuid.uuid4().hex[:12]}"
        self.store.insert(TRANSFERS, {
            "_id": purchase_id, "kind": "purchase", "branch": branch, "sku": sku,
            "quantity": payload["quantity"], "from_location": None,
            "to_location": loc.location_id, "order_id": None, "status": "sent",
            "expected_at": payload["expected_at"], "created_at": self.now, "created_by": by})
        return self.doc_view(self.store.get(TRANSFERS, purchase_id))

    def send_transfer(self, branch: str, transfer_id: str, by: str) -> dict:
        transfer = self._transfer(branch, transfer_id)
        if transfer["status"] != "requested":
            raise Conflict(f"the transfer is {transfer['status']}")
        source = self.catalogue.locations[transfer["from_location"]]
        kind = "transfer_out_reserved" if transfer.get("order_id") else "transfer_out"
        if not self.move(source, transfer["sku"], kind, transfer["quantity"],
                         f"{transfer_id}:out", by, transfer.get("order_id"),
                         transfer_id=transfer_id):
            self.store.move(TRANSFERS, transfer_id, "requested", {"status": "cancelled"})
            raise Conflict("not enough free stock at the source",
                           {"quantity": ["More than is free there."]})
        self.store.move(TRANSFERS, transfer_id, "requested",
                        {"status": "sent", "sent_at": self.now, "sent_by": by})
        return self.doc_view(self.store.get(TRANSFERS, transfer_id))

    def receive_transfer(self, branch: str, transfer_id: str, by: str) -> dict:
        transfer = self._transfer(branch, transfer_id)
        if transfer["status"] != "sent" or transfer["kind"] != "transfer":
            raise Conflict(f"the transfer is {transfer['status']}; only a sent transfer "
                           "is received (purchases arrive through a receipt)")
        target = self.catalogue.locations[transfer["to_location"]]
        order_id = transfer.get("order_id")
        kind = "transfer_in_reserved" if order_id else "transfer_in"
        self.move(target, transfer["sku"], kind, transfer["quantity"], f"{transfer_id}:in",
                  by, order_id, transfer_id=transfer_id)
        self.store.move(TRANSFERS, transfer_id, "sent",
                        {"status": "received", "received_at": self.now, "received_by": by})
        if order_id:
            self._line_in_hand(order_id, transfer["line_id"], target.location_id)
        else:
            self.fill_backorders(branch, transfer["sku"])
        return self.doc_view(self.store.get(TRANSFERS, transfer_id))

    def _transfer(self, branch: str, transfer_id: str) -> dict:
        transfer = self.store.get(TRANSFERS, transfer_id, branch)
        if transfer is None:
            raise NotFound(f"transfer {transfer_id} not found")
        return transfer

    # -- approvals: requisition (领用), scrap (报废), count adjustments (盘点) --------------
    def create_request(self, branch: str, payload: dict, by: str) -> dict:
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        return self._new_request(branch, payload["kind"], loc, sku, payload["quantity"], by,
                                 reason=payload["reason"], order_id=payload.get("order_id"))

    def count(self, branch: str, payload: dict, by: str) -> dict:
        """A count: recorded in the ledger; a variance becomes an adjustment awaiting
        approval (the books never change by hand)."""
        loc = self.location(payload["location"], branch)
        sku = self.part(payload["sku"]).sku
        doc = self.store.balance(loc.location_id, sku) or {"on_hand": 0}
        variance = payload["counted"] - doc["on_hand"]
        count_id = uuid.uuid4().hex[:12]
        self.move(loc, sku, "count", 1, f"count:{count_id}", by,  # one count, no change
                  counted=payload["counted"], on_books=doc["on_hand"], variance=variance)
        result: dict[str, Any] = {"location": loc.location_id, "sku": sku,
                                  "counted": payload["counted"], "on_books": doc["on_hand"],
                                  "variance": variance, "adjustment": None}
        if variance:
            result["adjustment"] = self._new_request(
                branch, "adjustment", loc, sku, abs(variance), by, reason=payload.get("note")
                or "count variance", direction="in" if variance > 0 else "out",
                counted=payload["counted"], on_books=doc["on_hand"])
        return result

    def _new_request(self, branch: str, kind: str, loc: Location, sku: str, quantity: int,
                     by: str, **extra: Any) -> dict:
        request_id = f"R-{uuid.uuid4().hex[:12]}"
        self.store.insert(REQUESTS, {
            "_id": request_id, "kind": kind, "branch": branch, "location": loc.location_id,
            "sku": sku, "quantity": quantity, "status": "pending", "requested_by": by,
            "created_at": self.now, **extra})
        return self.doc_view(self.store.get(REQUESTS, request_id))

    def decide(self, branch: str, request_id: str, approve: bool, by: str,
               note: str | None) -> dict:
        request = self.store.get(REQUESTS, request_id, branch)
        if request is None:
            raise NotFound(f"request {request_id} not found")
        if request["status"] != "pending":
            raise Conflict(f"the request is {request['status']}")
        if request["requested_by"] == by:
            raise Forbidden("a request is approved by someone other than its author")
        if approve:
            self._apply_request(request, by)
        status = "approved" if approve else "rejected"
        self.store.move(REQUESTS, request_id, "pending", {
            "status": status, "decided_by": by, "decided_at": self.now, "note": note})
        return self.doc_view(self.store.get(REQUESTS, request_id))

    def _apply_request(self, request: dict, by: str) -> None:
        kind = {"requisition": "issue", "scrap": "scrap"}.get(request["kind"]) or (
            "adjust_in" if request.get("direction") == "in" else "adjust_out")
        loc = self.catalogue.locations[request["location"]]
        if not self.move(loc, request["sku"], kind, request["quantity"],
                         f"{request['_id']}:apply", by, request_id=request["_id"],
                         reason=request.get("reason")):
            raise Conflict("not enough free stock to apply this now",
                           {"quantity": ["More than is free here."]})
        if kind == "adjust_in":
            self.fill_backorders(request["branch"], request["sku"])

