"""Capacity reconciliation: which of a technician's slots are wrong.

A technician's capacity is a list of slots, one per order that holds them (``{"order",
"at"}``), moved in the same update as the ``active_jobs`` / ``free_slots`` counters. Taking
a slot and writing the order are two single-document writes, so a process that dies
between them (or between an order's release and giving its slot back) leaves a slot that
no order holds. The orders are the truth, and each slot names its order, so a leaked slot
is found by itself, however busy the technician is:

- a slot older than ``grace`` whose order does not hold the technician is given back (a
  younger one may belong to a worker between its two writes);
- an order that holds the technician without a slot gets one (a slot given back from a
  worker that was slower than ``grace``, or a document from before slots existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlotAudit:
    stale: list[str]  # orders whose slot is given back: they don't hold the technician
    missing: list[str]  # orders that hold the technician without a slot

    @property
    def clean(self) -> bool:
        return not self.stale and not self.missing


def audit(slots: list[tuple[str, datetime]], held: set[str], now: datetime,
          grace: timedelta) -> SlotAudit:
    """``slots``: (order id, taken at) as read from the technician, before ``held``, the
    orders found holding them, was read."""
    stale = sorted({order for order, taken in slots
                    if order not in held and now - taken >= grace})
    missing = sorted(held - {order for order, _ in slots})
    return SlotAudit(stale, missing)
