"""Which queued order is offered first, and who may take it.

The store keeps the queue sorted by ``queue_deadline`` (one index range per branch). A
drain pass reads two windows of it: the earliest deadlines still ahead (``feasible_from``
on) and the very head (already overdue); ``drain_order`` offers the orders that can
still be on time first, so overdue orders do not starve them under peak load. And a
technician with a small cap keeps their last free slot for an order due soon
(``offerable``): long-deadline work waits in the queue instead of filling every slot.
The peak-season simulation (bench/peak_season.py) calls these same functions, so it
measures the policy that ships; the numbers behind both rules are in its report.

Priority has a place, not only a label (``queue_place``): an emergency goes before every
other order, in the queue and in the technician's list, and is offered to a technician
with nothing in hand first (``rank_candidates(urgent=True)``); a high-priority order (key
customer, 12315 or media, repeat repair, parts arrived, a reminder on a late order) is
placed as if it were due ``HIGH_LEAD`` earlier: ahead of ordinary orders due about as
soon, not ahead of every ordinary order whatever its deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from services.dispatch.domain.matching import Technician

DRAIN_WINDOW = 50  # orders read from each window per drain pass
RESERVE_HORIZON = timedelta(hours=4)  # due within this: may take a technician's last slot
RESERVE_MAX_CAP = 5  # caps above this (a service centre's pool) keep no reserve
HIGH_LEAD = timedelta(hours=2)  # a high-priority order's place: as if due this much earlier
URGENT = "emergency"

Order = TypeVar("Order", bound=dict[str, Any])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UNACCEPTED = ("new", "offered", "escalated")  # nobody has taken the order on


def unaccepted_emergency(order: dict[str, Any], now: datetime) -> bool:
    """An emergency nobody has accepted by its first-contact deadline: a supervisor is
    paged (alert EmergencyNotAccepted)."""
    deadline = (order.get("deadlines") or {}).get("first_contact")
    return (band(order) == 0 and order["status"] in UNACCEPTED and deadline is not None
            and _utc(now) >= _utc(deadline))


def queue_deadline(order: dict[str, Any]) -> datetime:
    """The arrival deadline (the received time when the order has none): earliest first."""
    return _utc(order["deadlines"].get("arrival") or order["received_at"])


def band(order: dict[str, Any]) -> int:
    """0 for an emergency (before everything), 1 for every other order."""
    return 0 if order.get("priority") == URGENT else 1


def queue_place(order: dict[str, Any]) -> datetime:
    """Where the order stands among its band: its arrival deadline, ``HIGH_LEAD`` earlier
    for a high-priority order."""
    lead = HIGH_LEAD if order.get("priority") == "high" else timedelta(0)
    return queue_deadline(order) - lead


def work_list_key(order: dict[str, Any]) -> tuple[int, datetime, str]:
    """The order of a technician's jobs: emergencies first, then by place (the queue's
    rule, so a job keeps its rank from the queue to the van)."""
    return band(order), queue_place(order), order["_id"]


def feasible_from(now: datetime) -> datetime:
    """Queued orders due from here on can still be on time."""
    return now


def window_from(now: datetime) -> datetime:
    """Where the drain's second window starts reading: high-priority orders still on time
    stand up to ``HIGH_LEAD`` before ``feasible_from``."""
    return feasible_from(now) - HIGH_LEAD


def drain_order(windows: Iterable[Order], now: datetime) -> list[Order]:
    """Each queued order once: emergencies first, then those still on time, then the
    overdue, each by place (least slack first among the still-feasible)."""
    unique = list({order["_id"]: order for order in windows}.values())
    unique.sort(key=lambda order: (band(order), queue_deadline(order) < feasible_from(now),
                                   queue_place(order), order["_id"]))
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
