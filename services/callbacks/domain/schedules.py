"""Scheduled visits and calls: maintenance contracts (monthly visit, quarterly inspection),
care callbacks (yearly for long-term customers, half-yearly for key customers) and
pre-season campaigns (one date, every unit of a category in a branch).

A schedule runs once per period: the period's tasks have ids made of the schedule and the
period, so a second replica running the same period inserts nothing new."""

from __future__ import annotations

import calendar
from datetime import datetime

from services.common.domain.branches import SCHEDULED_VISIT_PREFIX

KINDS = {
    "maintenance_visit": "monthly",
    "inspection": "quarterly",
    "long_term_care": "yearly",
    "key_customer_care": "half_yearly",
    "campaign": "once",
}
MONTHS = {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}


def period_of(kind: str) -> str:
    return KINDS[kind]


def add_months(at: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, on the month's last day if it is shorter."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def following_run(kind: str, run_at: datetime) -> datetime | None:
    """When the schedule runs next after the run due at ``run_at``; None when it is done."""
    period = period_of(kind)
    if period == "once":
        return None
    return add_months(run_at, MONTHS[period])


def period_key(run_at: datetime) -> str:
    """Names the period a run belongs to (its due date, UTC)."""
    return run_at.strftime("%Y%m%d")


def task_id(schedule_id: str, run_at: datetime, unit_key: str | None = None) -> str:
    base = f"{SCHEDULED_VISIT_PREFIX}{schedule_id}-{period_key(run_at)}"
    return f"{base}-{unit_key}" if unit_key else base
