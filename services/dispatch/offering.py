"""Creating orders from intake's events and offering them: the best free, qualified
technician not yet tried; the queue drained in the policy's order; lapsed offers passed
on; an order forecast late offered to a technician who would make it; an order every
qualified technician declined escalated."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.common.clock import as_utc
from services.dispatch.base import MAX_RACE_RETRIES, DispatcherBase
from services.dispatch.domain import lifecycle, sla
from services.dispatch.domain.forecast import (
    Forecast,
    forecast,
    is_job_ahead,
    job_of,
)
from services.dispatch.domain.matching import (
    Technician,
    is_qualified,
    qualification_gap,
    rank_candidates,
    required_certificates,
)
from services.dispatch.domain.queueing import (
    DRAIN_WINDOW,
    band,
    drain_order,
    offerable,
    queue_deadline,
    window_from,
)
from services.dispatch.domain.work_order import Change
from services.dispatch.store import ORDERS, holder

REOFFER_CANDIDATES = 5  # the best-ranked technicians asked whether they would make it
REOFFER_LIMIT = 1  # re-offers per order: each costs an acceptance, and forecasts err

log = logging.getLogger(__name__)


class Offering(DispatcherBase):
    """The dispatcher's offering of orders."""

    # -- creation and offering -------------------------------------------------------
    def create_from_event(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The new order, or None when it exists already (a redelivered event)."""
        order = dict(data)
        order["_id"] = order.pop("order_id")
        order["received_at"] = as_utc(order["received_at"])
        order["deadlines"] = {k: as_utc(datetime.fromisoformat(v))
                              for k, v in order["deadlines"].items()}
        order.update({
            "status": lifecycle.INITIAL_STATE, "technician_id": None, "offer": None, "tried": [],
            "milestones": {}, "paused_seconds": 0.0, "paused": {}, "paused_for": [],
            "delays": [],
            "risk_at": {m: sla.risk_mark(order["received_at"], d, self.at_risk_share)
                        for m, d in order["deadlines"].items()},
            "needed_certificates": sorted(required_certificates(
                self.reference.certificate_rules, order["product"]["category"],
                order["request_type"])),
            "timeline": [self._entry("created", "intake", priority=order["priority"])],
        })
        override = order.get("priority_override")
        if override:  # the agent's priority and why, on the order's history
            override["at"] = as_utc(datetime.fromisoformat(override["at"]))
            order["timeline"].append({
                "at": override["at"], "step": "priority_overridden", "by": override["by"],
                "details": {"priority": override["priority"], "reason": override["reason"],
                            "decided": override["decided"]["priority"]}})
        # Offered in the same write that creates it, when someone is free.
        technicians = self.store.technicians_of(order["branch"])
        tech = self._reserve_best(order, technicians)
        events = []
        if tech is not None:
            offer, entry = self._offer_fields(order, tech.technician_id)
            order.update(status=self._moved(order, "offer"), offer=offer,
                         tried=[tech.technician_id])
            order["timeline"].append(entry)
            events = self._events(order, "order_offered", technician_id=tech.technician_id)
        else:  # nobody on the roster could ever take it: flagged for the dispatcher
            flag = self._unqualified_flag(order, technicians)
            if flag is not None:
                order["unqualified"] = flag
                order["timeline"].append(self._entry("unqualified", "dispatch", **flag))
        order["version"] = 1
        if not self.store.insert_order(order, events, self.uow.claim_until):
            if tech is not None:
                self.store.release_capacity(tech.technician_id, order["_id"])
            return None
        self.uow.wrote(ORDERS, order["_id"], events)
        if tech is not None:
            self._count_first_offer(order)
        # One line per order taken in, under the id of the request that created it.
        log.info("order taken in", extra={"order_id": order["_id"], "status": order["status"]})
        return order

    def offer(self, order_id: str) -> bool:
        """Offer a queued order to the best free technician; it stays queued if there is
        none."""
        for _ in range(MAX_RACE_RETRIES):
            order = self.store.get(order_id)
            if order is None or order["status"] != "new":
                return False
            result = self._try_offer(order)
            if result is not None:
                return result
        return False

    def _try_offer(self, order: dict) -> bool | None:
        """True offered, False nobody free, None lost a race (read again)."""
        technicians = self.store.technicians_of(order["branch"])
        tech = self._reserve_best(order, technicians)
        if tech is not None:
            offer, entry = self._offer_fields(order, tech.technician_id)
            if self._write(order, Change(
                    status=self._moved(order, "offer"), facts={"offer": offer},
                    tried=tech.technician_id, entry=entry,
                    events=self._events(order, "order_offered",
                                        technician_id=tech.technician_id))):
                if not order["tried"]:
                    self._count_first_offer(order)
                return True
            self.store.release_capacity(tech.technician_id, order["_id"])
            return None
        needed = set(order.get("needed_certificates", []))
        if order["tried"] and not self._anyone_left(order, technicians, needed):
            self._escalate(order, "every qualified technician declined or let the offer lapse")
            return False
        return False if self._flag_unqualified(order, technicians) else None

    # -- orders nobody is qualified for (无合格技师) --------------------------------------
    def _unqualified_flag(self, order: dict, technicians) -> dict | None:
        """The flag an order gets when nobody on the roster could ever take it, with
        what is missing (certificates, the zone's coverage); None when someone could."""
        gap = qualification_gap(technicians, set(order.get("needed_certificates", [])),
                                order["zone"])
        return None if gap is None else {**gap.as_facts(), "since": self.now}

    def _flag_unqualified(self, order: dict, technicians) -> bool:
        """The order's flag brought up to date with the roster (set, changed or cleared);
        False when the write lost a race."""
        flag, current = self._unqualified_flag(order, technicians), order.get("unqualified")
        if flag is None and not current:
            return True
        if flag is not None and current and _without_since(current) == _without_since(flag):
            return True
        entry = (self._entry("unqualified", "dispatch", **flag) if flag is not None
                 else self._entry("qualified", "dispatch"))
        return self._write(order, Change(facts={"unqualified": flag}, entry=entry))

    def offer_unqualified(self, branch: str, technician_id: str) -> int:
        """After a technician registered or was updated: each flagged order they are now
        qualified for is offered (to them or whoever ranks first), until one cannot be —
        they are full, or off shift; the rest keep their place in the queue, whose drain
        offers (and unflags) them as slots free. Stopping there keeps the registering
        call short (200 flagged orders went past the RPC's 10 s on a loaded machine).
        Returns how many were offered."""
        offered = 0
        changed = next((t for t in self.store.technicians_of(branch)
                        if t.technician_id == technician_id), None)
        if changed is None:
            return 0
        for order in self.store.unqualified(branch):
            if not is_qualified(changed, set(order.get("needed_certificates", [])),
                                order["zone"]):
                continue
            if not self.offer(order["_id"]):
                break
            offered += 1
        return offered

    def _reserve_best(self, order: dict, technicians) -> Technician | None:
        """Take a unit of capacity from the best eligible technician not yet tried."""
        needed = set(order.get("needed_certificates", []))
        ranked = offerable(rank_candidates(technicians, needed, order["zone"], order["lat"],
                                           order["lon"], self.shifts, self.now,
                                           exclude=order["tried"],
                                           urgent=band(order) == 0),
                           queue_deadline(order), self.now)
        if band(order) == 0:  # an emergency: of the nearest few, whoever is there first
            ranked[:REOFFER_CANDIDATES] = sorted(
                ranked[:REOFFER_CANDIDATES],
                key=lambda tech: self._arrival_with(tech, order).arrival)
        return next((t for t in ranked
                     if self.store.take_capacity(t.technician_id, order["_id"])), None)

    def _offer_fields(self, order: dict, technician_id: str) -> tuple[dict, dict]:
        """An emergency's offer lapses after the short timeout (3 minutes by default)."""
        expires = self.now + (self.emergency_offer_timeout if band(order) == 0
                              else self.offer_timeout)
        offer = {"technician_id": technician_id, "offered_at": self.now, "expires_at": expires}
        entry = self._entry("offered", "dispatch", technician_id=technician_id,
                            expires_at=expires.isoformat())
        return offer, entry

    def _count_first_offer(self, order: dict) -> None:
        waited = (self.now - as_utc(order["received_at"])).total_seconds()
        self.uow.observe("received_to_offered", order["branch"], value=max(waited, 0.0))
        self.uow.count("offers", order["branch"])

    def _anyone_left(self, order: dict, technicians, needed: set[str]) -> bool:
        return any(is_qualified(t, needed, order["zone"])
                   and t.technician_id not in order["tried"] for t in technicians)

    def _escalate(self, order: dict, reason: str) -> None:
        self._write(order, Change(status=self._moved(order, "escalate"),
                                  events=self._events(order, "order_escalated", reason=reason),
                                  entry=self._entry("escalated", "dispatch", reason=reason)))

    def drain_queue(self, branch: str, limit: int = DRAIN_WINDOW) -> int:
        """Offer queued orders in the policy's order (queueing.drain_order) while anyone is
        free."""
        offered = 0
        if not self.store.queued(branch, 1) or not self._someone_free(branch):
            return 0  # the queue's first key, read first: an empty queue asks no more
        windows = (self.store.queued(branch, limit, due_from=window_from(self.now))
                   + self.store.queued(branch, limit))
        for order in drain_order(windows, self.now):
            if self.offer(order["_id"]):
                offered += 1
            elif not self._someone_free(branch):
                break
        return offered

    def _someone_free(self, branch: str) -> bool:
        return any(t.active and t.active_jobs < t.cap and t.shift in self.shifts
                   and self.shifts[t.shift].covers(self.now)
                   for t in self.store.technicians_of(branch))

    def next_offer_due(self) -> datetime | None:
        """When the earliest open offer lapses (None: no offer open)."""
        due = self.store.next_due("offer.expires_at")
        return None if due is None else as_utc(due)

    def expire_offers(self) -> list[str]:
        """Lapsed offers go back to the queue and on to the next candidate."""
        moved = []
        for order in self.store.expired_offers(self.now):
            tech = order["offer"]["technician_id"]
            entry = self._entry("offer_expired", "dispatch", technician_id=tech)
            if self._write(order, Change(status=self._moved(order, "expire"),
                                         facts={"offer": None}, entry=entry)):
                self.store.release_capacity(tech, order["_id"])
                moved.append(order["_id"])
        for order_id in moved:
            self.offer(order_id)
        return moved


    # -- orders forecast late ----------------------------------------------------------
    def reoffer_late(self, late: list[Forecast]) -> int:
        """Each order forecast late that has no booked slot goes to the best-ranked
        technician whose own list would still get them there by the deadline; it stays
        where it is when nobody would. Returns how many moved."""
        moved = 0
        for seen in late:
            if seen.queued:  # no holder: the queue's drain offers it
                continue
            order = self.store.get(seen.order_id)
            if (order is not None and order["status"] in lifecycle.TRANSITIONS["reoffer"].sources
                    and not order.get("appointment") and order.get("paused_at") is None
                    and _reoffers(order) < REOFFER_LIMIT):
                tech = self._who_would_make_it(order, seen)
                moved += tech is not None and self._reoffer(order, tech)
        return moved

    def _who_would_make_it(self, order: dict, seen: Forecast) -> Technician | None:
        current = holder(order["status"], order.get("offer"), order.get("technician_id"))
        ranked = offerable(rank_candidates(
            self.store.technicians_of(order["branch"]), set(order["needed_certificates"]),
            order["zone"], order["lat"], order["lon"], self.shifts, self.now,
            exclude=[current, *order["tried"]], urgent=band(order) == 0),
            queue_deadline(order), self.now)
        for tech in ranked[:REOFFER_CANDIDATES]:
            there = self._arrival_with(tech, order)
            if not there.late and there.arrival < seen.arrival:
                return tech
        return None

    def _arrival_with(self, tech: Technician, order: dict) -> Forecast:
        """The order's forecast arrival were it added to the technician's list."""
        jobs = [job_of(held) for held in self.store.held_jobs(tech.technician_id)
                if is_job_ahead(held) and held["_id"] != order["_id"]]
        return forecast((tech.lat, tech.lon), [*jobs, job_of(order)], self.now, self.pace,
                        self.shifts.get(tech.shift))[order["_id"]]

    def _reoffer(self, order: dict, tech: Technician) -> bool:
        previous = holder(order["status"], order.get("offer"), order.get("technician_id"))
        if not self.store.take_capacity(tech.technician_id, order["_id"]):
            return False
        offer, _ = self._offer_fields(order, tech.technician_id)
        entry = self._entry("reoffered", "dispatch", technician_id=tech.technician_id,
                            previous=previous, reason="forecast_late")
        if not self._write(order, Change(
                status=self._moved(order, "reoffer"), tried=tech.technician_id,
                facts={"offer": offer, "technician_id": None, "forecast": None}, entry=entry,
                events=self._events(order, "order_offered",
                                    technician_id=tech.technician_id))):
            self.store.release_capacity(tech.technician_id, order["_id"])
            return False
        self.store.release_capacity(previous, order["_id"])
        return True


def _without_since(flag: dict) -> dict:
    return {key: value for key, value in flag.items() if key != "since"}


def _reoffers(order: dict) -> int:
    return sum(entry["step"] == "reoffered" for entry in order.get("timeline") or [])
