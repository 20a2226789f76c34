"""Dispatch's store kept in memory, for the peak-season simulation: the real dispatcher
(``services.dispatch.dispatcher.Dispatcher``) runs on it, a simulated day in seconds.

It keeps the store's contract (services/dispatch/store.py, staff_store.py) for the calls
offering, draining and the technicians' steps make: version-checked order writes with the
store's own look-up fields (``watch_fields``, ``watch_changes``: the queue key, the
holder), slots that name their orders, the queue in ``queue_key`` order. Single-threaded,
so a write never loses a race here.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, insort
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.dispatch.domain.matching import Technician
from services.dispatch.domain.work_order import Change
from services.dispatch.store import queue_key, watch_changes, watch_fields


class MemoryDispatchStore:
    def __init__(self, technicians: list[Technician], branch_of: dict[str, str]) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.techs = {t.technician_id: t for t in technicians}
        self.branch_of = branch_of  # technician id -> branch
        self.holding: dict[str, set[str]] = {t.technician_id: set() for t in technicians}
        self.queues: dict[str, list[tuple[str, str]]] = {}  # branch -> (queue_key, id)
        self._offers: list[tuple[str, str]] = []  # (order id, technician id), not yet taken

    # -- technicians and their slots --------------------------------------------------
    def technicians_of(self, branch: str) -> list[Technician]:
        return [t for tech_id, t in self.techs.items() if self.branch_of[tech_id] == branch]

    def technician(self, technician_id: str, branch: str | None = None) -> dict | None:
        tech = self.techs.get(technician_id)
        if tech is None or (branch and self.branch_of[technician_id] != branch):
            return None
        return {"_id": technician_id, "branch": self.branch_of[technician_id],
                "active": tech.active, "service_centre_id": None}

    def take_capacity(self, technician_id: str, order_id: str, force: bool = False) -> bool:
        tech = self.techs[technician_id]
        holding = self.holding[technician_id]
        if order_id in holding or (not force and tech.active_jobs >= tech.cap):
            return False
        holding.add(order_id)
        self.techs[technician_id] = replace(tech, active_jobs=len(holding))
        return True

    def release_capacity(self, technician_id: str | None, order_id: str) -> None:
        if technician_id and order_id in self.holding[technician_id]:
            self.holding[technician_id].discard(order_id)
            self.techs[technician_id] = replace(self.techs[technician_id],
                                                active_jobs=len(self.holding[technician_id]))

    def note_forecast(self, order_id: str, forecast: dict[str, Any]) -> None:
        self.orders[order_id]["forecast"] = copy.deepcopy(forecast)

    def held_jobs(self, technician_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.orders[order_id])
                for order_id in sorted(self.holding[technician_id])]

    # -- orders ------------------------------------------------------------------------
    def insert_order(self, doc: dict[str, Any], events: list[dict], due: datetime) -> bool:
        if doc["_id"] in self.orders:
            return False
        stored = {**copy.deepcopy(doc), **watch_fields(doc), "version": 1}
        self.orders[doc["_id"]] = stored
        self._queue(stored)
        self._note_offer(stored)
        return True

    def get(self, order_id: str, branch: str | None = None) -> dict[str, Any] | None:
        order = self.orders.get(order_id)
        if order is None or (branch and order["branch"] != branch):
            return None
        return copy.deepcopy(order)

    def update(self, doc: dict[str, Any], change: Change, due: datetime) -> bool:
        order = self.orders[doc["_id"]]
        if order["version"] != doc["version"]:
            return False
        self._unqueue(order)
        sets = dict(change.facts)
        if change.status:
            sets["status"] = change.status
        more_sets, unsets = watch_changes(doc, sets)
        for path, value in {**sets, **more_sets}.items():
            _set(order, path, copy.deepcopy(value))
        for path in unsets:
            _unset(order, path)
        if change.tried:
            order.setdefault("tried", []).append(change.tried)
        if change.entry is not None:
            order.setdefault("timeline", []).append(change.entry)
        order["version"] += 1
        self._queue(order)
        if change.status == "offered":
            self._note_offer(order)
        return True

    def queued(self, branch: str, limit: int = 50,
               due_from: datetime | None = None) -> list[dict[str, Any]]:
        queue = self.queues.get(branch, [])
        start = 0
        if due_from is not None:
            start = bisect_left(queue, (queue_key({"branch": branch, "deadlines": {},
                                                   "received_at": due_from}),))
        return [copy.deepcopy(self.orders[order_id])
                for _, order_id in queue[start:start + limit]]

    def expired_offers(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.orders.values() if o["status"] == "offered"
                and o["offer"]["expires_at"] <= now][:limit]

    def take_offers(self) -> list[tuple[str, str]]:
        """The offers made since the last call: (order id, technician id)."""
        offers, self._offers = self._offers, []
        return offers

    def _note_offer(self, order: dict[str, Any]) -> None:
        if order["status"] == "offered":
            self._offers.append((order["_id"], order["offer"]["technician_id"]))

    # The queue: the orders with a ``queue_key`` (those waiting for a technician).
    def _queue(self, order: dict[str, Any]) -> None:
        if "queue_key" in order:
            insort(self.queues.setdefault(order["branch"], []),
                   (order["queue_key"], order["_id"]))

    def _unqueue(self, order: dict[str, Any]) -> None:
        if "queue_key" in order:
            self.queues[order["branch"]].remove((order["queue_key"], order["_id"]))


def _set(doc: dict, path: str, value: Any) -> None:
    *outer, last = path.split(".")
    for key in outer:
        doc = doc.setdefault(key, {})
    doc[last] = value


def _unset(doc: dict, path: str) -> None:
    *outer, last = path.split(".")
    for key in outer:
        doc = doc.get(key) or {}
    doc.pop(last, None)
