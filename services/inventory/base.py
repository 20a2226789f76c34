"""What every part of the storekeeper shares: the store, the catalogue, the call's unit of
work, and the ledger's one entry point (``move``)."""

from __future__ import annotations

from typing import Any

from services.common.domain.parts import Part
from services.common.errors import InvalidInput, NotFound
from services.common.unit_of_work import UnitOfWork
from services.inventory.domain import ledger
from services.inventory.domain.catalogue import Catalogue, Location
from services.inventory.store import (
    APPLIED,
    JOBS,
    REFUSED,
    STOCK,
    InventoryStore,
)


class KeeperBase:
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

