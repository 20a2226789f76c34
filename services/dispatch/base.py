"""What every part of the dispatcher shares: the store, the reference data, the call's
unit of work, and the one way an order is written (``_write``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.common.clock import as_utc
from services.common.domain.commitments import MilestoneRule
from services.common.errors import Conflict
from services.common.reference import Reference
from services.common.unit_of_work import Outcomes, UnitOfWork
from services.dispatch.domain import ledger, lifecycle, sla, visits
from services.dispatch.domain.forecast import parse_pace
from services.dispatch.domain.matching import (
    parse_shift,
)
from services.dispatch.domain.work_order import Change
from services.dispatch.store import ORDERS, DispatchStore

MAX_RACE_RETRIES = 5
BOOKING_LEASE = timedelta(seconds=10)  # a booking's hold on its technician's slots
BOOKING_WAIT = (0.05, 40)  # seconds between tries, tries: another booking's write is short
EMERGENCY_OFFER_TIMEOUT = timedelta(minutes=3)  # services.yaml: emergency_offer_timeout_seconds


@dataclass
class Actor:
    role: str
    branch: str
    technician_id: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        return self.technician_id or f"{self.role}@{self.branch}"


class DispatcherBase:
    def __init__(self, store: DispatchStore, reference: Reference, uow: UnitOfWork,
                 offer_timeout: timedelta, at_risk_share: float = 0.8,
                 emergency_offer_timeout: timedelta = EMERGENCY_OFFER_TIMEOUT) -> None:
        self.at_risk_share = at_risk_share
        self.store = store
        self.reference = reference
        self.uow = uow
        self.now = uow.now
        self.offer_timeout = offer_timeout
        self.emergency_offer_timeout = min(emergency_offer_timeout, offer_timeout)
        self.shifts = {name: parse_shift(spec) for name, spec in reference.shifts.items()}
        self.pace = parse_pace(reference.pace)
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

    def _visit_ends(self, order: dict, outcome: str, reason: str | None = None) -> list:
        """The order's visits once the open one ends now with ``outcome``."""
        arrived = ((order.get("milestones") or {}).get("arrival") or {}).get("at")
        return visits.depart(order.get("visits") or [], outcome, self.now,
                             order["technician_id"], reason, arrived)

    @staticmethod
    def _moved(order: dict, action: str) -> str | None:
        """The state ``action`` leads the order to, as the lifecycle declares it."""
        return lifecycle.check(action, order["status"]).target

    @contextmanager
    def _bookings_held(self, technician_id: str) -> Iterator[None]:
        """The technician's bookings held by this call (a lease on the technician, given
        back at the end; a holder that died loses it after ``BOOKING_LEASE``): one slot is
        checked and written at a time, across replicas."""
        holder, (pause, tries) = uuid.uuid4().hex, BOOKING_WAIT
        for _ in range(tries):
            if self.store.hold_bookings(technician_id, holder, self.now,
                                        self.now + BOOKING_LEASE):
                break
            time.sleep(pause)
        else:
            raise Conflict("技师的预约正在变更，请稍后重试 / the technician's bookings are "
                           "being changed; try again")
        try:
            yield
        finally:
            self.store.free_bookings(technician_id, holder)

    # -- the milestones' clocks ------------------------------------------------------
    def _rule(self, order: dict, milestone: str) -> MilestoneRule | None:
        return self.reference.commitments.rule(order["branch"], order["zone"],
                                               order["request_type"], order["priority"],
                                               milestone)

    def _ledger(self, order: dict, milestone: str, rule: MilestoneRule) -> dict[str, Any]:
        """Where the time to ``milestone`` went, reached now, by cause (domain/ledger.py),
        and the parts time by who was awaited; counted once the write that records it
        is in."""
        centres = {tech.technician_id for tech in self.store.technicians_of(order["branch"])
                   if tech.service_centre}
        detailed = ledger.detailed(
            as_utc(order["received_at"]), self.now,
            ledger.changes(order.get("timeline") or [], self.reference.pause_causes, centres),
            rule.calendar, sla.before_delay(order, milestone))
        spent, parts_from = ledger.folded(detailed), ledger.parts_sources(detailed)
        branch = order["branch"]
        for cause, seconds in spent.items():
            if seconds:
                self._reaching.count("delay_seconds", branch, milestone, cause, amount=seconds)
        for source, seconds in parts_from.items():
            self._reaching.count("parts_wait_seconds", branch, milestone, source,
                                 amount=seconds)
        facts: dict[str, Any] = {f"milestones.{milestone}.ledger": _rounded(spent)}
        if parts_from:
            facts[f"milestones.{milestone}.parts_from"] = _rounded(parts_from)
        return facts

    def _pause_facts(self, order: dict, reason: str) -> dict[str, Any]:
        """The clocks ``reason`` stops: the unreached milestones whose commitment names it
        (``pause_on``)."""
        # A reached milestone, or one already past its deadline (the breach stands and is
        # still counted by the sweeper), has no clock to stop.
        done = set(order.get("milestones") or {}) | {
            m for m, deadline in order["deadlines"].items() if as_utc(deadline) <= self.now}
        return {"paused_at": self.now, "paused_for": sla.paused_by(
            reason, done, lambda milestone: self._rule(order, milestone))}

    def _switch_pause(self, order: dict, reason: str) -> tuple[dict[str, Any], dict[str, float]]:
        """A pause for ``reason`` starts now; one already open ends first, its clocks
        moved by the time they stood still (a shortage while the customer is away)."""
        resumed, paused = self._pause_ends(order)
        now_as = sla.as_resumed(order, resumed, paused)
        return {**resumed, **self._pause_facts({**now_as, "paused_at": None}, reason)}, paused

    def _pause_ends(self, order: dict) -> tuple[dict[str, Any], dict[str, float]]:
        """The resume facts when a step takes the order out of a pause (an appointment or
        a check-in while waiting for parts or paused for another reason); nothing
        otherwise."""
        if order.get("paused_at") is None:
            return {}, {}
        facts, paused = self._resume_facts(order)
        return {**facts, "pause_reason": None}, paused

    def _resume_facts(self, order: dict) -> tuple[dict[str, Any], dict[str, float]]:
        """The pause ends: each stopped clock restarts with the time it had left, on its
        own calendar; the time it stood still, per milestone."""
        paused_at = as_utc(order["paused_at"])
        sets: dict[str, Any] = {"paused_at": None, "paused_for": []}
        paused: dict[str, float] = {}
        for milestone in order.get("paused_for", ["resolution"]):  # older orders: resolution
            deadline, rule = order["deadlines"].get(milestone), self._rule(order, milestone)
            if deadline is None or rule is None:
                continue
            resumed = sla.resume(as_utc(deadline), paused_at, self.now, rule.calendar)
            sets[f"deadlines.{milestone}"] = resumed.deadline
            earlier = (order.get("before_delay") or {}).get(milestone)
            if earlier is not None:  # the deadline before an approved delay moves too
                sets[f"before_delay.{milestone}"] = sla.resume(
                    as_utc(earlier), paused_at, self.now, rule.calendar).deadline
            sets[f"risk_at.{milestone}"] = sla.risk_mark(
                as_utc(order["received_at"]), resumed.deadline, self.at_risk_share)
            paused[milestone] = resumed.paused_seconds
        return sets, paused


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in seconds.items() if value}
