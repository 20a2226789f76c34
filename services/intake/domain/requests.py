"""Intake rules that are neither warranty nor priority: scope, routing, numbering,
reminders and the received-time check."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.common.errors import InvalidInput

DISPATCHED_TYPES = frozenset({"installation", "repair", "maintenance", "return_exchange"})
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=365)


def scope(request_type: str) -> str:
    """What happens to a request: ``dispatch`` it, ``answer`` it now, or hand it to
    ``complaints``."""
    if request_type == "consultation":
        return "answer"
    if request_type == "complaint":
        return "complaints"
    return "dispatch"


def check_received_at(received_at: datetime | None, now: datetime) -> datetime:
    if received_at is None:
        return now
    if received_at > now + MAX_CLOCK_SKEW:
        raise InvalidInput("received_at is in the future",
                           {"received_at": ["Cannot be in the future."]})
    if received_at < now - MAX_AGE:
        raise InvalidInput("received_at is too old",
                           {"received_at": ["Cannot be more than a year ago."]})
    return received_at


def check_product_dates(purchase: date | None, installation: date | None, today: date) -> None:
    errors = {}
    if purchase and purchase > today:
        errors["purchase_date"] = ["Cannot be in the future."]
    if installation and installation > today:
        errors["installation_date"] = ["Cannot be in the future."]
    if errors:
        raise InvalidInput("product dates are in the future", {"product": errors})


def open_order_key(branch: str, phone: str, serial: str | None, category: str) -> str:
    """Identifies 'the same open matter': phone + serial, or phone + category without one."""
    digits = "".join(ch for ch in phone if ch.isdigit())[-11:]
    return f"{branch}|{digits}|{('sn:' + serial) if serial else ('cat:' + category)}"


def order_number(branch: str, local_day: date, sequence: int) -> str:
    if not 0 < sequence < 1_000_000:
        raise ValueError("daily order sequence exhausted")
    return f"{branch}-{local_day:%Y%m%d}-{sequence:06d}"
