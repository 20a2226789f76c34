"""The storekeeper: parts for jobs, receipts, transfers, approvals, consumption.

Application layer over the store and the pure rules; knows nothing of nameko. Steps that
touch several documents are each idempotent (movement ids are derived from the job line,
transfer, backorder or request they belong to), so a retried call or a redelivered event
finishes the work without doing any of it twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.domain.money import yuan
from services.common.errors import NotFound
from services.inventory.base import KeeperBase
from services.inventory.completion import Completion
from services.inventory.domain.catalogue import Catalogue, Location
from services.inventory.jobs import JobParts
from services.inventory.store import (
    BACKORDERS,
    WRITEOFFS,
    InventoryStore,
    stock_id,
)
from services.inventory.warehouse import Warehouse


class Keeper(JobParts, Warehouse, Completion, KeeperBase):
    """The storekeeper, its sections in their own modules; what it shows is here."""

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
