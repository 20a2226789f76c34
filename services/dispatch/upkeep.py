"""The dispatcher's upkeep: technicians' slot counters reconciled with the orders they
hold, missed deadlines counted once at the deadline, the held orders' arrival forecast,
and the open orders' overdue and at-risk figures."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from services.common.clock import as_utc
from services.common.domain.commitments import MILESTONES
from services.common.unit_of_work import Reached
from services.dispatch.base import DispatcherBase
from services.dispatch.domain import booking, sla
from services.dispatch.domain.capacity import SlotCheck, judge, still_wrong
from services.dispatch.domain.forecast import (
    Forecast,
    Free,
    is_job_ahead,
    job_of,
    queue_forecast,
    walk,
)
from services.dispatch.domain.queueing import drain_order, unaccepted_emergency
from services.dispatch.domain.work_order import Change
from services.dispatch.facts import milestone_labels
from services.dispatch.store import is_paused

QUEUE_FORECAST_DEPTH = 200  # queued orders forecast per branch and pass, earliest first


class Upkeep(DispatcherBase):
    """The dispatcher's timers' work."""

    # -- capacity reconciliation -----------------------------------------------------
    def reconcile_capacity(self, branches: list[str], interval: timedelta) -> int:
        """Correct the slots that disagree with the orders technicians hold (see
        domain.capacity); returns how many were corrected. Each technician's slots are
        read before their orders, so a slot taken meanwhile shows as missing only for
        this pass; each technician is judged at the time it is looked at (a long pass
        must not date its late notes back to its start), and a correction is checked
        against the orders once more just before it is written."""
        corrected, started = 0, time.monotonic()
        for tech in self.store.slot_counters(branches):
            self.store.recount(tech)  # counters that drifted from the slots (older code)
            seen_at = self.now + timedelta(seconds=time.monotonic() - started)
            seen = SlotCheck(frozenset(tech.get("holding", ())),
                             self.store.held_orders(tech["_id"]))
            verdict = judge(seen, tech.get("slots_note"), seen_at, interval)
            if verdict.corrects:
                verdict = still_wrong(verdict, self.store.held_orders(tech["_id"]))
            if verdict.corrects or verdict.note != tech.get("slots_note"):
                corrected += self.store.settle_slots(tech["_id"], verdict)
        return corrected

    # -- the SLA sweeper -------------------------------------------------------------
    def next_breach_due(self) -> datetime | None:
        """When the earliest running, unreached milestone falls due (None: none runs)."""
        due = [at for at in (self.store.next_due(f"sweep_at.{milestone}")
                             for milestone in MILESTONES) if at is not None]
        return min(map(as_utc, due), default=None)

    def sweep_breaches(self) -> int:
        """Count each milestone whose deadline passed unreached as breached, once."""
        swept = 0
        for milestone in MILESTONES:
            for order in self.store.unswept(milestone, self.now):
                if self._write(order, Change(
                        facts={f"milestones.{milestone}.outcome": "breached"},
                        events=self._events(order, "milestone_breached", milestone=milestone),
                        entry=self._entry("breached", "sla", milestone=milestone))):
                    self.uow.reach(Reached(milestone_labels(order, milestone), "breached", -1.0))
                    swept += 1
        return swept

    # -- appointment reminders (提前一天提醒) --------------------------------------------
    def remind_appointments(self, branches: list[str]) -> int:
        """Each appointment whose reminder is due: ``appointment_reminder_due`` for a
        notifier, once (the mark goes in the same conditional write as the event); a
        reminder that is moot (checked in, cancelled, the slot begun) goes without one.
        Returns how many were sent."""
        sent = 0
        for order in self.store.reminders_due(self.now):
            if order["branch"] not in branches:
                continue
            slot = order["appointment"]
            start = as_utc(slot["start"])
            if not booking.still_ahead(order["status"], start, self.now):
                self._write(order, Change(facts={"remind_at": None}))
                continue
            sent += self._write(order, Change(
                facts={"remind_at": None, "appointment.reminded_at": self.now},
                events=self._events(order, "appointment_reminder_due",
                                    technician_id=order["technician_id"],
                                    start=start.isoformat(),
                                    end=as_utc(slot["end"]).isoformat(),
                                    customer_confirmed=slot.get("customer_confirmed", False)),
                entry=self._entry("reminder_due", "dispatch", start=start.isoformat())))
        return sent

    # -- the arrival forecast --------------------------------------------------------
    def forecast_arrivals(self, branch: str) -> list[Forecast]:
        """Each open order not yet arrived, forecast: a held one from its holder's list, a
        queued one as the queue will be served once those lists are done. An order whose
        forecast turned late (or on time again) is marked, with the reason."""
        forecasts: dict[str, Forecast] = {}
        notes: dict[str, dict | None] = {}
        free: list[Free] = []
        for tech in self.store.technicians_of(branch):
            held = self.store.held_jobs(tech.technician_id)
            jobs = [job_of(order) for order in held if is_job_ahead(order)]
            ahead, (at, lat, lon) = walk((tech.lat, tech.lon), jobs, self.now, self.pace,
                                         self.shifts.get(tech.shift))
            forecasts.update(ahead)
            notes.update({order["_id"]: order.get("forecast") for order in held})
            free.append(Free(tech, at, lat, lon))
        queued = drain_order(self.store.queued(branch, QUEUE_FORECAST_DEPTH), self.now)
        forecasts.update(queue_forecast(
            [(job_of(order), frozenset(order["needed_certificates"]), order["zone"])
             for order in queued], free, self.now, self.pace, self.shifts))
        notes.update({order["_id"]: order.get("forecast") for order in queued})
        for order_id, seen in forecasts.items():
            if seen.late != (notes.get(order_id) or {}).get("late", False):
                self._note_forecast(order_id, seen)
        return list(forecasts.values())

    def _note_forecast(self, order_id: str, seen: Forecast) -> None:
        """The forecast on the order for the dispatcher's screens: an advisory mark, not a
        step (no version, no timeline line), so it never races the order's own writes."""
        self.store.note_forecast(order_id, {"arrival": seen.arrival, "late": seen.late,
                                            "reason": seen.reason(), "at": self.now})

    def unaccepted_emergencies(self, branches: list[str]) -> dict[str, int]:
        """Per branch, the emergencies nobody has accepted by their first-contact deadline
        (their risk mark has passed, so the store's index finds them)."""
        counts = dict.fromkeys(branches, 0)
        for order in self.store.watched("first_contact", branches, self.now):
            if unaccepted_emergency(order, self.now):
                counts[order["branch"]] += 1
        return counts

    def open_milestone_status(self, branches: list[str]
                              ) -> dict[tuple[str, ...], tuple[int, int]]:
        """(overdue, at_risk) counts per label set, for the gauges."""
        counts: dict[tuple[str, ...], list[int]] = {}
        for milestone in MILESTONES:
            for order in self.store.watched(milestone, branches, self.now):
                if is_paused(order) and milestone in order.get("paused_for", ["resolution"]):
                    continue  # the clock is paused
                deadline = as_utc(order["deadlines"][milestone])
                slot = counts.setdefault(milestone_labels(order, milestone), [0, 0])
                if self.now >= deadline:
                    slot[0] += 1
                elif sla.is_at_risk(self.now, as_utc(order["received_at"]), deadline,
                                    self.at_risk_share):
                    slot[1] += 1
        return {labels: (pair[0], pair[1]) for labels, pair in counts.items()}

