"""Which queued order is offered first, and who may take it.

The store keeps the queue sorted by ``queue_deadline`` (one index range per branch). A
drain pass reads two windows of it: the earliest deadlines still ahead (``feasible_from``
on) and the very head (already overdue); ``drain_order`` offers the orders that can
still be on time first, so overdue orders do not starve them under peak load. And a
technician with a small cap keeps their last free slot for an order due soon
(``offerable``): long-deadline work waits in the queue instead of filling every slot.
The peak-season simulation (bench/peak_season.py) calls these same functions, so it
measures the policy that ships; the numbers behind both rules are in its report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from services.dispatch.domain.matching import Technician

DRAIN_WINDOW = 50  # orders read from each window per drain pass
RESERVE_HORIZON = timedelta(hours=4)  # due within this: may take a technician's last slot
RESERVE_MAX_CAP = 5  # caps above this (a service centre's pool) keep no reserve

Order = TypeVar("Order", bound=dict[str, Any])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def queue_deadline(order: dict[str, Any]) -> datetime:
    """The arrival deadline (the received time when the order has none): earliest first."""
    return _utc(order["deadlines"].get("arrival") or order["received_at"])


def feasible_from(now: datetime) -> datetime:
    """Queued orders due from here on can still be on time."""
    return now


def drain_order(windows: Iterable[Order], now: datetime) -> list[Order]:
    """Each queued order once: those still on time first, then the overdue, each earliest
    deadline first (least slack first among the still-feasible)."""
    unique = list({order["_id"]: order for order in windows}.values())
    unique.sort(key=lambda order: (queue_deadline(order) < feasible_from(now),
                                   queue_deadline(order), order["_id"]))
    return unique


def may_take(tech: Technician, deadline: datetime, now: datetime) -> bool:
    """A technician's last free slot goes only to an order due within the horizon."""
    if tech.cap < 2 or tech.cap > RESERVE_MAX_CAP:
        return True
    return tech.cap - tech.active_jobs >= 2 or deadline - now <= RESERVE_HORIZON


def offerable(ranked: Sequence[Technician], deadline: datetime,
              now: datetime) -> list[Technician]:
    """The ranked candidates who may take an order due at ``deadline``, best first."""
    return [tech for tech in ranked if may_take(tech, deadline, now)]
