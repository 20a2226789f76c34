"""Callbacks' documents: tasks (with their outbox), settled bills, the installed base of
units seen completed, schedules, and per-branch counters.

Task writes are conditional on the version read; a staff claim is a conditional update on
the claim's expiry, so two staff never hold one task. Look-up fields exist only while a
task needs them (``queue_key`` while open, ``sweep_at`` while its commitment runs), so
the queue and the sweeper read only what is due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.callbacks.domain.task import TaskChange
from services.common.outbox import ensure_outbox_index, with_events

TASKS = "tasks"
BILLS = "bills"
UNITS = "units"
SCHEDULES = "schedules"
COUNTERS = "counters"


def stamp(at: datetime) -> str:
    """Fixed-width UTC text, so keys sort as times."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def queue_key(branch: str, due_at: datetime) -> str:
    return f"{branch}|{stamp(due_at)}"


def ensure_indexes(db: Database) -> None:
    tasks = db[TASKS]
    tasks.create_index([("queue_key", ASCENDING)], sparse=True)
    tasks.create_index([("sweep_at", ASCENDING)], sparse=True)
    tasks.create_index([("order_id", ASCENDING)], sparse=True)
    tasks.create_index([("branch", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)])
    tasks.create_index([("month", ASCENDING), ("branch", ASCENDING)], sparse=True)
    tasks.create_index([("follow_up_due", ASCENDING)], sparse=True)
    tasks.create_index([("audit.month", ASCENDING), ("branch", ASCENDING)], sparse=True)
    tasks.create_index([("branch", ASCENDING), ("audit.state", ASCENDING)])
    ensure_outbox_index(tasks)
    db[UNITS].create_index([("branch", ASCENDING), ("category", ASCENDING)])
    db[SCHEDULES].create_index([("next_run", ASCENDING)], sparse=True)


class CallbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.tasks = db[TASKS]

    # -- tasks -----------------------------------------------------------------------
    def insert_task(self, doc: dict[str, Any]) -> bool:
        """False when the task exists already (a redelivered event, another replica)."""
        try:
            self.tasks.insert_one({**doc, "version": 1, "outbox": []})
        except DuplicateKeyError:
            return False
        return True

    def insert_tasks(self, docs: list[dict[str, Any]]) -> int:
        """Inserts the tasks not present yet; returns how many were new."""
        if not docs:
            return 0
        try:
            return len(self.tasks.insert_many(
                [{**d, "version": 1, "outbox": []} for d in docs], ordered=False).inserted_ids)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
            return exc.details.get("nInserted", 0)

    def get(self, task_id: str, branch: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": task_id}
        if branch:
            query["branch"] = branch
        return self.tasks.find_one(query)

    def update(self, doc: dict[str, Any], change: TaskChange, due: datetime) -> bool:
        """Write ``change`` if nobody changed the task since ``doc`` was read."""
        sets = dict(change.facts)
        update: dict[str, Any] = {"$inc": {"version": 1}}
        if change.due_at is not None:
            sets.update(due_at=change.due_at, queue_key=queue_key(doc["branch"],
                                                                  change.due_at))
        if change.done:
            update["$unset"] = {"queue_key": "", "sweep_at": ""}
        if sets:
            update["$set"] = sets
        if change.recorded:
            update["$push"] = dict(change.recorded)
        update = with_events(update, change.events, due)
        result = self.tasks.update_one({"_id": doc["_id"], "version": doc["version"]}, update)
        return result.modified_count == 1

    def due(self, branch: str, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
        """Open tasks due by now, earliest first (claimed ones included: filtered later)."""
        return list(self.tasks.find(
            {"queue_key": {"$gte": f"{branch}|", "$lte": queue_key(branch, now)}},
            {"claim_until": 1}, sort=[("queue_key", ASCENDING)], limit=limit))

    def claim(self, task_id: str, branch: str, staff: str, now: datetime,
              until: datetime) -> bool:
        """Atomic: the task is open and unclaimed (or the claim lapsed, or is this staff's
        own)."""
        result = self.tasks.update_one(
            {"_id": task_id, "branch": branch, "status": "open",
             "$or": [{"claim_until": {"$lte": now}}, {"claim.by": staff}]},
            {"$set": {"claim": {"by": staff, "at": now, "until": until},
                      "claim_until": until}, "$inc": {"version": 1}})
        return result.modified_count == 1

    def release(self, task_id: str, branch: str, staff: str, now: datetime) -> bool:
        result = self.tasks.update_one(
            {"_id": task_id, "branch": branch, "status": "open", "claim.by": staff},
            {"$set": {"claim": None, "claim_until": now}, "$inc": {"version": 1}})
        return result.modified_count == 1

    def unswept(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        return list(self.tasks.find({"sweep_at": {"$lte": now}}, limit=limit))

    def mark_breached(self, task_id: str, swept_at: datetime) -> bool:
        """Counted once: only the write that removes the sweep mark counts the breach."""
        result = self.tasks.update_one(
            {"_id": task_id, "sweep_at": swept_at},
            {"$set": {"milestone.outcome": "breached"}, "$unset": {"sweep_at": ""},
             "$inc": {"version": 1}})
        return result.modified_count == 1

    def order_tasks(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.tasks.find({"order_id": order_id}))

    def tasks_page(self, branch: str, wanted: dict[str, Any]) -> tuple[int, list[dict]]:
        """The branch's tasks by status, kind, outcome and order, soonest due first."""
        query = {"branch": branch, **{key: wanted[key] for key in (
            "status", "kind", "outcome", "order_id") if wanted.get(key)}}
        return self.search(query, wanted["page"], wanted["page_size"])

    def audits_page(self, branch: str, wanted: dict[str, Any]) -> tuple[int, list[dict]]:
        """The branch's callbacks sampled for HQ's re-call, by audit state and whether HQ's
        answers contradicted the branch's."""
        query: dict[str, Any] = {"branch": branch,
                                 "audit.state": wanted["state"] or {"$exists": True}}
        if wanted["discrepancy"] is not None:
            query["audit.discrepancies.0"] = {"$exists": wanted["discrepancy"]}
        return self.search(query, wanted["page"], wanted["page_size"])

    def search(self, query: dict[str, Any], page: int, page_size: int,
               sort: str = "due_at") -> tuple[int, list[dict[str, Any]]]:
        total = self.tasks.count_documents(query)
        docs = self.tasks.find(query, sort=[(sort, ASCENDING)], skip=(page - 1) * page_size,
                               limit=page_size)
        return total, list(docs)

    def month_rows(self, month: str, branch: str) -> tuple[list[dict], list[dict]]:
        """The month's finished order callbacks and its HQ re-calls (small projections)."""
        done = list(self.tasks.find({"month": month, "branch": branch},
                                    {"outcome": 1, "first_visit": 1, "_id": 0}))
        audited = list(self.tasks.find({"audit.month": month, "branch": branch},
                                       {"audit.discrepancies": 1, "_id": 0}))
        return done, [a["audit"] for a in audited]

    def activate_second(self, task_id: str, branch: str, due_at: datetime) -> bool:
        """A pending second follow-up gets its date once the first callback is done."""
        result = self.tasks.update_one(
            {"_id": task_id, "status": "pending"},
            {"$set": {"status": "open", "due_at": due_at,
                      "queue_key": queue_key(branch, due_at)}, "$inc": {"version": 1}})
        return result.modified_count == 1

    def add_reason(self, task_id: str, reason: str) -> None:
        self.tasks.update_one({"_id": task_id}, {"$addToSet": {"reasons": reason}})

    def fill_pending(self, task_id: str, fields: dict[str, Any]) -> None:
        self.tasks.update_one({"_id": task_id, "status": "pending"}, {"$set": fields})

    def unsettled(self, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.tasks.find({"follow_up_due": {"$lte": now}}, limit=limit))

    def follow_ups_settled(self, task_id: str) -> None:
        self.tasks.update_one({"_id": task_id}, {"$unset": {"follow_up_due": ""}})

    def answer_audit(self, task_id: str, audit: dict[str, Any]) -> bool:
        """Once: only a re-call still pending takes HQ's answer."""
        result = self.tasks.update_one({"_id": task_id, "audit.state": "pending"},
                                       {"$set": {"audit": audit}, "$inc": {"version": 1}})
        return result.modified_count == 1

    # -- counters ----------------------------------------------------------------------
    def next_seq(self, key: str) -> int:
        """The next number of a small counter (one document per branch)."""
        for _ in range(5):
            try:
                doc = self.db[COUNTERS].find_one_and_update(
                    {"_id": key}, {"$inc": {"seq": 1}}, upsert=True,
                    return_document=ReturnDocument.AFTER)
            except DuplicateKeyError:  # two first calls raced on the upsert
                continue
            return doc["seq"] - 1
        raise RuntimeError("could not draw a sequence number")

    # -- bills and units ---------------------------------------------------------------
    def remember_bill(self, order_id: str, bill_id: str, total_fen: int, at: datetime) -> None:
        self.db[BILLS].update_one({"_id": order_id},
                                  {"$set": {"bill_id": bill_id, "total_fen": total_fen,
                                            "settled_at": at}}, upsert=True)

    def billed_fen(self, order_id: str) -> int | None:
        doc = self.db[BILLS].find_one({"_id": order_id})
        return None if doc is None else doc["total_fen"]

    def remember_unit(self, key: str, fields: dict[str, Any]) -> None:
        self.db[UNITS].update_one({"_id": key}, {"$set": fields}, upsert=True)

    def units_of(self, branch: str, category: str) -> list[dict[str, Any]]:
        return list(self.db[UNITS].find({"branch": branch, "category": category},
                                        sort=[("_id", ASCENDING)]))

    # -- schedules ---------------------------------------------------------------------
    def insert_schedule(self, doc: dict[str, Any]) -> bool:
        try:
            self.db[SCHEDULES].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def schedules_due(self, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.db[SCHEDULES].find({"next_run": {"$lte": now}}, limit=limit))

    def advance_schedule(self, schedule_id: str, ran: datetime,
                         following: datetime | None) -> bool:
        """Move the schedule past the period it ran; only one replica's write applies."""
        update: dict[str, Any] = {"$set": {"last_run": ran},
                                  "$inc": {"runs": 1}}
        if following is None:
            update["$unset"] = {"next_run": ""}
        else:
            update["$set"]["next_run"] = following
        result = self.db[SCHEDULES].update_one({"_id": schedule_id, "next_run": ran}, update)
        return result.modified_count == 1

    def schedules(self, branch: str) -> list[dict[str, Any]]:
        return list(self.db[SCHEDULES].find({"branch": branch}, sort=[("_id", ASCENDING)]))
