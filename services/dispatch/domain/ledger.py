"""Where the time went: every second from received to a milestone, on the milestone's own
calendar, attributed to exactly one cause.

The order's timeline says, step by step, who the order was waiting for: the queue (no
technician yet, or back after a lapsed or rejected offer), an offer not yet answered,
the technician (travel and the jobs before it; ``service_centre`` when the holder belongs
to one), the customer (a later slot they asked for, a pause for their reason), parts.
Past the deadline a supervisor approved a delay from, the time is the approved delay's.
The causes of a milestone add up to its calendar-elapsed time (a property test checks
it on arbitrary timelines and calendars).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.common.clock import as_utc
from services.common.domain.commitments import Calendar

QUEUE, OFFERS, TECHNICIAN, SERVICE_CENTRE = "queue", "offers", "technician", "service_centre"
CUSTOMER, PARTS, APPROVED_DELAY = "customer", "parts", "approved_delay"
CAUSES = (QUEUE, OFFERS, TECHNICIAN, SERVICE_CENTRE, CUSTOMER, PARTS, APPROVED_DELAY)
HOLDER = "holder"  # the technician, or their service centre

# The cause from a step on; steps not named leave it as it was.
STEP_CAUSE = {
    "created": QUEUE, "rejected": QUEUE, "offer_expired": QUEUE, "escalated": QUEUE,
    "offered": OFFERS, "reoffered": OFFERS,
    "accepted": HOLDER, "assigned": HOLDER, "reassigned": HOLDER, "contacted": HOLDER,
    "resumed": HOLDER, "parts_arrived": HOLDER, "unpaused": HOLDER, "checked_in": HOLDER,
    "waiting_parts": PARTS, "parts_short": PARTS,
}


def changes(timeline: Iterable[Mapping[str, Any]],
            pause_causes: Mapping[str, str]) -> list[tuple[datetime, str]]:
    """(from when, cause) as the timeline's steps set it, in time order. A slot the
    customer asked for is the customer's until it starts; a pause is its reason's cause."""
    points: list[tuple[datetime, str]] = []
    for entry in timeline:
        at, step = as_utc(entry["at"]), entry["step"]
        details = entry.get("details") or {}
        if step in ("scheduled", "rescheduled"):
            points += _slot(at, details)
        elif step == "paused":
            points.append((at, pause_causes.get(details.get("reason"), CUSTOMER)))
        elif step in ("parts_short", "parts_arrived") and details.get("applied") is False:
            continue  # news that did not move the order
        elif step in STEP_CAUSE:
            points.append((at, STEP_CAUSE[step]))
    points.sort(key=lambda point: point[0])
    return points


def _slot(at: datetime, details: Mapping[str, Any]) -> list[tuple[datetime, str]]:
    if not details.get("customer_requested"):
        return [(at, HOLDER)]
    start = details.get("start")
    start_at = as_utc(datetime.fromisoformat(start)) if isinstance(start, str) else start
    if start_at is None or start_at <= at:
        return [(at, HOLDER)]
    return [(at, CUSTOMER), (start_at, HOLDER)]


def ledger(received: datetime, reached: datetime, points: list[tuple[datetime, str]],
           calendar: Calendar, holder: str = TECHNICIAN,
           delay_from: datetime | None = None) -> dict[str, float]:
    """Seconds per cause between ``received`` and ``reached`` on ``calendar``; every
    cause present (0 where none). ``holder``: the technician's cause or the service
    centre's; ``delay_from``: the deadline before an approved delay."""
    seconds = dict.fromkeys(CAUSES, 0.0)
    cause, start = QUEUE, received
    for at, then in [*points, (reached, None)]:
        at = min(max(at, received), reached)
        _spend(seconds, cause, start, at, calendar, delay_from)
        if then is None:
            break
        cause, start = (holder if then == HOLDER else then), max(start, at)
    return seconds


def _spend(seconds: dict[str, float], cause: str, start: datetime, end: datetime,
           calendar: Calendar, delay_from: datetime | None) -> None:
    if end <= start:
        return
    ordinary_end = end if delay_from is None else min(end, max(start, delay_from))
    seconds[cause] += calendar.elapsed(start, ordinary_end).total_seconds()
    if ordinary_end < end:
        seconds[APPROVED_DELAY] += calendar.elapsed(ordinary_end, end).total_seconds()
