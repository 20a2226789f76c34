"""Bookable time (可预约时段): a technician's day is slots, and an appointment (预约) takes
one. A slot must not overlap the technician's other bookings on open orders; the
customer is reminded of it the day before (提前一天提醒), once per appointment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
REMINDER_TIME = time(18, 0)  # the evening before the appointment, in the branch's time


@dataclass(frozen=True)
class Booking:
    """One booked slot of a technician: the order it is for, its start and end."""

    order_id: str
    start: datetime
    end: datetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) shares any time with this slot (back to back does not)."""
        return self.start < end and start < self.end

    def describe(self) -> str:
        """The slot as a dispatcher reads it: 工单号 and local time."""
        start, end = self.start.astimezone(LOCAL_TZ), self.end.astimezone(LOCAL_TZ)
        until = end.strftime("%H:%M") if end.date() == start.date() else end.strftime(
            "%m-%d %H:%M")
        return f"{self.order_id} {start.strftime('%m-%d %H:%M')}–{until}"


def clash(start: datetime, end: datetime, others: Iterable[Booking]) -> Booking | None:
    """The earliest of the technician's other bookings the slot overlaps; None if free."""
    overlapping = [booking for booking in others if booking.overlaps(start, end)]
    return min(overlapping, key=lambda booking: (booking.start, booking.order_id),
               default=None)


def reminder_due(start: datetime, booked_at: datetime) -> datetime | None:
    """When the customer is reminded of an appointment starting at ``start``: the day
    before at ``REMINDER_TIME``, local time. None when the booking was made after that
    moment (the customer agreed to it just now)."""
    day_before = start.astimezone(LOCAL_TZ).date() - timedelta(days=1)
    due = datetime.combine(day_before, REMINDER_TIME, tzinfo=LOCAL_TZ)
    return due if due > booked_at else None


def still_ahead(status: str, start: datetime, now: datetime) -> bool:
    """Whether a due reminder is still worth sending: the order is booked and the slot
    has not begun (a check-in, a cancellation or a missed timer makes it moot)."""
    return status == "scheduled" and now < start
