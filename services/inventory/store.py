"""Inventory's documents.

- ``stock``: one document per location and part, holding its ledger (append-only) and the
  counters derived from it (``on_hand``, ``reserved``, ``available`` and each order's own
  reservation under ``res``). Entry and counters move in ONE conditional update, so the
  counters always equal the sum of the ledger and none ever goes below zero, whatever the
  number of replicas. Each entry has an id: applying it twice changes nothing.
- ``jobs``: the parts of one work order (lines, shortages, consumption) with the outbox of
  ``parts_short`` / ``parts_arrived`` / ``parts_consumed``.
- ``transfers`` (between locations, and purchases from suppliers), ``backorders``,
  ``requests`` (requisitions, scrap and count adjustments awaiting approval),
  ``writeoffs`` (warranty parts awaiting their old part).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.outbox import ensure_outbox_index, with_events
from services.inventory.domain import ledger
from services.inventory.domain.catalogue import Levels, Location

APPLIED, PRESENT, REFUSED = "applied", "present", "refused"
STOCK, JOBS, TRANSFERS, BACKORDERS, REQUESTS, WRITEOFFS = (
    "stock", "jobs", "transfers", "backorders", "requests", "writeoffs")


def ensure_indexes(db: Database) -> None:
    db[STOCK].create_index([("branch", ASCENDING), ("sku", ASCENDING)])
    db[STOCK].create_index([("location", ASCENDING)])
    ensure_outbox_index(db[STOCK])
    db[JOBS].create_index([("branch", ASCENDING)])
    ensure_outbox_index(db[JOBS])
    db[TRANSFERS].create_index([("branch", ASCENDING), ("sku", ASCENDING),
                                ("status", ASCENDING)])
    db[BACKORDERS].create_index([("branch", ASCENDING), ("status", ASCENDING),
                                 ("created_at", ASCENDING)])
    db[BACKORDERS].create_index([("order_id", ASCENDING)])
    db[REQUESTS].create_index([("branch", ASCENDING), ("status", ASCENDING)])
    db[WRITEOFFS].create_index([("branch", ASCENDING), ("status", ASCENDING),
                                ("opened_at", ASCENDING)])


def stock_id(location_id: str, sku: str) -> str:
    return f"{location_id}|{sku}"


class InventoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.stock = db[STOCK]
        self.jobs = db[JOBS]
        self.transfers = db[TRANSFERS]
        self.backorders = db[BACKORDERS]
        self.requests = db[REQUESTS]
        self.writeoffs = db[WRITEOFFS]

    # -- the ledger ------------------------------------------------------------------
    def apply(self, location: Location, sku: str, levels: Levels, kind: str, quantity: int,
              movement_id: str, now: datetime, by: str, order_id: str | None = None,
              **details: Any) -> str:
        """Append one movement and move its counters in the same write: APPLIED, or
        PRESENT (applied before: a retry), or REFUSED (a counter would go below zero)."""
        d = ledger.deltas(kind, quantity, order_id)
        sid = stock_id(location.location_id, sku)
        query: dict[str, Any] = {"_id": sid, "ledger.id": {"$ne": movement_id}}
        for counter, minimum in ledger.guards(d).items():
            query[f"res.{order_id}" if counter == "order" else counter] = {"$gte": minimum}
        inc = {name: value for name, value in d.counters().items() if value}
        if d.order:
            inc[f"res.{order_id}"] = d.order
        entry = {"id": movement_id, "kind": kind, "quantity": quantity, "at": now, "by": by,
                 "order_id": order_id, "on_hand": d.on_hand, "reserved": d.reserved,
                 **{key: value for key, value in details.items() if value is not None}}
        inc["entries"] = 1  # the ledger's length; also keeps $inc non-empty
        update = {"$inc": inc, "$push": {"ledger": entry},
                  "$setOnInsert": {"branch": location.branch, "location": location.location_id,
                                   "location_kind": location.kind, "sku": sku,
                                   "reorder_point": levels.reorder_point,
                                   "safety_stock": levels.safety_stock}}
        for counter in ("on_hand", "reserved", "available", "old_parts"):
            if counter not in inc:  # a new document starts every counter at zero
                update["$setOnInsert"][counter] = 0
        creates = not ledger.guards(d)
        for _ in range(2):
            try:
                result = self.stock.update_one(query, update, upsert=creates)
            except DuplicateKeyError:
                continue  # a concurrent first movement created it: now an update
            if result.modified_count == 1 or result.upserted_id is not None:
                return APPLIED
            break
        if self.stock.count_documents({"_id": sid, "ledger.id": movement_id}) == 1:
            return PRESENT
        return REFUSED

    def balance(self, location_id: str, sku: str) -> dict[str, Any] | None:
        return self.stock.find_one({"_id": stock_id(location_id, sku)}, {"ledger": 0})

    def reserved_for(self, order_id: str) -> list[dict[str, Any]]:
        """Stock documents holding part of this order's reservations."""
        return list(self.stock.find({f"res.{order_id}": {"$gt": 0}},
                                    {"location": 1, "sku": 1, f"res.{order_id}": 1}))

    def candidates(self, branch: str, sku: str, quantity: int) -> list[dict[str, Any]]:
        return list(self.stock.find({"branch": branch, "sku": sku,
                                     "available": {"$gte": quantity}},
                                    {"location": 1, "available": 1}))

    def find_stock(self, query: dict[str, Any], page: int, page_size: int
                   ) -> tuple[int, list[dict]]:
        total = self.stock.count_documents(query)
        docs = self.stock.find(query, {"ledger": 0, "outbox": 0, "outbox_due": 0},
                               sort=[("location", 1), ("sku", 1)],
                               skip=(page - 1) * page_size, limit=page_size)
        return total, list(docs)

    def ledgers(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.stock.find(query, {"location": 1, "sku": 1, "ledger": 1}))

    def all_stock(self, branches: list[str]) -> list[dict[str, Any]]:
        return list(self.stock.find({"branch": {"$in": branches}},
                                    {"ledger": 0, "outbox": 0, "res": 0}))

    def mark_low(self, sid: str, low: bool, events: list[dict], due: datetime) -> bool:
        """Flip the below-reorder flag once per crossing; ``events`` go with the flip."""
        query = {"_id": sid, "low": {"$ne": True}} if low else {"_id": sid, "low": True}
        update = with_events({"$set": {"low": low}}, events, due)
        return self.stock.update_one(query, update).modified_count == 1

    # -- jobs ------------------------------------------------------------------------
    def job(self, order_id: str, branch: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": order_id}
        if branch:
            query["branch"] = branch
        return self.jobs.find_one(query)

    def open_job(self, order_id: str, fields: dict[str, Any], request_id: str,
                 lines: dict[str, dict]) -> bool:
        """Record a parts request on the order's job (created on the first); False when
        this request was recorded before (a retry)."""
        sets = {f"lines.{line_id}": line for line_id, line in lines.items()}
        try:
            result = self.jobs.update_one(
                {"_id": order_id, "requests": {"$ne": request_id}},
                {"$set": sets, "$push": {"requests": request_id},
                 "$setOnInsert": {**fields, "shortages": {}, "outbox": []}}, upsert=True)
        except DuplicateKeyError:
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    def set_line(self, order_id: str, line_id: str, changes: dict[str, Any]) -> None:
        self.jobs.update_one({"_id": order_id},
                             {"$set": {f"lines.{line_id}.{k}": v for k, v in changes.items()}})

    def _job_write(self, order_id: str, query: dict[str, Any], update: dict[str, Any],
                   events: list[dict], due: datetime) -> bool:
        """A conditional job update with its events, in one write."""
        result = self.jobs.update_one({"_id": order_id, **query},
                                      with_events(update, events, due))
        return result.modified_count == 1

    def open_shortage(self, order_id: str, shortage_id: str, shortage: dict[str, Any],
                      events: list[dict], due: datetime) -> bool:
        """Once per shortage."""
        return self._job_write(order_id, {f"shortages.{shortage_id}": {"$exists": False}},
                               {"$set": {f"shortages.{shortage_id}": shortage}}, events, due)

    def close_shortage(self, order_id: str, shortage_id: str, at: datetime,
                       events: list[dict], due: datetime) -> bool:
        """Once: only an open shortage closes."""
        return self._job_write(order_id, {f"shortages.{shortage_id}.open": True},
                               {"$set": {f"shortages.{shortage_id}.open": False,
                                         f"shortages.{shortage_id}.closed_at": at}},
                               events, due)

    def record_consumption(self, order_id: str, consumption: dict[str, Any],
                           events: list[dict], due: datetime) -> bool:
        """Once per order: what its completion consumed."""
        return self._job_write(order_id, {"consumption": {"$exists": False}},
                               {"$set": {"consumption": consumption}}, events, due)

    def keep_consumption_plan(self, order_id: str, branch: str, technician_id: str | None,
                              at: datetime, plan: dict[str, Any]) -> dict[str, Any]:
        """The first plan stored wins; a concurrent redelivery replays that one."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent first insert won
            self.jobs.update_one({"_id": order_id}, {"$setOnInsert": {
                "branch": branch, "lines": {}, "shortages": {}, "requests": [],
                "created_at": at, "technician_id": technician_id, "outbox": []}},
                upsert=True)
        self.jobs.update_one({"_id": order_id, "consumption_plan": {"$exists": False}},
                             {"$set": {"consumption_plan": plan}})
        return self.job(order_id)["consumption_plan"]

    def open_backorders_of(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.backorders.find({"order_id": order_id, "status": "open"}))

    def cancel_requested_transfers(self, order_id: str) -> None:
        """Transfers for the order not yet sent."""
        self.transfers.update_many({"order_id": order_id, "status": "requested"},
                                   {"$set": {"status": "cancelled"}})

    def open_count(self, collection: str, branch: str, opened_by: datetime | None = None
                   ) -> int:
        """The branch's open write-offs or backorders (opened by ``opened_by``, if given)."""
        query: dict[str, Any] = {"branch": branch, "status": "open"}
        if opened_by is not None:
            query["opened_at"] = {"$lte": opened_by}
        return self.db[collection].count_documents(query)

    # -- transfers, backorders, requests, write-offs ------------------------------------
    def location_of_movement(self, branch: str, sku: str, movement_id: str) -> str | None:
        """Where a movement of a part was applied, if it was (the part's few documents)."""
        doc = self.stock.find_one({"branch": branch, "sku": sku, "ledger.id": movement_id},
                                  {"location": 1})
        return doc["location"] if doc else None

    def insert(self, collection: str, doc: dict[str, Any]) -> bool:
        """False when a document with this id exists (a retry)."""
        try:
            self.db[collection].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def get(self, collection: str, doc_id: str, branch: str | None = None) -> dict | None:
        query: dict[str, Any] = {"_id": doc_id}
        if branch:
            query["branch"] = branch
        return self.db[collection].find_one(query)

    def move(self, collection: str, doc_id: str, status: str | tuple[str, ...],
             sets: dict[str, Any]) -> bool:
        """Change a document's state only from the given state(s): a race has one winner."""
        sources = [status] if isinstance(status, str) else list(status)
        result = self.db[collection].update_one({"_id": doc_id, "status": {"$in": sources}},
                                                {"$set": sets})
        return result.modified_count == 1

    def page(self, collection: str, query: dict[str, Any], page: int, page_size: int,
             sort: str = "created_at") -> tuple[int, list[dict]]:
        total = self.db[collection].count_documents(query)
        docs = self.db[collection].find(query, sort=[(sort, -1)],
                                        skip=(page - 1) * page_size, limit=page_size)
        return total, list(docs)

    def inbound_etas(self, branch: str, sku: str) -> list[datetime]:
        """Expected arrivals of open transfers and purchases not held for an order."""
        found = self.transfers.find({"branch": branch, "sku": sku,
                                     "status": {"$in": ["requested", "sent"]},
                                     "order_id": None}, {"expected_at": 1})
        return [doc["expected_at"] for doc in found if doc.get("expected_at")]

    def claim_backorder(self, backorder_id: str, now: datetime, until: datetime) -> bool:
        """A lease on an open backorder, so one replica at a time tries to fill it."""
        result = self.backorders.update_one(
            {"_id": backorder_id, "status": "open",
             "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]},
            {"$set": {"lease_until": until}})
        return result.modified_count == 1

    def open_backorders(self, branch: str, sku: str | None = None, limit: int = 100) -> list:
        query: dict[str, Any] = {"branch": branch, "status": "open"}
        if sku:
            query["sku"] = sku
        return list(self.backorders.find(query, sort=[("created_at", ASCENDING)], limit=limit))

    def return_old_part(self, writeoff_id: str, quantity: int, return_id: str,
                        now: datetime) -> bool:
        """Count returned old parts against a write-off, once per return id and never
        beyond what was consumed; True when recorded (now or before)."""
        result = self.writeoffs.update_one(
            {"_id": writeoff_id, "outstanding": {"$gte": quantity},
             "returns": {"$ne": return_id}},
            {"$inc": {"outstanding": -quantity, "returned": quantity},
             "$set": {"last_return_at": now}, "$push": {"returns": return_id}})
        if result.modified_count != 1:
            return self.writeoffs.count_documents({"_id": writeoff_id,
                                                   "returns": return_id}) == 1
        self.writeoffs.update_one({"_id": writeoff_id, "outstanding": 0, "status": "open"},
                                  {"$set": {"status": "written_off", "closed_at": now}})
        return True

    def count(self, collection: str, query: dict[str, Any]) -> int:
        return self.db[collection].count_documents(query)
