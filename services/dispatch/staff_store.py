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

from services.dispatch.domain.capacity import SlotCheck, Verdict
from services.dispatch.domain.matching import Technician

log = logging.getLogger(__name__)
TECHNICIANS = "technicians"
JOBS = "jobs"  # one document per cluster-wide periodic job: when it is next due


def to_technician(doc: dict[str, Any]) -> Technician:
    return Technician(doc["_id"], frozenset(doc["certificates"]), frozenset(doc["zones"]),
                      doc["lat"], doc["lon"], doc["shift"], doc["cap"],
                      doc.get("active_jobs", 0), doc.get("active", True))


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

    # Capacity: ``free_slots`` (= cap - active_jobs) moves with ``active_jobs`` in the same
    # update, so taking a slot is a plain conditional $inc (no $expr on the hot path).
    def take_capacity(self, technician_id: str, force: bool = False) -> bool:
        query: dict[str, Any] = {"_id": technician_id}
        if not force:
            query["free_slots"] = {"$gt": 0}
        taken = self.technicians.update_one(query, {"$inc": {
            "active_jobs": 1, "free_slots": -1, "slots_version": 1}})
        if self.roster is not None:
            self.roster.note_load(technician_id, taken.modified_count == 1)
        return taken.modified_count == 1

    def release_capacity(self, technician_id: str | None) -> None:
        if technician_id:
            self.technicians.update_one({"_id": technician_id, "active_jobs": {"$gt": 0}},
                                        {"$inc": {"active_jobs": -1, "free_slots": 1,
                                                  "slots_version": 1}})
            self.technicians_changed()

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
                                     "slots_version": 0})
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
                update["$inc"] = {"free_slots": changes["cap"] - current["cap"],
                                  "slots_version": 1}
            done = self.technicians.update_one({"_id": technician_id, "cap": current["cap"]},
                                               update)
            if done.matched_count == 1:
                self.technicians_changed()
                return True
        raise RuntimeError("technician changed repeatedly while updating")

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

    def held_count(self, technician_id: str) -> int:
        """Orders one technician holds, through the sparse ``held_by`` index. One small
        query per technician: a single query over every held order (3,000 in the bench)
        took the store ~450 ms at once, a latency spike for everyone else."""
        return len(list(self.orders.find({"held_by": technician_id}, {"_id": 1})))

    def slot_counters(self, branches: list[str]) -> list[dict[str, Any]]:
        return list(self.technicians.find(
            {"branch": {"$in": branches}},
            {"cap": 1, "active_jobs": 1, "slots_version": 1, "slots_note": 1}))

    def settle_slots(self, tech: dict[str, Any], verdict: Verdict) -> bool:
        """Apply a reconciliation verdict, conditional on no slot having moved since
        ``tech`` was read. True when the counter was corrected."""
        query = {"_id": tech["_id"], "slots_version": tech.get("slots_version")}
        if verdict.action == "fix":
            return self._correct_slots(query, tech, verdict.held)
        if verdict.action == "note":
            note = {"version": tech.get("slots_version") or 0, "held": verdict.held}
            self.technicians.update_one(query, {"$set": {"slots_note": note}})
        elif "slots_note" in tech:  # a moment's mismatch that settled by itself
            self.technicians.update_one(query, {"$unset": {"slots_note": ""}})
        return False

    def _correct_slots(self, query: dict[str, Any], tech: dict[str, Any], held: int) -> bool:
        fixed = self.technicians.update_one(query, {
            "$set": {"active_jobs": held, "free_slots": tech["cap"] - held},
            "$inc": {"slots_version": 1}, "$unset": {"slots_note": ""}})
        if fixed.modified_count != 1:
            return False  # a slot moved meanwhile: the next passes look again
        log.warning("technician capacity corrected", extra={
            "technician_id": tech["_id"], "counted": tech.get("active_jobs", 0), "held": held})
        self.technicians_changed()
        return True


def slot_check(tech: dict[str, Any], held: int) -> SlotCheck:
    return SlotCheck(tech.get("active_jobs", 0), tech.get("slots_version") or 0, held)
