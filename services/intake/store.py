"""Intake's documents: one per request/order, with its outbox; daily order counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.outbox import ensure_outbox_index, new_document_outbox, with_events
from services.intake.customer_store import ensure_customer_indexes

REQUESTS = "requests"
OPEN_STATES = ("new",)


def ensure_indexes(db: Database) -> None:
    requests = db[REQUESTS]
    requests.create_index("call_ids", unique=True, sparse=True)
    requests.create_index("open_key", unique=True, sparse=True)
    requests.create_index([("product.serial_number", ASCENDING), ("received_at", DESCENDING)])
    requests.create_index([("branch", ASCENDING), ("received_at", DESCENDING)])
    ensure_outbox_index(requests)
    ensure_customer_indexes(db)


class IntakeStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.requests = db[REQUESTS]

    def reserve_sequence(self, key: str, count: int) -> int:
        """Reserve ``count`` numbers of a daily counter; returns the highest. Concurrent
        first calls of a day may both try to insert the counter; the loser retries (a
        skipped number is harmless, a repeated one is not)."""
        for _ in range(10):
            try:
                counter = self.db["counters"].find_one_and_update(
                    {"_id": key}, {"$inc": {"seq": count}},
                    upsert=True, return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue
            if counter is not None:
                return counter["seq"]
        raise RuntimeError("could not draw an order number")

    def by_call_id(self, call_id: str) -> dict[str, Any] | None:
        return self.requests.find_one({"call_ids": call_id})

    def open_order(self, open_key: str) -> dict[str, Any] | None:
        return self.requests.find_one({"open_key": open_key})

    def by_order_id(self, order_id: str, branch: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": order_id}
        if branch:
            query["branch"] = branch
        return self.requests.find_one(query)

    def same_unit(self, serial: str, branch: str, limit: int = 20) -> list[dict[str, Any]]:
        """The branch's latest orders for one serial number: its open matter and its
        repeats (another branch's history of the unit is not this branch's to see)."""
        return list(self.requests.find({"product.serial_number": serial, "branch": branch},
                                       {"open_key": 1, "completed_at": 1, "call_ids": 1,
                                        "branch": 1},
                                       sort=[("received_at", DESCENDING)], limit=limit))

    def insert(self, doc: dict[str, Any], events: list[dict], due: datetime) -> None:
        """Raises DuplicateKeyError when the call id or the open matter already exists."""
        self.requests.insert_one({**doc, **new_document_outbox(events, due)})

    def add_reminder(self, order_id: str, call_id: str | None, events: list[dict],
                     now: datetime, due: datetime) -> bool:
        """Counts a reminder (催单) once per call id; False if the order closed meanwhile or
        this call was already counted."""
        query: dict[str, Any] = {"_id": order_id, "open_key": {"$exists": True}}
        update: dict[str, Any] = {"$inc": {"reminders": 1}, "$set": {"last_reminder_at": now}}
        if call_id:
            query["call_ids"] = {"$ne": call_id}
            update["$push"] = {"call_ids": call_id}
        try:
            result = self.requests.update_one(query, with_events(update, events, due))
        except DuplicateKeyError:  # the same call id landed on another order concurrently
            return False
        return result.modified_count == 1

    def finish(self, order_id: str, branch: str, status: str, event_id: str, at: datetime,
               completed: bool, fault: dict | None = None) -> bool:
        """Closes the open matter once per event (the event id guards redeliveries);
        ``fault``: what the technician found, kept for the unit's service history."""
        update: dict[str, Any] = {"$set": {"status": status}, "$unset": {"open_key": ""},
                                  "$push": {"applied_events": {"$each": [event_id],
                                                               "$slice": -20}}}
        if completed:
            update["$set"]["completed_at"] = at
        if fault:
            update["$set"]["fault"] = fault
        result = self.requests.update_one(
            {"_id": order_id, "branch": branch, "applied_events": {"$ne": event_id}}, update)
        return result.modified_count == 1
