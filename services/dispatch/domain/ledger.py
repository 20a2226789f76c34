"""Where the time went: every second from received to a milestone, on the milestone's own
calendar, attributed to exactly one cause.

The order's timeline says, step by step, who the order was waiting for: the queue (no
technician yet, or back after a lapsed or rejected offer), an offer not yet answered,
the technician (travel and the jobs before it; ``service_centre`` when the holder belongs
to one), the customer (a later slot they asked for, a pause for their reason), parts;
after a visit that ended without the repair (``left``), the visit's cause until the next
arrival (domain/visits.py).
Past the deadline a supervisor approved a delay from, the time is the approved delay's.
The causes of a milestone add up to its calendar-elapsed time (a property test checks
it on arbitrary timelines and calendars).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.clock import as_utc
from services.common.domain.commitments import Calendar

QUEUE, OFFERS, TECHNICIAN, SERVICE_CENTRE = "queue", "offers", "technician", "service_centre"
CUSTOMER, PARTS, APPROVED_DELAY = "customer", "parts", "approved_delay"
CAUSES = (QUEUE, OFFERS, TECHNICIAN, SERVICE_CENTRE, CUSTOMER, PARTS, APPROVED_DELAY)
QUEUED_AGAIN = ("created", "rejected", "offer_expired", "escalated")
OFFERED = ("offered", "reoffered")
PAUSE_ENDS = ("resumed", "parts_arrived", "unpaused", "checked_in", "scheduled",
              "rescheduled")


@dataclass
class _State:
    """Who the order waits for, as the timeline has it so far."""

    base: str = QUEUE  # queue, offers, or the holder's cause
    offered_to: str | None = None
    pause: str | None = None  # an open pause's cause (parts, the customer...)
    slot_start: datetime | None = None  # a later slot the customer asked for
    revisit: str | None = None  # a visit left unfinished: its cause, until the next arrival

    def cause(self, at: datetime) -> str:
        if self.pause:
            return self.pause
        if self.revisit:
            return self.revisit
        if self.slot_start is not None and at < self.slot_start:
            return CUSTOMER
        return self.base


def changes(timeline: Iterable[Mapping[str, Any]], pause_causes: Mapping[str, str],
            centres: Collection[str] = ()) -> list[tuple[datetime, str]]:
    """(from when, cause) as the timeline's steps set it, in time order. An open pause is
    its reason's cause whatever else happens meanwhile; a later slot the customer asked
    for is theirs until it starts (a new slot replaces it); the holder's time is the
    technician's, or their service centre's (``centres``: its technicians), per holder."""
    state, points = _State(), []
    for entry in sorted(timeline, key=lambda entry: as_utc(entry["at"])):
        at = as_utc(entry["at"])
        if state.slot_start is not None and state.slot_start < at:  # the slot began
            points.append((state.slot_start, state.cause(state.slot_start)))
        _apply(state, entry, at, pause_causes, centres)
        points.append((at, state.cause(at)))
    if state.slot_start is not None:
        points.append((state.slot_start, state.cause(state.slot_start)))
    return points


def _apply(state: _State, entry: Mapping[str, Any], at: datetime,
           pause_causes: Mapping[str, str], centres: Collection[str]) -> None:
    step, details = entry["step"], entry.get("details") or {}
    if step in ("parts_short", "parts_arrived") and details.get("applied") is False:
        return  # news that did not move the order
    if step in QUEUED_AGAIN:
        state.base, state.offered_to = QUEUE, None
    elif step in OFFERED:
        state.base, state.offered_to = OFFERS, details.get("technician_id")
    elif step in ("accepted", "assigned", "reassigned"):
        holder = details.get("technician_id") or state.offered_to or entry.get("by")
        state.base = SERVICE_CENTRE if holder in centres else TECHNICIAN
    if step in PAUSE_ENDS:
        state.pause = None
    if step in ("waiting_parts", "parts_short"):
        state.pause = parts_from(details.get("awaited_from"))
    elif step == "paused":
        state.pause = pause_causes.get(details.get("reason"), CUSTOMER)
    if step in ("scheduled", "rescheduled"):
        state.slot_start = _later_slot(at, details)
    elif step == "checked_in":
        state.slot_start = state.revisit = None
    if step == "left":
        cause = details.get("cause")
        state.revisit = cause if cause in CAUSES else TECHNICIAN


def parts_from(source: str | None) -> str:
    """The parts cause with who is awaited (``parts:SH-WH``, ``parts:supplier``) once
    inventory has said; plain ``parts`` until then."""
    return f"{PARTS}:{source}" if source else PARTS


def _later_slot(at: datetime, details: Mapping[str, Any]) -> datetime | None:
    if not details.get("customer_requested"):
        return None
    start = details.get("start")
    start_at = as_utc(datetime.fromisoformat(start)) if isinstance(start, str) else start
    return start_at if start_at is not None and start_at > at else None


def ledger(received: datetime, reached: datetime, points: list[tuple[datetime, str]],
           calendar: Calendar, delay_from: datetime | None = None) -> dict[str, float]:
    """Seconds per cause between ``received`` and ``reached`` on ``calendar``; every
    cause present (0 where none). ``delay_from``: the deadline before an approved delay."""
    return folded(detailed(received, reached, points, calendar, delay_from))


def folded(spent: Mapping[str, float]) -> dict[str, float]:
    """A detailed ledger by cause only (every cause present, 0 where none)."""
    seconds = dict.fromkeys(CAUSES, 0.0)
    for cause, amount in spent.items():
        seconds[cause.partition(":")[0]] += amount
    return seconds


def parts_sources(spent: Mapping[str, float]) -> dict[str, float]:
    """Of a detailed ledger, the parts time by who was awaited: a warehouse or service
    centre, the supplier, or ``unknown`` before inventory said."""
    sources: dict[str, float] = {}
    for cause, amount in spent.items():
        kind, _, source = cause.partition(":")
        if kind == PARTS and amount:
            _add(sources, source or "unknown", amount)
    return sources


def detailed(received: datetime, reached: datetime, points: list[tuple[datetime, str]],
             calendar: Calendar, delay_from: datetime | None = None) -> dict[str, float]:
    """As ``ledger``, with the parts time kept by source (``parts:<source>``); only the
    causes that took time."""
    seconds: dict[str, float] = {}
    cause, start = QUEUE, received
    for at, then in [*sorted(points, key=lambda point: point[0]), (reached, None)]:
        at = min(max(at, received), reached)
        _spend(seconds, cause, start, at, calendar, delay_from)
        if then is None:
            break
        cause, start = then, max(start, at)
    return seconds


def _spend(seconds: dict[str, float], cause: str, start: datetime, end: datetime,
           calendar: Calendar, delay_from: datetime | None) -> None:
    if end <= start:
        return
    ordinary_end = end if delay_from is None else min(end, max(start, delay_from))
    _add(seconds, cause, calendar.elapsed(start, ordinary_end).total_seconds())
    if ordinary_end < end:
        _add(seconds, APPROVED_DELAY, calendar.elapsed(ordinary_end, end).total_seconds())


def _add(seconds: dict[str, float], cause: str, amount: float) -> None:
    seconds[cause] = seconds.get(cause, 0.0) + amount
