"""Dispatch's technicians: the roster each replica keeps, their documents, and the slot
counters (capacity) with their reconciliation against the orders they hold."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.dispatch.domain.capacity import Verdict
from services.dispatch.domain.matching import Technician

log = logging.getLogger(__name__)
TECHNICIANS = "technicians"
JOBS = "jobs"  # one document per cluster-wide periodic job: when it is next due
# What the arrival forecast reads of a held order (domain/forecast.py: ``job_of``).
JOB_FIELDS = {"_id": 1, "status": 1, "lat": 1, "lon": 1, "request_type": 1, "priority": 1,
              "received_at": 1, "deadlines": 1, "milestones.arrival": 1, "appointment": 1,
              "forecast": 1, "paused_at": 1}


def to_technician(doc: dict[str, Any]) -> Technician:
    return Technician(doc["_id"], frozenset(doc["certificates"]), frozenset(doc["zones"]),
                      doc["lat"], doc["lon"], doc["shift"], doc["cap"],
                      doc.get("active_jobs", 0), doc.get("active", True),
                      doc.get("service_centre_id"))


class Roster:
    """Technicians per branch, kept for a moment. Offering reads the roster for every
    order; capacity is re-checked atomically when taken, so a stale copy costs at most a
    failed take. Capacity released or technicians changed by this process drop it."""

    def __init__(self, ttl_seconds: float = 1.0) -> None:
        self.ttl = ttl_seconds
        self._copies: dict[str, tuple[float, list[Technician]]] = {}

    def get(self, branch: str, load) -> list[Technician]:
        now = time.monotonic()
        cached = self._copies.get(branch)
        if cached is None or cached[0] < now:
            cached = (now + self.ttl, load(branch))
            self._copies[branch] = cached
        return cached[1]

    def drop(self) -> None:
        self._copies.clear()

    def note_load(self, technician_id: str, taken: bool) -> None:
        """Keep the copy close to the truth between reloads: a slot taken here counts at
        once, and a refused take means that technician is full. Without this, a busy
        branch would retry its nearest, long-full technicians for every order."""
        for _expires, technicians in self._copies.values():
            for index, tech in enumerate(technicians):
                if tech.technician_id == technician_id:
                    jobs = tech.active_jobs + 1 if taken else max(tech.active_jobs, tech.cap)
                    technicians[index] = replace(tech, active_jobs=jobs)


class StaffStore:
    """The technicians' part of dispatch's store (``DispatchStore`` is one)."""

    def __init__(self, db: Database, roster: Roster | None = None) -> None:
        self.db = db
        self.technicians = db[TECHNICIANS]
        self.roster = roster

    # -- technicians -----------------------------------------------------------------
    def technicians_of(self, branch: str) -> list[Technician]:
        if self.roster is not None:
            return self.roster.get(branch, self._load_technicians)
        return self._load_technicians(branch)

    def _load_technicians(self, branch: str) -> list[Technician]:
        return [to_technician(doc) for doc in self.technicians.find({"branch": branch})]

    def technicians_changed(self) -> None:
        if self.roster is not None:
            self.roster.drop()

    def technician(self, technician_id: str, branch: str | None = None) -> dict | None:
        query: dict[str, Any] = {"_id": technician_id}
        if branch:
            query["branch"] = branch
        return self.technicians.find_one(query)

    # Capacity: each slot names its order (``holding``, see domain.capacity); the counters
    # move in the same write, so taking a slot is a plain conditional update (no $expr on
    # the hot path), and a slot is never taken or given back twice for one order.
    def take_capacity(self, technician_id: str, order_id: str, force: bool = False) -> bool:
        query: dict[str, Any] = {"_id": technician_id, "holding": {"$ne": order_id}}
        if not force:
            query["free_slots"] = {"$gt": 0}
        taken = self.technicians.update_one(query, {
            "$push": {"holding": order_id}, "$inc": {"active_jobs": 1, "free_slots": -1}})
        if self.roster is not None:
            self.roster.note_load(technician_id, taken.modified_count == 1)
        return taken.modified_count == 1

    def release_capacity(self, technician_id: str | None, order_id: str) -> None:
        if technician_id:
            self._give_back(technician_id, order_id)
            self.technicians_changed()

    def _give_back(self, technician_id: str, order_id: str) -> bool:
        given = self.technicians.update_one(
            {"_id": technician_id, "holding": order_id},
            {"$pull": {"holding": order_id}, "$inc": {"active_jobs": -1, "free_slots": 1}})
        return given.modified_count == 1

    def technician_branches(self, ids: list[str]) -> dict[str, set[str]]:
        """The branch of each technician id known here (an unknown id is absent)."""
        return {doc["_id"]: {doc["branch"]}
                for doc in self.technicians.find({"_id": {"$in": ids}}, {"branch": 1})}

    def centre_branches(self, ids: list[str]) -> dict[str, set[str]]:
        """The branches whose technicians staff each service centre (a centre nobody
        staffs is absent)."""
        found: dict[str, set[str]] = {}
        for doc in self.technicians.find({"service_centre_id": {"$in": ids}},
                                         {"branch": 1, "service_centre_id": 1}):
            found.setdefault(doc["service_centre_id"], set()).add(doc["branch"])
        return found

    def insert_technician(self, doc: dict[str, Any]) -> None:
        self.technicians.insert_one({**doc, "active_jobs": 0, "free_slots": doc["cap"],
                                     "holding": []})
        self.technicians_changed()

    def update_technician(self, technician_id: str, branch: str,
                          changes: dict[str, Any]) -> bool:
        """False if there is no such technician. A new cap moves the free slots by the
        difference, conditional on the cap read, so concurrent takes stay counted."""
        for _ in range(5):
            current = self.technician(technician_id, branch)
            if current is None:
                return False
            update: dict[str, Any] = {"$set": changes}
            if "cap" in changes:
                update["$inc"] = {"free_slots": changes["cap"] - current["cap"]}
            done = self.technicians.update_one({"_id": technician_id, "cap": current["cap"]},
                                               update)
            if done.matched_count == 1:
                self.technicians_changed()
                return True
        raise RuntimeError("technician changed repeatedly while updating")

    def hold_bookings(self, technician_id: str, holder: str, now: datetime,
                      until: datetime) -> bool:
        """Take the lease on the technician's bookings for ``holder`` (free, lapsed, or
        the holder's own); False when another holds it."""
        held = self.technicians.update_one(
            {"_id": technician_id, "$or": [{"booking_lease": None},
                                           {"booking_lease.until": {"$lte": now}},
                                           {"booking_lease.by": holder}]},
            {"$set": {"booking_lease": {"by": holder, "until": until}}})
        return held.matched_count == 1

    def free_bookings(self, technician_id: str, holder: str) -> None:
        self.technicians.update_one({"_id": technician_id, "booking_lease.by": holder},
                                    {"$unset": {"booking_lease": ""}})

    # -- capacity reconciliation (see domain.capacity) -------------------------------
    def claim_job(self, job: str, now: datetime, every: timedelta) -> bool:
        """True for the one caller that finds ``job`` due; it is then due again after
        ``every``. Timers run in every replica: this lease makes the job run once."""
        try:
            claimed = self.db[JOBS].update_one(
                {"_id": job, "due_at": {"$lte": now}},
                {"$set": {"due_at": now + every, "claimed_at": now}}, upsert=True)
        except DuplicateKeyError:
            return False  # the job exists and is not due (the upsert found no match)
        return claimed.modified_count == 1 or claimed.upserted_id is not None

    def note_job(self, job: str, figures: dict[str, Any]) -> None:
        """What a periodic job found, for every replica's gauges."""
        self.db[JOBS].update_one({"_id": job}, {"$set": {"figures": figures}})

    def job_figures(self, job: str) -> dict[str, Any] | None:
        found = self.db[JOBS].find_one({"_id": job}, {"figures": 1})
        return (found or {}).get("figures")

    def held_orders(self, technician_id: str) -> frozenset[str]:
        """Orders one technician holds, through the sparse ``held_by`` index. One small
        query per technician: a single query over every held order (3,000 in the bench)
        took the store ~450 ms at once, a latency spike for everyone else."""
        return frozenset(o["_id"] for o in self.orders.find({"held_by": technician_id},
                                                             {"_id": 1}))

    def held_jobs(self, technician_id: str) -> list[dict[str, Any]]:
        """The orders one technician holds, with what the arrival forecast reads (one
        small query per technician, as ``held_orders``)."""
        return list(self.orders.find({"held_by": technician_id}, JOB_FIELDS))

    def slot_counters(self, branches: list[str]) -> list[dict[str, Any]]:
        return list(self.technicians.find(
            {"branch": {"$in": branches}},
            {"holding": 1, "slots_note": 1, "active_jobs": 1, "free_slots": 1, "cap": 1}))

    def recount(self, tech: dict[str, Any]) -> bool:
        """Counters set from the slots where they disagree (a write by older code that
        moved the counters alone), conditional on the slots being as read."""
        holding = tech.get("holding") or []
        jobs, free = len(holding), tech["cap"] - len(holding)
        if (tech.get("active_jobs"), tech.get("free_slots")) == (jobs, free):
            return False
        fixed = self.technicians.update_one(
            {"_id": tech["_id"], "holding": holding},
            {"$set": {"active_jobs": jobs, "free_slots": free}})
        return fixed.modified_count == 1

    def settle_slots(self, technician_id: str, verdict: Verdict) -> int:
        """Apply a reconciliation verdict, slot by slot, each conditional on that slot
        still being as judged; how many slots were corrected."""
        corrected = 0
        for order_id in verdict.give_back:
            corrected += self._give_back(technician_id, order_id)
        for order_id in verdict.add:
            corrected += self.technicians.update_one(
                {"_id": technician_id, "holding": {"$ne": order_id}},
                {"$push": {"holding": order_id},
                 "$inc": {"active_jobs": 1, "free_slots": -1}}).modified_count
        note = {"$set": {"slots_note": verdict.note}} if verdict.note else {
            "$unset": {"slots_note": ""}}
        self.technicians.update_one({"_id": technician_id}, note)
        if corrected:
            log.warning("technician slots corrected", extra={
                "technician_id": technician_id, "freed": sorted(verdict.give_back),
                "taken": sorted(verdict.add)})
            self.technicians_changed()
        return corrected


def name_held_slots(db: Database) -> None:
    """Once per technician written before slots named their orders: ``holding`` from the
    orders that hold them (``held_by``), the counters from it."""
    for tech in db[TECHNICIANS].find({"holding": {"$exists": False}}, {"cap": 1}):
        held = [o["_id"] for o in db["orders"].find({"held_by": tech["_id"]}, {"_id": 1})]
        db[TECHNICIANS].update_one(
            {"_id": tech["_id"], "holding": {"$exists": False}},
            {"$set": {"holding": held, "active_jobs": len(held),
                      "free_slots": tech["cap"] - len(held)},
             "$unset": {"slots_version": "", "slots_note": ""}})
