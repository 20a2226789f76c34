"""The technicians' and dispatchers' steps on an order, each checked against the
lifecycle (services/dispatch/domain/lifecycle.py) and written as one change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from services.common.clock import as_utc
from services.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.common.unit_of_work import Reached
from services.contracts import plain
from services.dispatch.base import MAX_RACE_RETRIES, Actor, DispatcherBase
from services.dispatch.domain import booking, lifecycle, sla, visits
from services.dispatch.domain.work_order import Change
from services.dispatch.facts import billing_facts, callback_facts, milestone_labels


class Steps(DispatcherBase):
    """The dispatcher's steps by people."""

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
                "check-in": self._do_check_in, "leave": self._do_leave,
                "wait-parts": self._do_wait_parts,
                "resume": self._do_resume, "complete": self._do_complete,
                "pause": self._do_pause, "unpause": self._do_unpause,
                "assign": self._do_assign, "cancel": self._do_cancel,
                "approve-delay": self._do_approve_delay}

    def _reach(self, order: dict, milestone: str) -> dict:
        """Facts for reaching a milestone now; its outcome is counted when the write
        that sets them succeeds."""
        existing = (order.get("milestones") or {}).get(milestone) or {}
        fields: dict[str, Any] = {f"milestones.{milestone}.at": self.now}
        rule = self._rule(order, milestone)
        if rule is not None:  # where the time went, late or not
            fields.update(self._ledger(order, milestone, rule))
        if "outcome" in existing:
            return fields  # already breached by the sweeper: not counted again
        deadline = order["deadlines"].get(milestone)
        result = sla.outcome(self.now, as_utc(deadline) if deadline else None,
                             sla.before_delay(order, milestone))
        fields[f"milestones.{milestone}.outcome"] = result
        if rule is not None:
            spent = rule.calendar.elapsed(as_utc(order["received_at"]), self.now)
            spent -= timedelta(seconds=sla.stood_still(order, milestone))
            self._reaching.reach(Reached(
                milestone_labels(order, milestone), result, max(spent.total_seconds(), 0.0)))
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
        self.store.release_capacity(tech, order["_id"])
        self.offer(order["_id"])
        return True

    def _do_contact(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        return self._write(order, Change(
            status=status, facts=self._reach(order, "first_contact"),
            events=self._events(order, "order_contacted"),
            entry=self._entry("contacted", actor.label, note=payload.get("note"))))

    def _do_appointment(self, order: dict, payload: dict, actor: Actor,
                        status: str | None) -> bool:
        """The slot is checked against the technician's other bookings and written while
        their bookings are held (a lease), so two replicas never book overlapping slots."""
        if payload["end"] < self.now:
            raise InvalidInput("the slot is in the past", {"end": ["Must be in the future."]})
        with self._bookings_held(order["technician_id"]):
            self._check_slot_free(order, payload["start"], payload["end"])
            return self._book(order, payload, actor, status)

    def _book(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        start, end = payload["start"], payload["end"]
        sets: dict[str, Any] = {"appointment": {
            "start": start, "end": end, "customer_requested": payload["customer_requested"],
            "customer_confirmed": payload["customer_confirmed"],
            "reason": payload.get("reason"), "booked_at": self.now},
            "remind_at": booking.reminder_due(start, self.now)}
        resumed, paused = self._pause_ends(order)  # the slot is judged on the moved clock
        arrival = sla.as_resumed(order, resumed, paused)["deadlines"].get("arrival")
        if (payload["customer_requested"] and arrival and as_utc(arrival) < end
                and visits.first_arrival(order.get("milestones"))):
            # A later slot asked for by the customer does not count against the commitment
            # (the first visit's: a later one's arrival was reached already).
            sets["deadlines.arrival"] = end
            sets["original_deadlines.arrival"] = arrival
            sets["risk_at.arrival"] = sla.risk_mark(as_utc(order["received_at"]), end,
                                                    self.at_risk_share)
        step = "rescheduled" if order["status"] == "scheduled" else "scheduled"
        return self._write(order, Change(
            status=status, facts={**resumed, **sets}, paused=paused,
            events=self._events(order, "order_scheduled"),
            entry=self._entry(step, actor.label, start=start.isoformat(), end=end.isoformat(),
                              customer_requested=payload["customer_requested"],
                              customer_confirmed=payload["customer_confirmed"],
                              reason=payload.get("reason"))))

    def _check_slot_free(self, order: dict, start, end) -> None:
        """An appointment must not overlap the technician's other bookings on open
        orders: a clash is a 409 naming the other order and its time."""
        taken = booking.clash(start, end, self.store.bookings_of(order["technician_id"],
                                                                 but=order["_id"]))
        if taken is not None:
            raise Conflict(
                f"预约时段冲突：技师已约 {taken.describe()} / the slot clashes with the "
                f"technician's booking {taken.describe()}", {"start": [
                    f"与工单 {taken.describe()} 的预约重叠 / Overlaps the booking "
                    f"{taken.describe()}."]})

    def _do_check_in(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        resumed, paused = self._pause_ends(order)
        facts = {**resumed, "visits": visits.arrive(order.get("visits") or [],
                                                     order["technician_id"], self.now)}
        if visits.first_arrival(order.get("milestones")):
            # Arrival is judged against its clock as the pause leaves it; a later visit
            # leaves the milestone as the first one reached it.
            facts.update(self._reach(sla.as_resumed(order, resumed, paused), "arrival"))
        return self._write(order, Change(
            status=status, facts=facts, paused=paused,
            events=self._events(order, "order_arrived"),
            entry=self._entry("checked_in", actor.label, visit=len(facts["visits"]),
                              confirmed_by_customer=payload["confirmed_by_customer"])))

    def _do_leave(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        """A visit ends without completion: the order is booked again; the time until
        the next arrival is the outcome's cause's (domain/visits.py)."""
        outcome = payload["outcome"]
        tech = self.store.technician(order["technician_id"]) or {}
        cause = visits.delay_cause(outcome, bool(tech.get("service_centre_id")))
        done = self._visit_ends(order, outcome, payload.get("note"))
        return self._write(order, Change(
            status=status, facts={"visits": done},
            events=self._events(order, "order_left", outcome=outcome, cause=cause),
            entry=self._entry("left", actor.label, visit=len(done), outcome=outcome,
                              cause=cause, note=payload.get("note"))))

    def _do_wait_parts(self, order: dict, payload: dict, actor: Actor,
                       status: str | None) -> bool:
        parts = payload["parts"]
        facts, paused = self._switch_pause(order, "waiting_parts")
        facts["waiting_for"] = {"parts": parts, "expected_at": payload.get("expected_at"),
                                "customer_informed": payload["customer_informed"]}
        facts["visits"] = self._visit_ends(order, visits.PARTS)
        return self._write(order, Change(
            status=status, facts=facts, paused=paused,
            events=self._events(order, "order_waiting_parts", parts=parts),
            entry=self._entry("waiting_parts", actor.label, parts=parts)))

    def _do_resume(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        facts, paused = self._resume_facts(order)
        return self._write(order, Change(
            status=status, facts=facts, paused=paused,
            events=self._events(order, "order_resumed"),
            entry=self._entry("resumed", actor.label, paused_seconds=paused)))

    def _do_pause(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        reason = payload["reason"]
        if reason not in self.reference.pause_reasons or reason == "waiting_parts":
            known = sorted(set(self.reference.pause_reasons) - {"waiting_parts"})
            raise InvalidInput("not a pause reason of this branch", {"reason": [
                f"One of {', '.join(known) or '(none)'}; waiting for parts is wait-parts."]})
        if not payload["customer_informed"]:
            raise InvalidInput("the customer must be told of the pause first",
                               {"customer_informed": ["Must be true."]})
        if order.get("paused_at") is not None:
            raise Conflict("the order's clocks are already paused")
        facts = {**self._pause_facts(order, reason), "pause_reason": reason}
        return self._write(order, Change(status=status, facts=facts, entry=self._entry(
            "paused", actor.label, reason=reason, note=payload.get("note"),
            clocks=facts["paused_for"])))

    def _do_unpause(self, order: dict, payload: dict, actor: Actor,
                    status: str | None) -> bool:
        if order.get("paused_at") is None:
            raise Conflict("the order's clocks are not paused")
        facts, paused = self._resume_facts(order)
        return self._write(order, Change(
            status=status, facts={**facts, "pause_reason": None}, paused=paused,
            entry=self._entry("unpaused", actor.label, note=payload.get("note"),
                              paused_seconds=paused)))

    def _do_complete(self, order: dict, payload: dict, actor: Actor,
                     status: str | None) -> bool:
        completion = {**payload, "completed_at": self.now}
        kinds = ["order_completed"] + (["exchange_requested"] if payload["cannot_fix"] else [])
        outcome = visits.CANNOT_FIX if payload["cannot_fix"] else visits.COMPLETED
        tech = self.store.technician(order["technician_id"]) or {}
        facts = billing_facts(order, payload)
        events = self._events(order, *kinds, technician_id=order["technician_id"],
                              # Images (signature, photos) stay on the order, out of events.
                              completion=plain({key: value for key, value in completion.items()
                                                if key not in ("signature_png", "photos")}),
                              serial_number=order["product"].get("serial_number"),
                              **callback_facts(order),  # zone, request_type, customer...
                              service_centre_id=tech.get("service_centre_id"),
                              billing=facts, region_code=order["region_code"],
                              category=order["product"]["category"],
                              warranty=facts["warranty"])
        resumed, paused = self._pause_ends(order)  # judged on the clock as the pause left it
        reached = self._reach(sla.as_resumed(order, resumed, paused), "resolution")
        if not self._write(order, Change(
                status=status, facts={**resumed, "completion": completion, **reached,
                                      "visits": self._visit_ends(order, outcome)},
                paused=paused, events=events, entry=self._entry("completed", actor.label,
                                                 cannot_fix=payload["cannot_fix"]))):
            return False
        self.store.release_capacity(order["technician_id"], order["_id"])
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
        slot = order.get("appointment")
        if slot and order["status"] == "scheduled":  # the booked slot goes with the order
            self._check_slot_free({**order, "technician_id": tech_id},
                                  as_utc(slot["start"]), as_utc(slot["end"]))
        # The dispatcher may exceed the cap. A slot this call did not take (a repeat of the
        # same assignment holds it already) is not this call's to give back.
        took = self.store.take_capacity(tech_id, order["_id"], force=True)
        entry = self._entry("assigned" if previous is None else "reassigned", actor.label,
                            technician_id=tech_id, previous=previous,
                            reason=payload.get("reason"))
        if not self._write(order, Change(
                status=status, facts={"technician_id": tech_id, "offer": None}, entry=entry,
                events=self._events(order, "order_accepted", technician_id=tech_id))):
            if took:
                self.store.release_capacity(tech_id, order["_id"])
            return False
        self.store.release_capacity(previous, order["_id"])
        return True

    def _do_cancel(self, order: dict, payload: dict, actor: Actor, status: str | None) -> bool:
        holder = order["technician_id"] or (order.get("offer") or {}).get("technician_id")
        if not self._write(order, Change(
                status=status, facts={"offer": None},
                events=self._events(order, "order_cancelled", reason=payload["reason"]),
                entry=self._entry("cancelled", actor.label, reason=payload["reason"]))):
            return False
        self.store.release_capacity(holder, order["_id"])
        return True

    def _do_approve_delay(self, order: dict, payload: dict, actor: Actor,
                          status: str | None) -> bool:
        if not payload["customer_informed"]:
            raise InvalidInput("the customer must be told of a delay first",
                               {"customer_informed": ["Must be true."]})
        milestone, new_deadline = payload["milestone"], payload["new_deadline"]
        current = order["deadlines"].get(milestone)
        if current is None or milestone in (order.get("milestones") or {}):
            raise Conflict(f"{milestone} has no open deadline to move")
        if new_deadline <= as_utc(current):
            raise InvalidInput("a delay moves the deadline later", {
                "new_deadline": [f"Must be after the current deadline, {current}."]})
        delay = {"milestone": milestone, "new_deadline": new_deadline,
                 "previous_deadline": current, "reason": payload["reason"],
                 "approved_by": actor.label, "approved_at": self.now}
        facts = {f"deadlines.{milestone}": new_deadline, f"risk_at.{milestone}": sla.risk_mark(
            as_utc(order["received_at"]), new_deadline, self.at_risk_share)}
        if sla.before_delay(order, milestone) is None:  # the first delay: keep where it was
            facts[f"before_delay.{milestone}"] = current
        return self._write(order, Change(
            status=status, delay=delay, facts=facts,
            entry=self._entry("delay_approved", actor.label, milestone=payload["milestone"],
                              new_deadline=payload["new_deadline"].isoformat())))

