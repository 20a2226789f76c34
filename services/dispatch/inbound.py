"""Other services' news about an order, each applied once: inventory's shortages and
arrivals pause and resume it; a reminder on a late order raises its priority; the
callback's verdict closes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.common.errors import Conflict
from services.dispatch.base import MAX_RACE_RETRIES, DispatcherBase
from services.dispatch.domain import escalations, lifecycle, sla, visits
from services.dispatch.domain.work_order import Change
from services.dispatch.store import OrderNotYetKnown


class InboundEvents(DispatcherBase):
    """The dispatcher's handling of other services' events."""

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
                facts, paused = self._switch_pause(order, "waiting_parts")
                if order["status"] == "on_site":  # the technician's visit ends for parts
                    facts["visits"] = self._visit_ends(order, visits.PARTS)
                return Change(status=self._moved(order, "parts-short"),
                              facts={**facts, "waiting_for": waiting}, paused=paused,
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
                          paused=paused, arrived=arrived,
                          events=self._events(order, "order_resumed"))
        return self._apply_parts_event(event_id, data, "parts_arrived", change)

    def _apply_parts_event(self, event_id: str, data: dict[str, Any], step: str,
                           make: Callable[[dict], Change]) -> bool:
        def build(order: dict) -> Change:
            change = make(order)
            change.entry = self._entry(step, "inventory", shortage_id=data.get("shortage_id"),
                                       eta=data.get("eta"), applied=change.moves,
                                       awaited_from=data.get("awaited_from"))
            return change
        return self._apply_once(event_id, data["order_id"], build, "a parts event")

    # -- reminders (催单, intake's events) ---------------------------------------------
    def record_reminder(self, event_id: str, data: dict[str, Any], at: datetime) -> bool:
        """intake.reminder_received: shown on the order; on an open order that is late (a
        milestone at risk or overdue) a normal priority is raised to high, so the order
        moves up the queue and the technician's list. False for a redelivery."""
        def build(order: dict) -> Change:
            facts: dict[str, Any] = {"reminders": order.get("reminders", 0) + 1,
                                     "last_reminder_at": at}
            raised = (order["status"] in lifecycle.OPEN_STATES
                      and order["priority"] == "normal" and sla.is_late(order, self.now))
            if raised:
                facts["priority"] = "high"
                facts["priority_reasons"] = [*order.get("priority_reasons", []), "reminder"]
            return Change(facts=facts, entry=self._entry(
                "reminder", "intake", channel=data.get("channel"),
                priority_raised=raised or None))
        return self._apply_once(event_id, data["order_id"], build, "a reminder")

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

    # -- cannot_fix (dispatch's own exchange_requested) ---------------------------------
    def open_exchange_escalation(self, event_id: str, data: dict[str, Any]) -> bool:
        """exchange_requested: the exchange or refund a cannot_fix completion owes the
        customer opens an escalation the dispatcher sees (domain/escalations.py), once per
        event; an order with one open already keeps it. False for a redelivery."""
        def build(order: dict) -> Change:
            if escalations.is_open(order):
                return Change(entry=self._entry("exchange_requested", "dispatch",
                                                opened=False))
            escalation = escalations.exchange_or_refund(data["completion"], event_id,
                                                        self.now)
            return Change(facts={"escalation": escalation}, entry=self._entry(
                "exchange_requested", "dispatch", opened=True,
                remedy=escalation["remedy"]))
        return self._apply_once(event_id, data["order_id"], build, "the exchange request")

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

