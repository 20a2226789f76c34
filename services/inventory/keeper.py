"""The storekeeper: parts for jobs, receipts, transfers, approvals, consumption.

Application layer over the store and the pure rules; knows nothing of nameko. Steps that
touch several documents are each idempotent (movement ids are derived from the job line,
transfer, backorder or request they belong to), so a retried call or a redelivered event
finishes the work without doing any of it twice.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common.clock import as_utc
from services.common.domain.branches import belongs_to
from services.common.domain.money import yuan
from services.common.domain.parts import Part
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.unit_of_work import UnitOfWork
from services.inventory.domain import ledger, sourcing
from services.inventory.domain.catalogue import Catalogue, Location
from services.inventory.domain.sourcing import Candidate
from services.inventory.store import (
    APPLIED,
    BACKORDERS,
    JOBS,
    REFUSED,
    REQUESTS,
    STOCK,
    TRANSFERS,
    WRITEOFFS,
    InventoryStore,
    stock_id,
)

BACKORDER_LEASE = timedelta(seconds=30)


class Keeper:
    def __init__(self, store: InventoryStore, catalogue: Catalogue, uow: UnitOfWork) -> None:
        self.store = store
        self.catalogue = catalogue
        self.uow = uow
        self.now = uow.now

    # -- helpers ---------------------------------------------------------------------
    def part(self, sku: str, field_name: str = "sku") -> Part:
        part = self.catalogue.parts.get(sku)
        if part is None:
            raise InvalidInput(f"unknown part {sku}", {field_name: ["Not in the catalogue."]})
        return part

    def location(self, location_id: str | None, branch: str) -> Location:
        loc = self.catalogue.locations.get(location_id or "")
        if loc is None or loc.branch != branch:  # another branch's store: not found
            raise NotFound(f"location {location_id} not found")
        return loc

    def warehouse(self, branch: str) -> Location:
        return next(loc for loc in self.catalogue.branch_locations(branch)
                    if loc.kind == "warehouse")

    def move(self, loc: Location, sku: str, kind: str, quantity: int, movement_id: str,
             by: str, order_id: str | None = None, **details: Any) -> bool:
        """True when the movement is in the ledger (now, or already: a retry)."""
        outcome = self.store.apply(loc, sku, self.catalogue.levels(loc, sku), kind,
                                   quantity, movement_id, self.now, by, order_id, **details)
        if outcome == APPLIED:
            self.uow.count("movements", loc.branch, kind)
            if ledger.KINDS[kind].on_hand:  # only on-hand changes cross the reorder point
                self._watch_level(loc, sku)
        return outcome != REFUSED

    def _watch_level(self, loc: Location, sku: str) -> None:
        """Falling below the reorder point flags the stock (and emits stock_low) once."""
        doc = self.store.balance(loc.location_id, sku)
        if doc is None:
            return
        low = doc["on_hand"] < doc.get("reorder_point", 0)
        if low == bool(doc.get("low")):
            return
        events = self.uow.events(loc.branch, "stock_low", location=loc.location_id, sku=sku,
                              on_hand=doc["on_hand"],
                              reorder_point=doc["reorder_point"]) if low else []
        if self.store.mark_low(doc["_id"], low, events, self.uow.claim_until) and events:
            self.uow.wrote(STOCK, doc["_id"], events)

    def _job_written(self, order_id: str, written: bool, events: list[dict]) -> bool:
        """After a job's conditional write: its events are relayed when it went in."""
        if written:
            self.uow.wrote(JOBS, order_id, events)
        return written

    # -- parts for a job ---------------------------------------------------------------
    def request_parts(self, order: dict, payload: dict, by: str) -> dict:
        """Reserve each part from the technician's van, else the nearest location with
        stock (a transfer to the van), else backorder it; tell dispatch of a shortage."""
        if not belongs_to(order["order_id"], order["branch"]):  # a caller's mixed facts
            raise NotFound(f"order {order['order_id']} not found")
        if order["status"] not in sourcing.REQUESTABLE_STATES:
            raise Conflict(f"parts cannot be requested for an order that is "
                           f"{order['status']}", {"status": [
                               f"Needs one of {', '.join(sourcing.REQUESTABLE_STATES)}."]})
        category = (order.get("product") or {}).get("category")
        errors = {}
        for index, line in enumerate(payload["parts"]):
            part = self.catalogue.parts.get(line["sku"])
            if part is None:
                errors[index] = {"sku": ["Not in the catalogue."]}
            elif not part.fits(category):
                errors[index] = {"sku": [f"Does not fit a {category}."]}
        if errors:
            raise InvalidInput("some parts cannot be supplied", {"parts": errors})
        # The client's id makes a retry safe; prefixed with the order, the ids made from it
        # (transfers, backorders, shortages) can never meet another order's, nor another
        # branch's, whatever id a client picks.
        request_id = f"{order['order_id']}-{payload.get('request_id') or uuid.uuid4().hex[:12]}"
        van = self.catalogue.van_of(order.get("technician_id"), order["branch"])
        lines = {f"{request_id}-{i}": {"sku": line["sku"], "quantity": line["quantity"],
                                       "state": sourcing.SOURCING, "request_id": request_id,
                                       "requested_at": self.now, "by": by}
                 for i, line in enumerate(payload["parts"])}
        self.store.open_job(order["order_id"], {
            "branch": order["branch"], "technician_id": order.get("technician_id"),
            "van": van.location_id if van else None, "category": category,
            "lat": order.get("lat"), "lon": order.get("lon"), "created_at": self.now},
            request_id, lines)
        job = self.store.job(order["order_id"])
        for line_id, line in job["lines"].items():
            if line["request_id"] == request_id and line["state"] == sourcing.SOURCING:
                self._source(job, line_id, line, by)
        self._open_shortage(order["order_id"], request_id)
        return self.job_view(order["order_id"], order["branch"])

    def _source(self, job: dict, line_id: str, line: dict, by: str) -> None:
        order_id, sku, quantity = job["_id"], line["sku"], line["quantity"]
        van = self.catalogue.locations.get(job.get("van") or "")
        hold = f"{line_id}:reserve"
        places = ([van] if van is not None else []) + self._nearest(job, sku, quantity, van)
        for loc in self._where_held(job["branch"], sku, hold) or places:
            if not self.move(loc, sku, "reserve", quantity, hold, by, order_id):
                continue  # taken meanwhile: the next nearest
            if van is None or loc.location_id == van.location_id:
                # In the van, or (no van) picked up where it is held.
                self.store.set_line(order_id, line_id, {"state": sourcing.RESERVED,
                                                        "location": loc.location_id})
                return
            eta = sourcing.transfer_eta(self.now, self.catalogue.transfer_hours)
            transfer_id = f"T-{line_id}"
            self.store.insert(TRANSFERS, {
                "_id": transfer_id, "kind": "transfer", "branch": job["branch"], "sku": sku,
                "quantity": quantity, "from_location": loc.location_id,
                "to_location": van.location_id, "order_id": order_id, "line_id": line_id,
                "status": "requested", "expected_at": eta, "created_at": self.now,
                "created_by": by})
            self.store.set_line(order_id, line_id, {
                "state": sourcing.IN_TRANSFER, "location": loc.location_id,
                "transfer_id": transfer_id, "eta": eta})
            return
        part = self.catalogue.parts[sku]
        eta = sourcing.backorder_eta(self.now, part, map(as_utc, self.store.inbound_etas(
            job["branch"], sku)))
        backorder_id = f"B-{line_id}"
        self.store.insert(BACKORDERS, {
            "_id": backorder_id, "branch": job["branch"], "sku": sku, "quantity": quantity,
            "order_id": order_id, "line_id": line_id, "status": "open", "eta": eta,
            "created_at": self.now, "lease_until": None})
        self.store.set_line(order_id, line_id, {"state": sourcing.BACKORDERED,
                                                "backorder_id": backorder_id, "eta": eta})

    def _nearest(self, job: dict, sku: str, quantity: int, van: Location | None
                 ) -> list[Location]:
        found = [Candidate(self.catalogue.locations[doc["location"]], doc["available"])
                 for doc in self.store.candidates(job["branch"], sku, quantity)
                 if doc["location"] in self.catalogue.locations]
        origin = van or self.warehouse(job["branch"])
        lat = job.get("lat") if job.get("lat") is not None else origin.lat
        lon = job.get("lon") if job.get("lon") is not None else origin.lon
        return sourcing.nearest_sources(found, quantity, lat, lon,
                                        van.location_id if van else None)

    def _open_shortage(self, order_id: str, request_id: str) -> None:
        """parts_short (once per request) when some of its parts must be awaited."""
        job = self.store.job(order_id)
        mine = {lid: line for lid, line in job["lines"].items()
                if line["request_id"] == request_id}
        waiting = [line for line in mine.values() if line["state"] in sourcing.WAITING]
        if not waiting:
            return
        shortage_id = f"S-{request_id}"
        eta = sourcing.shortage_eta(waiting)
        parts = [{"sku": line["sku"], "quantity": line["quantity"]} for line in waiting]
        events = self.uow.events(job["branch"], "parts_short", order_id=order_id,
                              shortage_id=shortage_id, parts=parts, eta=eta.isoformat())
        shortage = {"open": True, "eta": eta, "lines": sorted(mine), "opened_at": self.now}
        self._job_written(order_id, self.store.open_shortage(
            order_id, shortage_id, shortage, events, self.uow.claim_until), events)

    def _line_in_hand(self, order_id: str, line_id: str, location_id: str) -> None:
        self.store.set_line(order_id, line_id, {"state": sourcing.RESERVED,
                                                "location": location_id,
                                                "arrived_at": self.now})
        self._close_shortages(order_id)

    def _close_shortages(self, order_id: str) -> None:
        """parts_arrived once every line of a shortage is in hand. Checked after each
        line's own write, so the last line to arrive always sees all the others."""
        job = self.store.job(order_id)
        if job is None:
            return
        for shortage_id, shortage in job.get("shortages", {}).items():
            lines = [job["lines"][lid] for lid in shortage["lines"] if lid in job["lines"]]
            if shortage["open"] and sourcing.all_in_hand(lines):
                events = self.uow.events(job["branch"], "parts_arrived", order_id=order_id,
                                      shortage_id=shortage_id)
                self._job_written(order_id, self.store.close_shortage(
                    order_id, shortage_id, self.now, events, self.uow.claim_until), events)

    # -- backorders --------------------------------------------------------------------
    def fill_backorders(self, branch: str, sku: str | None = None) -> int:
        """Serve open backorders, oldest first, from stock that has come in. Each is
        claimed with a lease first, so replicas never fill one twice."""
        filled = 0
        for backorder in self.store.open_backorders(branch, sku):
            if self.store.claim_backorder(backorder["_id"], self.now,
                                          self.now + BACKORDER_LEASE):
                filled += self._fill(backorder)
        return filled

    def _fill(self, backorder: dict) -> int:
        job = self.store.job(backorder["order_id"]) or {"branch": backorder["branch"]}
        van = self.catalogue.locations.get(job.get("van") or "")
        sources = ([van] if van and self._has(van, backorder) else []) + self._nearest(
            {**job, "branch": backorder["branch"]}, backorder["sku"], backorder["quantity"],
            van)
        hold = f"{backorder['_id']}:fill"
        for loc in self._where_held(backorder["branch"], backorder["sku"], hold) or sources:
            if self.move(loc, backorder["sku"], "reserve", backorder["quantity"], hold,
                         "inventory", backorder["order_id"]):
                self.store.move(BACKORDERS, backorder["_id"], "open", {
                    "status": "filled", "filled_at": self.now, "location": loc.location_id})
                self._line_in_hand(backorder["order_id"], backorder["line_id"],
                                   loc.location_id)
                return 1
        self.store.move(BACKORDERS, backorder["_id"], "open", {"lease_until": None})
        return 0

    def _where_held(self, branch: str, sku: str, hold: str) -> list[Location]:
        """The location an earlier try already holds the part in, if any: a retry after a
        failure resumes there instead of holding the part a second time elsewhere (the
        ledger's once-only id is per location)."""
        location = self.catalogue.locations.get(
            self.store.location_of_movement(branch, sku, hold) or "")
        return [location] if location else []

    def _has(self, loc: Location, backorder: dict) -> bool:
        doc = self.store.balance(loc.location_id, backorder["sku"])
        return doc is not None and doc["available"] >= backorder["quantity"]

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

    # -- completion: consumption, releases, write-offs ---------------------------------
    def on_completed(self, branch: str, data: dict, event_id: str) -> bool:
        """Consume exactly the parts the completion reports: from the order's holds
        first, then the van; release what was held and not used; open a write-off for
        each warranty part until its old part is back. The plan is stored before any
        step runs, so a redelivery replays the same steps (each applied once).
        False for a redelivery of finished work."""
        order_id = data["order_id"]
        job = self.store.job(order_id)
        if job is not None and job.get("consumption"):
            return False
        completion = data.get("completion") or {}
        van = self.catalogue.van_of(data.get("technician_id"), branch)
        plan = (job or {}).get("consumption_plan")
        if plan is None:
            plan = self._store_plan(branch, order_id, data, self._plan(
                order_id, _totals(completion.get("parts_used") or []), van))
        consumed, unmatched, released = self._run_steps(order_id, plan["steps"], "completion")
        unmatched = list(plan["unknown"]) + unmatched
        self._cancel_waiting(order_id)
        warranty = data.get("warranty")  # the status decided by completion time
        if isinstance(warranty, dict):  # events of earlier versions carried intake's record
            warranty = warranty.get("status")
        self._open_writeoffs(branch, order_id, consumed, warranty, data)
        over = self._returns_at_completion(branch, order_id, completion, van)
        lines = [{"sku": s, "quantity": q} for s, q in _totals(consumed).items()]
        consumption = {"at": self.now, "lines": lines, "unmatched": unmatched,
                       "released": released, "over_returned": over, "event_id": event_id}
        events = self.uow.events(branch, "parts_consumed", order_id=order_id, lines=lines,
                              unmatched=unmatched)
        return self._job_written(order_id, self.store.record_consumption(
            order_id, consumption, events, self.uow.claim_until), events)

    def on_cancelled(self, order_id: str) -> list[dict]:
        """A cancelled order gives back what it held and stops waiting for parts."""
        _, _, released = self._run_steps(order_id, self._plan(order_id, {}, None)["steps"],
                                         "cancellation")
        self._cancel_waiting(order_id)
        return released

    def _run_steps(self, order_id: str, steps: list[dict], by: str
                   ) -> tuple[list[dict], list[dict], list[dict]]:
        """(consumed, unmatched, released) lines of a plan's movements."""
        consumed, unmatched, released = [], [], []
        for step in steps:
            loc = self.catalogue.locations[step["location"]]
            kind = step["kind"]
            done = self.move(loc, step["sku"], kind, step["quantity"], step["id"], by,
                             None if kind == "consume_unreserved" else order_id,
                             for_order=order_id)
            line = {"sku": step["sku"], "quantity": step["quantity"],
                    "location": step["location"]}
            if kind == "release":
                released += [line] if done else []
            elif done:
                consumed.append(line)
            else:
                unmatched.append({"sku": step["sku"], "quantity": step["quantity"]})
        return consumed, unmatched, released

    def _plan(self, order_id: str, used: dict[str, int], van: Location | None) -> dict:
        """The movements of a completion: consume from holds (the van's first), the rest
        from the van's free stock; release the holds not used."""
        holds = self._holds(order_id, van)
        steps, unknown = [], []
        for sku, quantity in used.items():
            if sku not in self.catalogue.parts:
                unknown.append({"sku": sku, "quantity": quantity})
                continue
            taken, rest = sourcing.split_use(quantity, holds.get(sku, []))
            steps += [{"kind": "consume", "location": loc, "sku": sku, "quantity": take,
                       "id": f"{order_id}:consume:{sku}"} for loc, take in taken]
            if rest and van is not None:
                steps.append({"kind": "consume_unreserved", "location": van.location_id,
                              "sku": sku, "quantity": rest,
                              "id": f"{order_id}:consume-free:{sku}"})
            elif rest:
                unknown.append({"sku": sku, "quantity": rest})
            holds[sku] = [(loc, held - dict(taken).get(loc, 0))
                          for loc, held in holds.get(sku, [])]
        for sku, held in holds.items():
            steps += [{"kind": "release", "location": loc, "sku": sku, "quantity": rest,
                       "id": f"{order_id}:release:{sku}"} for loc, rest in held if rest > 0]
        return {"steps": steps, "unknown": unknown}

    def _store_plan(self, branch: str, order_id: str, data: dict, plan: dict) -> dict:
        """The first plan stored wins; a concurrent redelivery replays that one."""
        return self.store.keep_consumption_plan(order_id, branch, data.get("technician_id"),
                                                self.now, plan)

    def _holds(self, order_id: str, van: Location | None) -> dict[str, list[tuple[str, int]]]:
        """The order's reservations per part: the van's first."""
        holds: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for doc in self.store.reserved_for(order_id):
            holds[doc["sku"]].append((doc["location"], doc["res"][order_id]))
        for held in holds.values():
            held.sort(key=lambda item: (item[0] != (van.location_id if van else None),
                                        item[0]))
        return holds

    def _cancel_waiting(self, order_id: str) -> None:
        for backorder in self.store.open_backorders_of(order_id):
            self.store.move(BACKORDERS, backorder["_id"], "open",
                            {"status": "cancelled", "cancelled_at": self.now})
        self.store.cancel_requested_transfers(order_id)

    def _open_writeoffs(self, branch: str, order_id: str, consumed: list[dict],
                        warranty: str | None, data: dict) -> None:
        if warranty == "out_of_warranty":
            return  # the customer paid for it: nothing to claim from the maker
        for sku, quantity in _totals(consumed).items():
            part = self.catalogue.parts[sku]
            if part.warranty_part:
                self.store.insert(WRITEOFFS, {
                    "_id": f"W-{order_id}-{sku}", "branch": branch, "order_id": order_id,
                    "sku": sku, "quantity": quantity, "outstanding": quantity, "returned": 0,
                    "returns": [], "status": "open", "opened_at": self.now,
                    "cost_fen": part.cost_price_fen * quantity,
                    "technician_id": data.get("technician_id")})

    def _returns_at_completion(self, branch: str, order_id: str, completion: dict,
                               van: Location | None) -> list[dict]:
        """Old parts handed back at completion; any beyond what was consumed is noted."""
        over = []
        for sku, quantity in _totals(completion.get("old_parts_returned") or []).items():
            if sku not in self.catalogue.parts or not self._take_return(
                    branch, order_id, sku, quantity, f"{order_id}:completion:{sku}", van,
                    "completion"):
                over.append({"sku": sku, "quantity": quantity})
        return over

    def return_old_part(self, branch: str, order_id: str, payload: dict, by: str) -> dict:
        """An old part (旧件) brought back later; more than was consumed is refused."""
        sku = self.part(payload["sku"]).sku
        loc = self.location(payload["location"], branch) if payload.get("location") \
            else self.warehouse(branch)
        writeoff_id = f"W-{order_id}-{sku}"
        if self.store.get(WRITEOFFS, writeoff_id, branch) is None:
            raise NotFound(f"no write-off of {sku} on order {order_id}")
        if not self._take_return(branch, order_id, sku, payload["quantity"],
                                 f"{order_id}:return:{uuid.uuid4().hex[:8]}", loc, by):
            raise InvalidInput("more old parts than are outstanding",
                               {"quantity": ["More than the parts awaiting return."]})
        return self.doc_view(self.store.get(WRITEOFFS, writeoff_id))

    def _take_return(self, branch: str, order_id: str, sku: str, quantity: int,
                     return_id: str, loc: Location | None, by: str) -> bool:
        writeoff_id = f"W-{order_id}-{sku}"
        if not self.store.return_old_part(writeoff_id, quantity, return_id, self.now):
            return False
        self.move(loc or self.warehouse(branch), sku, "old_part_return", quantity, return_id,
                  by, writeoff_id=writeoff_id, for_order=order_id)
        return True

    # -- views -------------------------------------------------------------------------
    @staticmethod
    def doc_view(doc: dict | None) -> dict:
        from services.contracts import plain

        if doc is None:
            return {}
        view = {k: plain(v) for k, v in doc.items()
                if k not in ("_id", "outbox", "outbox_due", "ledger", "lease_until", "res",
                             "returns")}
        view["id"] = doc["_id"]
        return view

    def balance_view(self, loc: Location, sku: str) -> dict:
        doc = self.store.balance(loc.location_id, sku) or {
            "_id": stock_id(loc.location_id, sku), "branch": loc.branch,
            "location": loc.location_id, "location_kind": loc.kind, "sku": sku, "on_hand": 0,
            "reserved": 0, "available": 0, "old_parts": 0,
            **vars(self.catalogue.levels(loc, sku))}
        view = self.doc_view(doc)
        view["below_reorder"] = doc["on_hand"] < doc.get("reorder_point", 0)
        view["below_safety"] = doc["on_hand"] < doc.get("safety_stock", 0)
        view["name"] = self.catalogue.parts[sku].name
        return view

    def job_view(self, order_id: str, branch: str) -> dict:
        job = self.store.job(order_id, branch)
        if job is None:
            raise NotFound(f"no parts on order {order_id}")
        view = self.doc_view(job)
        view["order_id"] = view.pop("id")
        view["lines"] = [{"line_id": lid, **line} for lid, line in view["lines"].items()]
        return view

    def valuation(self, branch: str) -> dict:
        """Stock value at cost price, per location (service-centre stores apart)."""
        per_location: dict[str, int] = defaultdict(int)
        for doc in self.store.all_stock([branch]):
            part = self.catalogue.parts.get(doc["sku"])
            if part is not None:
                per_location[doc["location"]] += doc["on_hand"] * part.cost_price_fen
        items, per_kind = [], defaultdict(int)
        for location_id, fen in sorted(per_location.items()):
            kind = self.catalogue.locations[location_id].kind
            per_kind[kind] += fen
            items.append({"location": location_id, "location_kind": kind, "value_fen": fen,
                          "value": yuan(fen)})
        total = sum(per_location.values())
        return {"branch": branch, "items": items,
                "by_kind": {k: {"value_fen": v, "value": yuan(v)}
                            for k, v in sorted(per_kind.items())},
                "total_fen": total, "total": yuan(total)}


def _totals(lines: list[dict]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line["sku"]] += int(line["quantity"])
    return dict(totals)


@dataclass
class Gauges:
    below_reorder: dict[tuple[str, str], int]
    below_safety: dict[str, int]
    writeoffs_overdue: dict[str, int]
    backorders_open: dict[str, int]


def read_gauges(store: InventoryStore, catalogue: Catalogue, branches: list[str],
                now: datetime) -> Gauges:
    """Current levels for the gauges (every label set present, zero included)."""
    below_reorder = {(b, kind): 0 for b in branches for kind in ("warehouse", "service_centre",
                                                                 "van")}
    below_safety = dict.fromkeys(branches, 0)
    for doc in store.all_stock(branches):
        if doc["on_hand"] < doc.get("reorder_point", 0):
            below_reorder[(doc["branch"], doc["location_kind"])] += 1
        if doc["sku"] in catalogue.common_parts and doc["on_hand"] < doc.get("safety_stock", 0):
            below_safety[doc["branch"]] += 1
    overdue_since = now - timedelta(days=catalogue.writeoff_overdue_days)
    return Gauges(
        below_reorder, below_safety,
        {b: store.open_count(WRITEOFFS, b, opened_by=overdue_since) for b in branches},
        {b: store.open_count(BACKORDERS, b) for b in branches})
