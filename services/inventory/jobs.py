"""Parts for a job: reserved from the van or the nearest stock, transferred, or
backordered (with the date the customer is told); shortages opened and closed for
dispatch; backorders filled as stock comes in."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.common.clock import as_utc
from services.common.domain.branches import belongs_to
from services.common.errors import Conflict, InvalidInput, NotFound
from services.inventory.base import KeeperBase
from services.inventory.domain import sourcing
from services.inventory.domain.catalogue import Location
from services.inventory.domain.sourcing import Candidate
from services.inventory.store import (
    BACKORDERS,
    TRANSFERS,
)

BACKORDER_LEASE = timedelta(seconds=30)


class JobParts(KeeperBase):
    """The storekeeper's work for one order's parts."""

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
                                 shortage_id=shortage_id, parts=parts, eta=eta.isoformat(),
                                 awaited_from=sourcing.awaited_from(waiting))
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

