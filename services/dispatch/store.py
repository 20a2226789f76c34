"""Dispatch's documents: work orders (with outbox) and technicians.

Every order write is conditional on the version read, so two replicas never both apply a
change to one order; technician capacity is taken with a conditional ``$inc``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.clock import as_utc
from services.common.domain.commitments import MILESTONES
from services.common.mongo import earliest
from services.common.outbox import ensure_outbox_index, new_document_outbox, with_events
from services.dispatch.domain.booking import Booking
from services.dispatch.domain.lifecycle import HELD_STATES, OPEN_STATES
from services.dispatch.domain.queueing import band, queue_place
from services.dispatch.domain.work_order import Change
from services.dispatch.staff_store import (
    JOBS,
    TECHNICIANS,
    Roster,
    StaffStore,
    name_held_slots,
)

log = logging.getLogger(__name__)
ORDERS = "orders"


TERMINAL_STATES = ("completed", "cancelled", "closed")


KEYED_BY_BAND = re.compile(r"^[^|]*\|\d\|")


def queue_key(order: dict[str, Any]) -> str:
    """Branch, band, then place (domain/queueing.py): one index range per branch,
    emergencies first, then the earliest place."""
    return f"{order['branch']}|{band(order)}|{queue_place(order).isoformat()}"


def holder(status: str, offer: dict | None, technician_id: str | None) -> str | None:
    """The technician an order counts against: offered to, or taken by."""
    if status not in HELD_STATES:
        return None
    if status == "offered":
        return (offer or {}).get("technician_id")
    return technician_id


def watch_fields(order: dict[str, Any]) -> dict[str, Any]:
    """Look-up fields of a new order. Periodic jobs find their work through single-field
    sparse indexes that hold only the orders concerned (``queue_key`` while queued,
    ``sweep_at.<m>`` while a milestone's clock runs unreached, ``risk_at.<m>`` while it
    is unreached, ``held_by`` while a technician holds it): the work they do stays
    proportional to what is due or open, not to history."""
    fields: dict[str, Any] = {"sweep_at": dict(order["deadlines"])}
    if order["status"] == "new":
        fields["queue_key"] = queue_key(order)
    held_by = holder(order["status"], order.get("offer"), order.get("technician_id"))
    if held_by:
        fields["held_by"] = held_by
    return fields


def watch_changes(order: dict[str, Any], sets: dict[str, Any]) -> tuple[dict, dict]:
    """($set, $unset) that keep the look-up fields true after ``sets`` is applied."""
    status = sets.get("status", order["status"])
    more_sets: dict[str, Any] = {}
    unsets: dict[str, str] = {}
    if status == "new" and (order["status"] != "new" or _moves_in_queue(sets)):
        more_sets["queue_key"] = queue_key(_as_set(order, sets))
    elif status != "new" and order["status"] == "new":
        unsets["queue_key"] = ""
    held_by = holder(status, sets["offer"] if "offer" in sets else order.get("offer"),
                     sets.get("technician_id", order.get("technician_id")))
    if held_by and held_by != order.get("held_by"):
        more_sets["held_by"] = held_by
    elif not held_by and "held_by" in order:
        unsets["held_by"] = ""
    if sets.get("remind_at", "") is None or (status in TERMINAL_STATES and "remind_at" in order):
        unsets["remind_at"] = ""  # the appointment's reminder sent, moot or gone
    if sets.get("unqualified", "") is None or (status != "new" and "unqualified" in order):
        unsets["unqualified"] = ""  # someone qualified now, or offered, assigned, closed
    if "forecast" in order and (status in TERMINAL_STATES
                                or "milestones.arrival.at" in sets):
        unsets["forecast"] = ""  # arrival is no longer ahead
    if status in TERMINAL_STATES:
        unsets.update({"sweep_at": "", "risk_at": ""})
        return more_sets, unsets
    for milestone in MILESTONES:
        if f"milestones.{milestone}.at" in sets:  # reached
            unsets.update({f"sweep_at.{milestone}": "", f"risk_at.{milestone}": ""})
        elif f"milestones.{milestone}.outcome" in sets:  # breached by the sweeper
            unsets[f"sweep_at.{milestone}"] = ""
        elif f"deadlines.{milestone}" in sets:  # moved
            more_sets[f"sweep_at.{milestone}"] = sets[f"deadlines.{milestone}"]
    if is_paused(order, sets):  # these milestones' clocks are paused
        for milestone in sets.get("paused_for", order.get("paused_for", ["resolution"])):
            unsets[f"sweep_at.{milestone}"] = ""
            more_sets.pop(f"sweep_at.{milestone}", None)
    return more_sets, unsets


def is_paused(order: dict[str, Any], sets: dict[str, Any] | None = None) -> bool:
    """Whether the order's clocks stand still once ``sets`` is applied: a pause open
    (``paused_at``), or waiting for parts (orders paused before ``paused_at`` existed)."""
    sets = sets or {}
    if "paused_at" in sets:
        return sets["paused_at"] is not None
    return (order.get("paused_at") is not None
            or sets.get("status", order["status"]) == "waiting_parts")


def _moves_in_queue(sets: dict[str, Any]) -> bool:
    """Whether a change to a queued order moves it in the queue (its priority raised, its
    arrival deadline moved)."""
    return "priority" in sets or "deadlines.arrival" in sets


def _as_set(order: dict[str, Any], sets: dict[str, Any]) -> dict[str, Any]:
    """The fields the queue key reads, as ``sets`` leaves them."""
    deadlines = dict(order["deadlines"])
    if "deadlines.arrival" in sets:
        deadlines["arrival"] = sets["deadlines.arrival"]
    return {**order, "priority": sets.get("priority", order.get("priority")),
            "deadlines": deadlines}


class OrderNotYetKnown(Exception):
    """A fact about an order whose creation has not arrived yet: retry later."""


def ensure_indexes(db: Database) -> None:
    orders = db[ORDERS]
    orders.create_index([("queue_key", ASCENDING)], sparse=True)
    orders.create_index([("offer.expires_at", ASCENDING)], sparse=True)
    orders.create_index([("branch", ASCENDING), ("received_at", ASCENDING)])
    orders.create_index([("technician_id", ASCENDING)], sparse=True)
    for milestone in MILESTONES:  # the breach sweeper's and the gauges' queries
        orders.create_index([(f"sweep_at.{milestone}", ASCENDING)], sparse=True)
        orders.create_index([(f"risk_at.{milestone}", ASCENDING)], sparse=True)
    orders.create_index([("branch", ASCENDING), ("status", ASCENDING)])  # wallboard counts
    orders.create_index([("held_by", ASCENDING)], sparse=True)
    orders.create_index([("escalation.status", ASCENDING)], sparse=True)
    orders.create_index([("unqualified.since", ASCENDING)], sparse=True)
    orders.create_index([("remind_at", ASCENDING)], sparse=True)  # appointment reminders
    ensure_outbox_index(orders)
    db[TECHNICIANS].create_index([("branch", ASCENDING)])
    _mark_held_orders(db)
    name_held_slots(db)  # after the marks: it reads them
    rekey_queue(db)


def rekey_queue(db: Database) -> None:
    """Queued orders keyed before priority had a place in the queue (no band: written by
    an older replica, during a rolling update too) get today's key; at every start and
    every forecast pass. Conditional on the old key, so a write meanwhile wins; it reads
    only the queue's sparse index."""
    for order in db[ORDERS].find({"queue_key": {"$exists": True, "$not": KEYED_BY_BAND}}):
        db[ORDERS].update_one({"_id": order["_id"], "queue_key": order["queue_key"]},
                              {"$set": {"queue_key": queue_key(order)}})


def _mark_held_orders(db: Database) -> None:
    """Once per database: ``held_by`` on orders written before it existed, so capacity
    reconciliation counts them. Conditional on the version: an order written meanwhile
    got the mark from that write (``watch_changes``)."""
    if db[JOBS].find_one({"_id": "held_by_marked"}) is not None:
        return
    for order in db[ORDERS].find({"status": {"$in": list(HELD_STATES)},
                                  "held_by": {"$exists": False}}):
        held_by = holder(order["status"], order.get("offer"), order.get("technician_id"))
        if held_by:
            db[ORDERS].update_one({"_id": order["_id"], "version": order["version"]},
                                  {"$set": {"held_by": held_by}})
    with contextlib.suppress(DuplicateKeyError):  # another replica finished first
        db[JOBS].insert_one({"_id": "held_by_marked"})


class DispatchStore(StaffStore):
    def __init__(self, db: Database, roster: Roster | None = None) -> None:
        super().__init__(db, roster)
        self.orders = db[ORDERS]

    # -- orders ----------------------------------------------------------------------
    def insert_order(self, doc: dict[str, Any], events: list[dict], due: datetime) -> bool:
        """False when the order exists already (a redelivered order_created)."""
        try:
            self.orders.insert_one({**doc, **watch_fields(doc), "version": 1,
                                    **new_document_outbox(events, due)})
        except DuplicateKeyError:
            return False
        return True

    def get(self, order_id: str, branch: str | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": order_id}
        if branch:
            query["branch"] = branch
        return self.orders.find_one(query)

    def update(self, doc: dict[str, Any], change: Change, due: datetime) -> bool:
        """Write ``change`` if nobody changed the order since ``doc`` was read; False when
        it lost the race. Its events go to the outbox, due at ``due``."""
        sets = dict(change.facts)
        if change.status:
            sets["status"] = change.status
        more_sets, unsets = watch_changes(doc, sets)
        sets.update(more_sets)
        for path in unsets:  # reached by this write: its look-up marks go, not move
            sets.pop(path, None)
        update: dict[str, Any] = {"$inc": {"version": 1}}
        if sets:
            update["$set"] = sets
        if unsets:
            update["$unset"] = unsets
        for milestone, seconds in change.paused.items():
            update["$inc"][f"paused.{milestone}"] = seconds
        if "resolution" in change.paused:  # the order resource's figure, as before
            update["$inc"]["paused_seconds"] = change.paused["resolution"]
        pushes: dict[str, Any] = {}
        if change.tried:
            pushes["tried"] = change.tried
        if change.delay is not None:
            pushes["delays"] = change.delay
        if change.arrived:
            pushes["parts_arrived"] = {"$each": change.arrived}
        if change.entry is not None:
            pushes["timeline"] = change.entry
        if change.applied_event:
            pushes["applied_events"] = {"$each": [change.applied_event], "$slice": -20}
        if pushes:
            update["$push"] = pushes
        update = with_events(update, change.events, due)
        result = self.orders.update_one({"_id": doc["_id"], "version": doc["version"]}, update)
        return result.modified_count == 1

    def note_forecast(self, order_id: str, forecast: dict[str, Any]) -> None:
        """The arrival forecast's mark (advisory: outside the order's versioned writes)."""
        # Only while arrival is ahead: a check-in written meanwhile clears the mark for good.
        self.orders.update_one({"_id": order_id, "milestones.arrival.at": {"$exists": False},
                                "status": {"$in": list(OPEN_STATES)}},
                               {"$set": {"forecast": forecast}})

    def note(self, order_id: str, branch: str, event_id: str, entry: dict[str, Any]) -> bool:
        """A fact from another service on the order's timeline, once per event. False for
        a redelivery or an order this deployment does not hold."""
        result = self.orders.update_one(
            {"_id": order_id, "branch": branch, "applied_events": {"$ne": event_id}},
            {"$push": {"timeline": entry, "applied_events": {"$each": [event_id],
                                                             "$slice": -20}}})
        return result.modified_count == 1

    @staticmethod
    def _queue_range(branch: str) -> dict[str, Any]:
        return {"queue_key": {"$gte": f"{branch}|", "$lt": f"{branch}}}"}}

    def queued(self, branch: str, limit: int = 50,
               due_from: datetime | None = None) -> list[dict[str, Any]]:
        """Orders waiting for a technician, earliest arrival deadline first (from
        ``due_from`` on, when given)."""
        query = self._queue_range(branch)
        if due_from is not None:
            query["queue_key"]["$gte"] = queue_key({"branch": branch, "deadlines": {},
                                                    "received_at": due_from})
        projection = {"_id": 1, "deadlines.arrival": 1, "received_at": 1, "priority": 1,
                      "status": 1, "lat": 1, "lon": 1, "request_type": 1, "zone": 1,
                      "needed_certificates": 1, "forecast": 1}
        return list(self.orders.find(query, projection,
                                     sort=[("queue_key", ASCENDING)], limit=limit))

    def queue_length(self, branch: str) -> int:
        return self.orders.count_documents(self._queue_range(branch))

    @staticmethod
    def _unqualified_of(branch: str) -> dict[str, Any]:
        return {"unqualified.since": {"$exists": True}, "branch": branch}

    def unqualified(self, branch: str, limit: int = 200) -> list[dict[str, Any]]:
        """Queued orders flagged as nobody on the roster qualified for, longest first."""
        return list(self.orders.find(self._unqualified_of(branch),
                                     {"_id": 1, "zone": 1, "needed_certificates": 1},
                                     sort=[("unqualified.since", ASCENDING)], limit=limit))

    def bookings_of(self, technician_id: str, but: str) -> list[Booking]:
        """The technician's booked slots on the open orders they hold, but one order."""
        found = self.orders.find({"held_by": technician_id, "_id": {"$ne": but},
                                  "appointment.start": {"$exists": True}},
                                 {"appointment.start": 1, "appointment.end": 1})
        return [Booking(doc["_id"], as_utc(doc["appointment"]["start"]),
                        as_utc(doc["appointment"]["end"])) for doc in found]

    def reminders_due(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """Orders whose appointment reminder is due (the sparse ``remind_at`` mark)."""
        return list(self.orders.find({"remind_at": {"$lte": now}},
                                     sort=[("remind_at", ASCENDING)], limit=limit))

    def unqualified_count(self, branch: str) -> int:
        return self.orders.count_documents(self._unqualified_of(branch))

    def expired_offers(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        found = self.orders.find({"offer.expires_at": {"$lte": now}}, limit=limit)
        return [order for order in found if order["status"] == "offered"]

    def next_due(self, field: str) -> datetime | None:
        """When the earliest ``offer.expires_at`` or ``sweep_at.<m>`` falls due."""
        return earliest(self.orders, field)

    def unswept(self, milestone: str, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        """Open orders past a milestone's deadline with no outcome counted yet."""
        found = self.orders.find({f"sweep_at.{milestone}": {"$lte": now}}, limit=limit)
        return [order for order in found
                if "outcome" not in (order.get("milestones") or {}).get(milestone, {})]

    def watched(self, milestone: str, branches: list[str], now: datetime) -> list[dict]:
        """Open orders at risk or overdue on a milestone not yet reached: those whose risk
        mark has passed (the mark is stored with the deadline, so this stays indexed)."""
        projection = {"branch": 1, "zone": 1, "request_type": 1, "priority": 1, "status": 1,
                      "received_at": 1, f"deadlines.{milestone}": 1, "paused_for": 1,
                      "paused_at": 1}
        found = self.orders.find({f"risk_at.{milestone}": {"$lte": now}}, projection)
        return [order for order in found
                if order["branch"] in branches and order["status"] in OPEN_STATES]

    def held_by(self, branch: str, technician_id: str, wanted: dict[str, Any]) -> list[dict]:
        """The orders one technician holds (offered to them or taken), through the sparse
        ``held_by`` index: a list as short as their cap."""
        query: dict[str, Any] = {"held_by": technician_id, "branch": branch}
        for key in ("status", "priority"):
            if wanted.get(key):
                query[key] = wanted[key]
        return list(self.orders.find(query))

    def search(self, branch: str, wanted: dict[str, Any], technician_id: str | None,
               overdue_at: datetime | None = None) -> tuple[int, list]:
        """A page of the branch's orders, newest first: by status and priority, held by a
        technician, and open with a milestone past its deadline at ``overdue_at``."""
        query: dict[str, Any] = {"branch": branch}
        for key in ("status", "priority"):
            if wanted.get(key):
                query[key] = wanted[key]
        if wanted.get("escalation"):
            query["escalation.status"] = wanted["escalation"]
        if wanted.get("unqualified") is not None:  # nobody on the roster qualified
            query["unqualified.since"] = {"$exists": wanted["unqualified"]}
        if technician_id:  # held, or offered and awaiting the technician's answer
            query["$and"] = [{"$or": [{"technician_id": technician_id},
                                      {"offer.technician_id": technician_id}]}]
        if overdue_at is not None:
            query["status"] = query.get("status") or {"$in": list(OPEN_STATES)}
            query["$or"] = [{f"deadlines.{m}": {"$lte": overdue_at},
                             f"milestones.{m}.at": {"$exists": False}} for m in MILESTONES]
        page, page_size = wanted["page"], wanted["page_size"]
        total = self.orders.count_documents(query)
        docs = self.orders.find(query, sort=[("received_at", -1)],
                                skip=(page - 1) * page_size, limit=page_size)
        return total, list(docs)

    def technicians_in(self, branch: str) -> list[dict[str, Any]]:
        return list(self.technicians.find({"branch": branch}, sort=[("_id", 1)]))
