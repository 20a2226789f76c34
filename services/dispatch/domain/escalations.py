"""Escalations a dispatcher must see on an order that left the queue: today the exchange
or refund owed when a technician could not fix the product (``cannot_fix``). The case
itself (三包: what is owed, and its approval) is not dispatch's; until it exists, the
order carries an open escalation the dispatcher's board lists, never a silent drop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

OPEN = "open"
EXCHANGE_OR_REFUND = "exchange_or_refund"  # 换货或退货, owed on cannot_fix


def exchange_or_refund(completion: dict[str, Any], event_id: str,
                       at: datetime) -> dict[str, Any]:
    """The escalation a cannot_fix completion opens: the remedy the technician recorded
    (exchange or refund), their diagnosis, and the event that opened it."""
    return {"kind": EXCHANGE_OR_REFUND, "status": OPEN, "opened_at": at,
            "remedy": completion.get("remedy"), "reason": completion.get("diagnosis"),
            "event_id": event_id}


def is_open(order: dict[str, Any]) -> bool:
    return (order.get("escalation") or {}).get("status") == OPEN
