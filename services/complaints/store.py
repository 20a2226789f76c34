"""Complaints' documents: complaints (with their outbox), the orders completed per branch
(for the complaint rate and to link a complaint to the order it is about), complaint
numbers, and intake's hand-overs.

Every complaint write is conditional on its version; a complaint is found again by the
references it was opened from (unique), and an open matter is unique, so a repeated
complaint links to the open case instead of making a second one.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.mongo import earliest
from services.common.outbox import ensure_outbox_index, new_document_outbox, with_events
from services.complaints.domain.case import CaseChange
from services.complaints.domain.rules import MILESTONES

COMPLAINTS = "complaints"
COMPLETIONS = "completions"
COUNTERS = "counters"
RECEIVED = "received"


def ensure_indexes(db: Database) -> None:
    complaints = db[COMPLAINTS]
    complaints.create_index("source_refs", unique=True, sparse=True)
    complaints.create_index("open_matter", unique=True, sparse=True)
    complaints.create_index([("branch", ASCENDING), ("month", ASCENDING)])
    complaints.create_index([("branch", ASCENDING), ("opened_at", DESCENDING)])
    complaints.create_index([("branch", ASCENDING), ("status", ASCENDING)])
    for milestone in MILESTONES:  # the breach sweeper's look-up: only unswept deadlines
        complaints.create_index(f"sweep_at.{milestone}", sparse=True)
    ensure_outbox_index(complaints)
    completions = db[COMPLETIONS]
    completions.create_index([("branch", ASCENDING), ("month", ASCENDING)])
    completions.create_index([("serial_number", ASCENDING), ("completed_at", DESCENDING)],
                             sparse=True)


class ComplaintStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.complaints = db[COMPLAINTS]
        self.completions = db[COMPLETIONS]

    # -- numbers ---------------------------------------------------------------------
    def next_number(self, branch: str, day: str) -> str:
        """``CP-<BRANCH>-<YYYYMMDD>-<seq>`` from a small daily counter (a number skipped
        after a lost race is harmless; one given twice is not)."""
        key = f"{branch}-{day}"
        for _ in range(10):
            try:
                counter = self.db[COUNTERS].find_one_and_update(
                    {"_id": key}, {"$inc": {"seq": 1}}, upsert=True,
                    return_document=ReturnDocument.AFTER)
            except DuplicateKeyError:
                continue
            return f"CP-{key}-{counter['seq']:04d}"
        raise RuntimeError("could not draw a complaint number")

    # -- complaints ------------------------------------------------------------------
    def insert(self, doc: dict[str, Any], events: list[dict], due: datetime) -> None:
        """Raises DuplicateKeyError when the reference or the open matter exists."""
        self.complaints.insert_one({**doc, "version": 1, **new_document_outbox(events, due)})

    # -- complaints handed over by intake ------------------------------------------------
    def keep_received(self, request: dict[str, Any], branch: str, event_id: str,
                      at: datetime) -> None:
        """Kept as handed over, once: keyed by the order number, a redelivery is a no-op."""
        with contextlib.suppress(DuplicateKeyError):
            self.db[RECEIVED].insert_one({
                "_id": request["order_id"], "branch": branch, "event_id": event_id,
                "received_at": at, "request": request, "status": "received"})

    def link_received(self, order_id: str, complaint_id: str) -> None:
        self.db[RECEIVED].update_one({"_id": order_id}, {"$set": {"complaint_id": complaint_id}})

    def received(self, order_id: str, branch: str) -> dict[str, Any] | None:
        return self.db[RECEIVED].find_one({"_id": order_id, "branch": branch}, {"request": 0})

    def get(self, complaint_id: str, branch: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": complaint_id}
        if branch:
            query["branch"] = branch
        return self.complaints.find_one(query)

    def by_ref(self, ref: str, branch: str) -> dict[str, Any] | None:
        return self.complaints.find_one({"source_refs": ref, "branch": branch})

    def by_matter(self, key: str) -> dict[str, Any] | None:
        return self.complaints.find_one({"open_matter": key})

    def update(self, doc: dict[str, Any], change: CaseChange, due: datetime) -> bool:
        """Write ``change`` if nobody changed the complaint since ``doc`` was read (and, for
        a repeat, if its source is not linked yet)."""
        sets = dict(change.facts)
        if change.status:
            sets["status"] = change.status
        update: dict[str, Any] = {"$inc": {"version": 1}}
        if change.reopened:
            update["$inc"]["reopened"] = 1
        if sets:
            update["$set"] = sets
        if change.cleared:
            update["$unset"] = dict.fromkeys(change.cleared, "")
        pushes = dict(change.recorded)
        if change.entry is not None:
            pushes["timeline"] = change.entry
        if pushes:
            update["$push"] = pushes
        links = {key: {"$each": values} for key, values in change.linked.items() if values}
        if links:
            update["$addToSet"] = links
        update = with_events(update, change.events, due)
        query = {"_id": doc["_id"], "version": doc["version"]}
        if change.new_source:
            query["source_refs"] = {"$ne": change.new_source}
        return self.complaints.update_one(query, update).modified_count == 1

    def next_due(self, milestone: str) -> datetime | None:
        """When the earliest open complaint's ``milestone`` falls due."""
        return earliest(self.complaints, f"sweep_at.{milestone}")

    def unswept(self, milestone: str, now: datetime, limit: int = 100) -> list[dict]:
        return list(self.complaints.find({f"sweep_at.{milestone}": {"$lte": now}},
                                         limit=limit))

    def search(self, branch: str, wanted: dict[str, Any], overdue_at: datetime | None = None
               ) -> tuple[int, list]:
        """A page of the branch's complaints, newest first: by status, category, severity
        and order, and with a milestone past its deadline at ``overdue_at``."""
        query: dict[str, Any] = {"branch": branch, **{key: wanted[key] for key in (
            "status", "category", "severity") if wanted.get(key)}}
        if wanted.get("order_id"):
            query["order_ids"] = wanted["order_id"]
        if overdue_at is not None:
            query["$or"] = [{f"deadlines.{m}": {"$lte": overdue_at},
                             f"milestones.{m}.at": {"$exists": False}} for m in MILESTONES]
        page, page_size = wanted["page"], wanted["page_size"]
        total = self.complaints.count_documents(query)
        docs = self.complaints.find(query, {"outbox": 0, "timeline": 0},
                                    sort=[("opened_at", DESCENDING)],
                                    skip=(page - 1) * page_size, limit=page_size)
        return total, list(docs)

    def of_month(self, branch: str, month: str) -> list[dict]:
        return list(self.complaints.find(
            {"branch": branch, "month": month},
            {"category": 1, "investigation.responsibility": 1, "penalties": 1, "status": 1}))

    # -- completed orders ------------------------------------------------------------
    def record_completion(self, doc: dict[str, Any]) -> bool:
        """Once per order: False for a redelivered completion."""
        try:
            self.completions.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def completion(self, order_id: str, branch: str) -> dict[str, Any] | None:
        return self.completions.find_one({"_id": order_id, "branch": branch})

    def last_completion_of_unit(self, branch: str, serial: str) -> dict[str, Any] | None:
        return self.completions.find_one({"serial_number": serial, "branch": branch},
                                         sort=[("completed_at", DESCENDING)])

    def completed_count(self, branch: str, month: str) -> int:
        return self.completions.count_documents({"branch": branch, "month": month})

    def service_complaint_count(self, branch: str, month: str,
                                responsibilities: tuple[str, ...]) -> int:
        return self.complaints.count_documents({
            "branch": branch, "month": month,
            "investigation.responsibility": {"$in": list(responsibilities)}})

    def board_counts(self, branch: str, since: datetime) -> dict[str, int]:
        return {"open": self.complaints.count_documents(
                    {"branch": branch, "status": {"$ne": "closed"}}),
                "opened_today": self.complaints.count_documents(
                    {"branch": branch, "opened_at": {"$gte": since}})}
