"""Visits (上门): every arrival at the customer's, its departure and its outcome, one record
each on the order (``visits``). An order may need several: the customer was not home, a
second person or a special tool is needed, parts must be ordered (二次上门).

The arrival milestone is reached at the first arrival and never moved by a later one.
A visit that ends without the repair sends the order back to be booked again (the
lifecycle's ``leave``), and the time until the next arrival is its cause's in the delay
ledger (domain/ledger.py): the customer's when they were not home, the technician's (or
their service centre's) when they came without the second person or the tool the job
needs. Waiting for parts keeps its own step (``wait-parts``): its visit's outcome is
``parts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.dispatch.domain.ledger import CUSTOMER, SERVICE_CENTRE, TECHNICIAN

CUSTOMER_ABSENT = "customer_absent"  # 客户不在家
SECOND_PERSON = "second_person"  # 需二人作业
SPECIAL_TOOL = "special_tool"  # 需专用工具
PARTS = "parts"  # 待件: the wait-parts step
COMPLETED, CANNOT_FIX = "completed", "cannot_fix"  # the complete step

# A visit ended without completion, by the leave step: outcome -> who the delay is owed to
# (TECHNICIAN stands for the holder: their service centre's when they belong to one).
LEAVE_CAUSES: dict[str, str] = {
    CUSTOMER_ABSENT: CUSTOMER,
    SECOND_PERSON: TECHNICIAN,
    SPECIAL_TOOL: TECHNICIAN,
}
LEAVE_OUTCOMES = tuple(LEAVE_CAUSES)
OUTCOMES = (*LEAVE_OUTCOMES, PARTS, COMPLETED, CANNOT_FIX)


def first_arrival(milestones: dict[str, Any] | None) -> bool:
    """Whether an arrival now is the order's first (reaches the arrival milestone). An
    order that reached it before visits were recorded has arrived already."""
    return "at" not in ((milestones or {}).get("arrival") or {})


def arrive(visits: list[dict[str, Any]], technician_id: str | None,
           at: datetime) -> list[dict[str, Any]]:
    """The visits after a check-in: a new one. One still open (an arrival the order never
    recorded a departure for) is closed at this arrival, its outcome unknown."""
    kept = [*visits[:-1], _closed(visits[-1], at, None, None)] if _open(visits) else visits
    return [*kept, {"n": len(kept) + 1, "arrived_at": at, "left_at": None, "outcome": None,
                    "reason": None, "technician_id": technician_id}]


def depart(visits: list[dict[str, Any]], outcome: str, at: datetime,
           technician_id: str | None, reason: str | None = None,
           arrived_at: datetime | None = None) -> list[dict[str, Any]]:
    """The visits after the open one ends with ``outcome``. An order checked in before
    visits were recorded has none open: its visit is recorded now, arrived at
    ``arrived_at`` (the arrival milestone)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown visit outcome {outcome!r}")
    if _open(visits):
        return [*visits[:-1], _closed(visits[-1], at, outcome, reason)]
    return [*visits, {"n": len(visits) + 1, "arrived_at": arrived_at, "left_at": at,
                      "outcome": outcome, "reason": reason, "technician_id": technician_id}]


def delay_cause(outcome: str, holder_in_centre: bool) -> str:
    """Who the time until the next visit is owed to, for a visit left with ``outcome``."""
    cause = LEAVE_CAUSES[outcome]
    if cause == TECHNICIAN and holder_in_centre:
        return SERVICE_CENTRE
    return cause


def _open(visits: list[dict[str, Any]]) -> bool:
    return bool(visits) and visits[-1].get("left_at") is None


def _closed(visit: dict[str, Any], at: datetime, outcome: str | None,
            reason: str | None) -> dict[str, Any]:
    return {**visit, "left_at": at, "outcome": outcome, "reason": reason}
