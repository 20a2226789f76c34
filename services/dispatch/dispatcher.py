"""The dispatcher: offers orders to technicians and moves them through their lifecycle.

Application layer over the store and the pure rules; knows nothing of nameko. Every method
that changes an order returns the outbox markers of the documents it wrote, so the service
can relay their events at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common.clock import as_utc
from services.common.domain.commitments import MILESTONES
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.reference import Reference
from services.common.unit_of_work import Outcomes, Reached, UnitOfWork
from services.contracts import plain
from services.dispatch.domain import lifecycle, sla
from services.dispatch.domain.capacity import judge
from services.dispatch.domain.matching import (
    Technician,
    parse_shift,
    rank_candidates,
    required_certificates,
)
from services.dispatch.domain.queueing import (
    DRAIN_WINDOW,
    drain_order,
    feasible_from,
    offerable,
    queue_deadline,
)
from services.dispatch.domain.work_order import Change
from services.dispatch.store import ORDERS, DispatchStore, OrderNotYetKnown, slot_check

log = logging.getLogger(__name__)
MAX_RACE_RETRIES = 5


@dataclass
class Actor:
    role: str
    branch: str
    technician_id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.technician_id or f"{self.role}@{self.branch}"


class Dispatcher:
    def __init__(self, store: DispatchStore, reference: Reference, uow: UnitOfWork,
                 offer_timeout: timedelta, at_risk_share: float = 0.8) -> None:
        self.at_risk_share = at_risk_share
        self.store = store
        self.reference = reference
        self.uow = uow
        self.now = uow.now
        self.offer_timeout = offer_timeout
        self.shifts = {name: parse_shift(spec) for name, spec in reference.shifts.items()}
        # Milestones the write being prepared reaches: counted only once that write is in
        # (a write that fails or loses a race, then is retried, must not count them twice).
        self._reaching = Outcomes()

    # -- events and timeline ---------------------------------------------------------
    def _events(self, order: dict, *types: str, **data: Any) -> list[dict]:
        """Only events with a consumer go to the outbox; the timeline records every step."""
        return self.uow.events(order["branch"], *types, order_id=order["_id"], **data)

    def _entry(self, step: str, by: str | None, **details: Any) -> dict:
        return {"at": self.now, "step": step, "by": by, "details": details or None}

    def _write(self, order: dict, change: Change) -> bool:
        """The change written if the order is still as read; what it reaches counts then."""
        reaching, self._reaching = self._reaching, Outcomes()
        if not self.store.update(order, change, self.uow.claim_until):
            return False
        self.uow.wrote(ORDERS, order["_id"], change.events)
        self.uow.take(reaching)
        return True

    @staticmethod
    def _moved(order: dict, action: str) -> str | None:
        """The state ``action`` leads the order to, as the lifecycle declares it."""
        return lifecycle.check(action, order["status"]).target

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
            "milestones": {}, "paused_seconds": 0.0, "delays": [],
            "risk_at": {m: sla.risk_mark(order["received_at"], d, self.at_risk_share)
                        for m, d in order["deadlines"].items()},
            "needed_certificates": sorted(required_certificates(
                self.reference.certificate_rules, order["product"]["category"],
                order["request_type"])),
            "timeline": [self._entry("created", "intake", priority=order["priority"])],
        })
        # Offered in the same write that creates it, when someone is free.
        tech = self._reserve_best(order, self.store.technicians_of(order["branch"]))
        events = []
        if tech is not None:
            offer, entry = self._offer_fields(tech.technician_id)
            order.update(status=self._moved(order, "offer"), offer=offer,
                         tried=[tech.technician_id])
            order["timeline"].append(entry)
            events = self._events(order, "order_offered", technician_id=tech.technician_id)
        order["version"] = 1
        if not self.store.insert_order(order, events, self.uow.claim_until):
            if tech is not None:
                self.store.release_capacity(tech.technician_id)
            return None
        self.uow.wrote(ORDERS, order["_id"], events)
        if tech is not None:
            self._count_first_offer(order)
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
            offer, entry = self._offer_fields(tech.technician_id)
            if self._write(order, Change(
                    status=self._moved(order, "offer"), facts={"offer": offer},
                    tried=tech.technician_id, entry=entry,
                    events=self._events(order, "order_offered",
                                        technician_id=tech.technician_id))):
                if not order["tried"]:
                    self._count_first_offer(order)
                return True
            self.store.release_capacity(tech.technician_id)
            return None
        needed = set(order.get("needed_certificates", []))
        if order["tried"] and not self._anyone_left(order, technicians, needed):
            self._escalate(order, "every qualified technician declined or let the offer lapse")
        return False

    def _reserve_best(self, order: dict, technicians) -> Technician | None:
        """Take a unit of capacity from the best eligible technician not yet tried."""
        needed = set(order.get("needed_certificates", []))
        ranked = offerable(rank_candidates(technicians, needed, order["zone"], order["lat"],
                                           order["lon"], self.shifts, self.now,
                                           exclude=order["tried"]),
                           queue_deadline(order), self.now)
        return next((t for t in ranked if self.store.take_capacity(t.technician_id)), None)

    def _offer_fields(self, technician_id: str) -> tuple[dict, dict]:
        expires = self.now + self.offer_timeout
        offer = {"technician_id": technician_id, "offered_at": self.now, "expires_at": expires}
        entry = self._entry("offered", "dispatch", technician_id=technician_id,
                            expires_at=expires.isoformat())
        return offer, entry

    def _count_first_offer(self, order: dict) -> None:
        waited = (self.now - as_utc(order["received_at"])).total_seconds()
        self.uow.observe("received_to_offered", order["branch"], value=max(waited, 0.0))
        self.uow.count("offers", order["branch"])

    def _anyone_left(self, order: dict, technicians, needed: set[str]) -> bool:
        return any(t.active and needed <= t.certificates and order["zone"] in t.zones
                   and t.technician_id not in order["tried"] for t in technicians)

    def _escalate(self, order: dict, reason: str) -> None:
        self._write(order, Change(status=self._moved(order, "escalate"),
                                  events=self._events(order, "order_escalated", reason=reason),
                                  entry=self._entry("escalated", "dispatch", reason=reason)))

    def drain_queue(self, branch: str, limit: int = DRAIN_WINDOW) -> int:
        """Offer queued orders in the policy's order (queueing.drain_order) while anyone is
        free."""
        offered = 0
        if not self._someone_free(branch):
            return 0
        windows = (self.store.queued(branch, limit, due_from=feasible_from(self.now))
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

    def expire_offers(self) -> list[str]:
        """Lapsed offers go back to the queue and on to the next candidate."""
        moved = []
        for order in self.store.expired_offers(self.now):
            tech = order["offer"]["technician_id"]
            entry = self._entry("offer_expired", "dispatch", technician_id=tech)
            if self._write(order, Change(status=self._moved(order, "expire"),
                                         facts={"offer": None}, entry=entry)):
                self.store.release_capacity(tech)
                moved.append(order["_id"])
        for order_id in moved:
            self.offer(order_id)
        return moved

    # -- technician and dispatcher steps ---------------------------------------------
    def step(self, order_id: str, action: str, payload: dict, actor: Actor) -> dict:
        for _ in range(MAX_RACE_RETRIES):
            order = self.store.get(order_id, actor.branch)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            transition = lifecycle.check(action, order["status"])
            if transition.technician_step and actor.role == "technician":
                holder = (order.get("offer") or {}).get("technician_id") or order["technician_id"]
                if holder != actor.technician_id:
                    raise Forbidden("this order is not yours")
            if self._steps()[action](order, payload, actor, transition.target):
                return self.store.get(order_id)
        raise Conflict("the order changed while this step was applied; try again")

    def _steps(self) -> dict[str, Callable[[dict, dict, Actor, str | None], bool]]:
        """Each step's handler, given the state the lifecycle leads the order to."""
        return {"accept": self._do_accept, "reject": self._do_reject,
                "contact": self._do_contact, "appointment": self._do_appointment,
                "check-in": self._do_check_in, "wait-parts": self._do_wait_parts,
                "resume": self._do_resume, "complete": self._do_complete,
                "assign": self._do_assign, "cancel": self._do_cancel,
                "approve-delay": self._do_approve_delay}

    def _reach(self, order: dict, milestone: str) -> dict:
        """Facts for reaching a milestone now; its outcome is counted when the write
        that sets them succeeds."""
        existing = (order.get("milestones") or {}).get(milestone) or {}
        fields: dict[str, Any] = {f"milestones.{milestone}.at": self.now}
        if "outcome" in existing:
            return fields  # already breached by the sweeper: not counted again
        deadline = order["deadlines"].get(milestone)
        result = sla.outcome(self.now, as_utc(deadline) if deadline else None)
        fields[f"milestones.{milestone}.outcome"] = result
        rule = self.reference.commitments.rule(order["branch"], order["zone"],
                                               order["request_type"], order["priority"],
                                               milestone)
        if rule is not None:
            spent = rule.calendar.elapsed(as_utc(order["received_at"]), self.now)
            if milestone == "resolution":
                spent -= timedelta(seconds=order.get("paused_seconds", 0.0))
            self._reaching.reach(Reached(
                _labels(order, milestone), result, max(spent.total_seconds(), 0.0)))
        return fields

    def _do_accept(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        tech = order["offer"]["technician_id"]
        return self._write(order, Change(
            status=status, facts={"technician_id": tech, "offer": None},
            events=self._events(order, "order_accepted", technician_id=tech),
            entry=self._entry("accepted", actor.label, note=payload.get("note"))))

    def _do_reject(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        tech = order["offer"]["technician_id"]
        if not self._write(order, Change(
                status=status, facts={"offer": None},
                entry=self._entry("rejected", actor.label, reason=payload["reason"]))):
            return False
        self.store.release_capacity(tech)
        self.offer(order["_id"])
        return True

    def _do_contact(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        return self._write(order, Change(
            status=status, facts=self._reach(order, "first_contact"),
            events=self._events(order, "order_contacted"),
            entry=self._entry("contacted", actor.label, note=payload.get("note"))))

    def _do_appointment(self, order: dict, payload: dict, actor: Actor,
                        status: str | None) -> bool:
        start, end = payload["start"], payload["end"]
        if end < self.now:
            raise InvalidInput("the slot is in the past", {"end": ["Must be in the future."]})
        sets: dict[str, Any] = {"appointment": {
            "start": start, "end": end, "customer_requested": payload["customer_requested"],
            "reason": payload.get("reason")}}
        arrival = order["deadlines"].get("arrival")
        if payload["customer_requested"] and arrival and as_utc(arrival) < end:
            # A later slot asked for by the customer does not count against the commitment.
            sets["deadlines.arrival"] = end
            sets["original_deadlines.arrival"] = arrival
            sets["risk_at.arrival"] = sla.risk_mark(as_utc(order["received_at"]), end,
                                                    self.at_risk_share)
        step = "rescheduled" if order["status"] == "scheduled" else "scheduled"
        return self._write(order, Change(
            status=status, facts=sets, events=self._events(order, "order_scheduled"),
            entry=self._entry(step, actor.label, start=start.isoformat(), end=end.isoformat(),
                              customer_requested=payload["customer_requested"],
                              reason=payload.get("reason"))))

    def _do_check_in(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        return self._write(order, Change(
            status=status, facts=self._reach(order, "arrival"),
            events=self._events(order, "order_arrived"),
            entry=self._entry("checked_in", actor.label,
                              confirmed_by_customer=payload["confirmed_by_customer"])))

    def _do_wait_parts(self, order: dict, payload: dict, actor: Actor,
                       status: str | None) -> bool:
        parts = payload["parts"]
        facts = {"paused_at": self.now, "waiting_for": {
            "parts": parts, "expected_at": payload.get("expected_at"),
            "customer_informed": payload["customer_informed"]}}
        return self._write(order, Change(
            status=status, facts=facts,
            events=self._events(order, "order_waiting_parts", parts=parts),
            entry=self._entry("waiting_parts", actor.label, parts=parts)))

    def _do_resume(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        facts, paused = self._resume_facts(order)
        return self._write(order, Change(
            status=status, facts=facts, paused_seconds=paused,
            events=self._events(order, "order_resumed"),
            entry=self._entry("resumed", actor.label, paused_seconds=paused)))

    def _resume_facts(self, order: dict) -> tuple[dict[str, Any], float]:
        """The pause ends; the resolution deadline moves by the time paused."""
        paused_at = as_utc(order["paused_at"])
        sets: dict[str, Any] = {"paused_at": None}
        resolution = order["deadlines"].get("resolution")
        if resolution is not None:
            moved = sla.resumed_deadline(as_utc(resolution), paused_at, self.now)
            sets["deadlines.resolution"] = moved
            sets["risk_at.resolution"] = sla.risk_mark(as_utc(order["received_at"]), moved,
                                                       self.at_risk_share)
        return sets, (self.now - paused_at).total_seconds()

    def _do_complete(self, order: dict, payload: dict, actor: Actor,
                     status: str | None) -> bool:
        completion = {**payload, "completed_at": self.now}
        kinds = ["order_completed"] + (["exchange_requested"] if payload["cannot_fix"] else [])
        tech = self.store.technician(order["technician_id"]) or {}
        facts = billing_facts(order, payload)
        events = self._events(order, *kinds, technician_id=order["technician_id"],
                              completion=plain(completion),
                              serial_number=order["product"].get("serial_number"),
                              **callback_facts(order),  # zone, request_type, customer...
                              service_centre_id=tech.get("service_centre_id"),
                              billing=facts, region_code=order["region_code"],
                              category=order["product"]["category"],
                              warranty=facts["warranty"])
        if not self._write(order, Change(
                status=status, facts={"completion": completion,
                                      **self._reach(order, "resolution")},
                events=events, entry=self._entry("completed", actor.label,
                                                 cannot_fix=payload["cannot_fix"]))):
            return False
        self.store.release_capacity(order["technician_id"])
        self.uow.count("completed", order["branch"], order["zone"], order["request_type"])
        return True

    def _do_assign(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        tech_id = payload["technician_id"]
        tech = self.store.technician(tech_id, order["branch"])
        if tech is None or not tech.get("active", True):
            raise InvalidInput("no such active technician in this branch",
                               {"technician_id": ["Unknown or inactive technician."]})
        previous = order["technician_id"] or (order.get("offer") or {}).get("technician_id")
        if previous == tech_id:
            raise Conflict("the order is already with this technician")
        self.store.take_capacity(tech_id, force=True)  # the dispatcher may exceed the cap
        entry = self._entry("assigned" if previous is None else "reassigned", actor.label,
                            technician_id=tech_id, previous=previous,
                            reason=payload.get("reason"))
        if not self._write(order, Change(
                status=status, facts={"technician_id": tech_id, "offer": None}, entry=entry,
                events=self._events(order, "order_accepted", technician_id=tech_id))):
            self.store.release_capacity(tech_id)
            return False
        self.store.release_capacity(previous)
        return True

    def _do_cancel(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        holder = order["technician_id"] or (order.get("offer") or {}).get("technician_id")
        if not self._write(order, Change(
                status=status, facts={"offer": None},
                events=self._events(order, "order_cancelled", reason=payload["reason"]),
                entry=self._entry("cancelled", actor.label, reason=payload["reason"]))):
            return False
        self.store.release_capacity(holder)
        return True

    def _do_approve_delay(self, order: dict, payload: dict, actor: Actor,
                          status: str | None) -> bool:
        if not payload["customer_informed"]:
            raise InvalidInput("the customer must be told of a delay first",
                               {"customer_informed": ["Must be true."]})
        delay = {"milestone": payload["milestone"], "new_deadline": payload["new_deadline"],
                 "reason": payload["reason"], "approved_by": actor.label,
                 "approved_at": self.now}
        return self._write(order, Change(
            status=status, delay=delay,
            entry=self._entry("delay_approved", actor.label, milestone=payload["milestone"],
                              new_deadline=payload["new_deadline"].isoformat())))

    # -- parts (inventory's events) ----------------------------------------------------
    def parts_short(self, event_id: str, data: dict[str, Any]) -> bool:
        """inventory.parts_short: the order waits for parts (resolution clock paused)
        with the ETA the customer can be told. False for a redelivery."""
        def change(order: dict) -> Change:
            shortage = data.get("shortage_id")
            waiting = {"parts": data["parts"], "expected_at": data.get("eta"),
                       "customer_informed": False, "shortage_id": shortage}
            if shortage in order.get("parts_arrived", []):
                return Change()  # the parts came in before this news did: keep working
            if order["status"] in lifecycle.TRANSITIONS["parts-short"].sources:
                return Change(status=self._moved(order, "parts-short"),
                              facts={"paused_at": self.now, "waiting_for": waiting},
                              events=self._events(order, "order_waiting_parts",
                                                  parts=data["parts"]))
            if order["status"] == "waiting_parts":  # a further shortage: the later date
                return Change(facts={"waiting_for": waiting})
            return Change()
        return self._apply_parts_event(event_id, data, "parts_short", change)

    def parts_arrived(self, event_id: str, data: dict[str, Any]) -> bool:
        """inventory.parts_arrived: resume the order, its priority raised so it is
        repaired first (到货后优先修理); emergency stays emergency."""
        def change(order: dict) -> Change:
            arrived = [data.get("shortage_id")]
            waiting = order.get("waiting_for") or {}
            if order["status"] != "waiting_parts" or waiting.get("shortage_id") not in (
                    None, data.get("shortage_id")):
                return Change(arrived=arrived)
            facts, paused = self._resume_facts(order)
            facts["parts_arrived_at"] = self.now
            if order["priority"] != "emergency":
                facts["priority"] = "high"
                facts["priority_reasons"] = [*order.get("priority_reasons", []),
                                             "parts_arrived"]
            return Change(status=self._moved(order, "parts-arrived"), facts=facts,
                          paused_seconds=paused, arrived=arrived,
                          events=self._events(order, "order_resumed"))
        return self._apply_parts_event(event_id, data, "parts_arrived", change)

    def _apply_parts_event(self, event_id: str, data: dict[str, Any], step: str,
                           make: Callable[[dict], Change]) -> bool:
        def build(order: dict) -> Change:
            change = make(order)
            change.entry = self._entry(step, "inventory", shortage_id=data.get("shortage_id"),
                                       eta=data.get("eta"), applied=change.moves)
            return change
        return self._apply_once(event_id, data["order_id"], build, "a parts event")

    # -- the callback's verdict -------------------------------------------------------
    def record_callback(self, event_id: str, data: dict[str, Any]) -> bool:
        """callbacks.callback_done: a completed order is ``closed`` when the customer was
        reached, it is fixed and they are satisfied (verified), or when they could not be
        reached (unverified). Any other verdict is noted on the timeline and the order
        stays completed (a repeat repair is intake's, a complaint is complaints').
        Once per event; False for a redelivery."""
        def build(order: dict) -> Change:
            verdict = lifecycle.callback_verdict(order["status"], data["outcome"])
            change = Change()
            if verdict is not None:
                change = Change(status=self._moved(order, "close"), facts={"closure": {
                    "verified": verdict, "outcome": data["outcome"],
                    "task_id": data["task_id"], "at": self.now}},
                    events=self._events(order, "order_closed", verified=verdict))
            change.entry = self._entry("closed" if verdict is not None else "callback",
                                       "callbacks", outcome=data["outcome"],
                                       task_id=data["task_id"], verified=verdict)
            return change
        return self._apply_once(event_id, data["order_id"], build, "the callback")

    def _apply_once(self, event_id: str, order_id: str, build, what: str) -> bool:
        """Another service's event applied to an order once: ``build(order)`` gives the
        change; the write is conditional on the version read and records the event id.
        False for a redelivery."""
        for _ in range(MAX_RACE_RETRIES):
            order = self.store.get(order_id)
            if order is None:
                raise OrderNotYetKnown(order_id)
            if event_id in order.get("applied_events", []):
                return False
            change = build(order)
            change.applied_event = event_id
            if self._write(order, change):
                return True
        raise Conflict(f"the order changed repeatedly while {what} was applied")

    # -- capacity reconciliation -----------------------------------------------------
    def reconcile_capacity(self, branches: list[str]) -> int:
        """Correct slot counters that disagree with the orders technicians hold (see
        domain.capacity); returns how many were corrected. Each counter is read before
        its orders are counted, so a slot moved after the read voids that correction."""
        corrected = 0
        for tech in self.store.slot_counters(branches):
            seen = slot_check(tech, self.store.held_count(tech["_id"]))
            corrected += self.store.settle_slots(tech, judge(seen, tech.get("slots_note")))
        return corrected

    # -- the SLA sweeper -------------------------------------------------------------
    def sweep_breaches(self) -> int:
        """Count each milestone whose deadline passed unreached as breached, once."""
        swept = 0
        for milestone in MILESTONES:
            for order in self.store.unswept(milestone, self.now):
                if self._write(order, Change(
                        facts={f"milestones.{milestone}.outcome": "breached"},
                        events=self._events(order, "milestone_breached", milestone=milestone),
                        entry=self._entry("breached", "sla", milestone=milestone))):
                    self.uow.reach(Reached(_labels(order, milestone), "breached", -1.0))
                    swept += 1
        return swept

    def open_milestone_status(self, branches: list[str]
                              ) -> dict[tuple[str, ...], tuple[int, int]]:
        """(overdue, at_risk) counts per label set, for the gauges."""
        counts: dict[tuple[str, ...], list[int]] = {}
        for milestone in MILESTONES:
            for order in self.store.watched(milestone, branches, self.now):
                if milestone == "resolution" and order["status"] == "waiting_parts":
                    continue  # the clock is paused
                deadline = as_utc(order["deadlines"][milestone])
                slot = counts.setdefault(_labels(order, milestone), [0, 0])
                if self.now >= deadline:
                    slot[0] += 1
                elif sla.is_at_risk(self.now, as_utc(order["received_at"]), deadline,
                                    self.at_risk_share):
                    slot[1] += 1
        return {labels: (pair[0], pair[1]) for labels, pair in counts.items()}


def callback_facts(order: dict) -> dict[str, Any]:
    """What the callback needs of a completed order: whom to call, about what, and the
    labels its commitment is counted under."""
    customer = order.get("customer") or {}
    return {"zone": order["zone"], "request_type": order["request_type"],
            "priority": order["priority"], "follow_up_of": order.get("follow_up_of"),
            "customer": {key: customer.get(key) for key in ("name", "phone", "address",
                                                             "region_code")},
            "product": order.get("product") or {}}


def billing_facts(order: dict, completion: dict) -> dict[str, Any]:
    """What billing prices a completion from: the order's facts and the technician's
    findings. The warranty decided at diagnosis replaces intake's ``unknown`` (only then)."""
    warranty = (order.get("warranty") or {}).get("status", "unknown")
    if warranty == "unknown":
        warranty = completion.get("warranty")
        if warranty is None:
            raise InvalidInput("decide the warranty at diagnosis", {"warranty": [
                "Intake could not tell; give in_warranty, main_parts_only or "
                "out_of_warranty."]})
    return {
        "category": order["product"]["category"], "region_code": order["region_code"],
        "zone": order["zone"], "request_type": order["request_type"], "warranty": warranty,
        "cause": completion.get("cause", "quality_failure"),
        "repair_code": completion.get("repair_code"),
        "cannot_fix": completion.get("cannot_fix", False),
        "parts_used": [dict(line) for line in completion.get("parts_used", [])],
        "distance_km": completion.get("distance_km", "0.0"),
        "fault_code": completion.get("fault_code"),
        "serial_number": order["product"].get("serial_number"),
    }


def _labels(order: dict, milestone: str) -> tuple[str, str, str, str, str]:
    return (order["branch"], order["zone"], milestone, order["request_type"], order["priority"])

