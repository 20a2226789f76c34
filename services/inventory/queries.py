"""Read models of the inventory: catalogue, stock, movement history, lists; and the
demo opening stock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.common.domain.money import yuan
from services.common.errors import NotFound
from services.contracts import plain
from services.inventory.domain.catalogue import Catalogue
from services.inventory.keeper import Keeper
from services.inventory.store import BACKORDERS, REQUESTS, TRANSFERS, WRITEOFFS

LISTS = {"backorders": BACKORDERS, "transfers": TRANSFERS, "requests": REQUESTS,
         "writeoffs": WRITEOFFS}


def parts(catalogue: Catalogue) -> list[dict]:
    return [{"sku": p.sku, "name": p.name, "category": p.category,
             "compatible_categories": list(p.compatible_categories), "unit": p.unit,
             "list_price": yuan(p.list_price_fen), "list_price_fen": p.list_price_fen,
             "cost_price": yuan(p.cost_price_fen), "cost_price_fen": p.cost_price_fen,
             "warranty_part": p.warranty_part, "main_part": p.main_part,
             "lead_time_days": p.lead_time_days} for p in catalogue.parts.values()]


def _page(items: list, page: int, page_size: int) -> dict:
    start = (page - 1) * page_size
    return {"total": len(items), "page": page, "page_size": page_size,
            "items": items[start:start + page_size]}


def stock(keeper: Keeper, query: dict, branch: str) -> dict:
    """Stock per location and part; ``below`` keeps those under reorder point / safety."""
    if query["location"]:
        keeper.location(query["location"], branch)  # another branch's: 404
    if query["technician_id"]:  # their van (none: nothing on board)
        van = keeper.catalogue.van_of(query["technician_id"], branch)
        if van is None:
            return _page([], query["page"], query["page_size"])
        query = {**query, "location": van.location_id}
    filters: dict[str, Any] = {"branch": branch}
    for key in ("location", "sku"):
        if query[key]:
            filters[key] = query[key]
    _, docs = keeper.store.find_stock(filters, 1, 10000)
    items = [keeper.balance_view(keeper.catalogue.locations[d["location"]], d["sku"])
             for d in docs if d["location"] in keeper.catalogue.locations
             and d["sku"] in keeper.catalogue.parts]
    if query["below"] == "reorder":
        items = [item for item in items if item["below_reorder"]]
    elif query["below"] == "safety":  # the 欠料 list: common parts under safety stock
        items = [item for item in items if item["below_safety"]
                 and item["sku"] in keeper.catalogue.common_parts]
    return _page(items, query["page"], query["page_size"])


def movements(keeper: Keeper, query: dict, branch: str) -> dict:
    """The ledger, newest first."""
    if query["location"]:
        keeper.location(query["location"], branch)
    filters: dict[str, Any] = {"branch": branch}
    for key in ("location", "sku"):
        if query[key]:
            filters[key] = query[key]
    entries = []
    for doc in keeper.store.ledgers(filters):
        for entry in doc.get("ledger", []):
            if query["order_id"] and query["order_id"] not in (entry.get("order_id"),
                                                               entry.get("for_order")):
                continue
            entries.append({"location": doc["location"], "sku": doc["sku"], **entry})
    entries.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    return _page([plain(e) for e in entries], query["page"], query["page_size"])


def listing(keeper: Keeper, what: str, query: dict, branch: str) -> dict:
    collection = LISTS.get(what)
    if collection is None:
        raise NotFound(f"no list {what}")
    filters: dict[str, Any] = {"branch": branch}
    if query["status"]:
        filters["status"] = query["status"]
    if query["overdue"] and what == "writeoffs":
        days = keeper.catalogue.writeoff_overdue_days
        filters.update(status="open", opened_at={"$lte": keeper.now - timedelta(days=days)})
    sort = "opened_at" if what == "writeoffs" else "created_at"
    total, docs = keeper.store.page(collection, filters, query["page"], query["page_size"],
                                    sort)
    return {"total": total, "page": query["page"], "page_size": query["page_size"],
            "items": [keeper.doc_view(doc) for doc in docs]}


def load_opening_stock(keeper: Keeper, branch: str, settings: dict) -> int:
    """Each configured quantity received once (receipt ids are fixed, so a second run
    changes nothing); returns the number of receipts written now."""
    written = 0
    for location_id, quantities in (settings.get("opening_stock") or {}).items():
        loc = keeper.catalogue.locations[location_id]
        if loc.branch != branch:
            continue
        for sku, quantity in quantities.items():
            before = keeper.store.balance(location_id, sku)
            keeper.receive(branch, {"location": location_id, "sku": sku,
                                    "accepted": quantity, "rejected": 0,
                                    "receipt_id": f"opening-{location_id}-{sku}",
                                    "delivery_note": "opening stock"}, "seed")
            written += before is None
    return written
