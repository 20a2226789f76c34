"""Service calendars: 24x7, and office hours with holidays and worked weekend days.

A country's statutory holidays and adjusted working days (调休) come from a maintained
source (China's: ``chinese_calendar``, which carries the State Council's yearly schedule);
a calendar's own ``holidays`` and ``extra_workdays`` are only what is the branch's own
(local holidays, a Saturday it opens). Past the source's last published year a calendar
falls back to its weekdays: ``covered_until`` says where that begins, and the services
warn and alert before it comes (``coverage_gaps``).

``add`` moves a start instant forward by an amount of *calendar* time (office time only
counts inside opening hours); ``elapsed`` measures calendar time between two instants.
All instants are timezone-aware; results are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

MAX_DAYS_SCANNED = 3 * 366  # a calendar with no open day must not loop forever


@dataclass(frozen=True)
class StatutoryDays:
    """A country's days off and adjusted working days, as far as they are published."""

    source: str
    holidays: frozenset[date]
    workdays: frozenset[date]  # weekend days worked in exchange (调休)
    covered_until: date  # the last day the source speaks for


@cache
def china_statutory_days() -> StatutoryDays:
    """China's statutory holidays and 调休 working days, from ``chinese_calendar``."""
    import chinese_calendar

    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    last_year = max(holidays | workdays).year
    return StatutoryDays("chinese_calendar", holidays, workdays, date(last_year, 12, 31))


STATUTORY_SOURCES = {"CN": china_statutory_days}


class AlwaysCalendar:
    name = "24x7"
    working_day = timedelta(hours=24)
    covered_until: date | None = None  # needs no published schedule

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return (start + duration).astimezone(UTC)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def is_open(self, instant: datetime) -> bool:
        return True


@dataclass
class OfficeCalendar:
    name: str
    timezone: ZoneInfo
    weekdays: frozenset[int]
    opens: time
    closes: time
    holidays: frozenset[date] = field(default_factory=frozenset)  # the branch's own
    extra_workdays: frozenset[date] = field(default_factory=frozenset)  # the branch's own
    statutory: StatutoryDays | None = None

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError(f"calendar {self.name}: closing time must follow opening time")

    @property
    def working_day(self) -> timedelta:
        return _combine(date(2000, 1, 3), self.closes, UTC) - _combine(
            date(2000, 1, 3), self.opens, UTC)

    @property
    def covered_until(self) -> date | None:
        """The last day the statutory source speaks for (None: the calendar needs none)."""
        return self.statutory.covered_until if self.statutory else None

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.holidays:
            return False
        if self.statutory is not None and day <= self.statutory.covered_until:
            if day in self.statutory.holidays:
                return False
            if day in self.statutory.workdays:
                return True
        return day.weekday() in self.weekdays

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_workday(day):
            return None
        # Bounds in UTC, so arithmetic is in real elapsed time even across a DST change
        # (aware datetimes sharing one tzinfo subtract and add as wall-clock time).
        return (_combine(day, self.opens, self.timezone).astimezone(UTC),
                _combine(day, self.closes, self.timezone).astimezone(UTC))

    def is_open(self, instant: datetime) -> bool:
        window = self._window(instant.astimezone(self.timezone).date())
        return window is not None and window[0] <= instant < window[1]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        cursor = start.astimezone(UTC)
        day = start.astimezone(self.timezone).date()
        for _ in range(MAX_DAYS_SCANNED):
            window = self._window(day)
            if window is not None and cursor < window[1]:
                begin = max(cursor, window[0])
                available = window[1] - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError(f"calendar {self.name} has no working time within {MAX_DAYS_SCANNED} days")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self.timezone).date()
        last = end.astimezone(self.timezone).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                overlap = min(end, window[1]) - max(start, window[0])
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total


def _combine(day: date, at: time, tz) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def parse_clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59, 999999)
    return time(hours, minutes)


def build_calendars(config: dict) -> dict[str, AlwaysCalendar | OfficeCalendar]:
    calendars: dict[str, AlwaysCalendar | OfficeCalendar] = {}
    for name, spec in config.items():
        if spec["kind"] == "always":
            calendars[name] = AlwaysCalendar()
            continue
        calendars[name] = OfficeCalendar(
            name=name,
            timezone=ZoneInfo(spec.get("timezone", "Asia/Shanghai")),
            weekdays=frozenset(spec.get("weekdays", [0, 1, 2, 3, 4])),
            opens=parse_clock(spec["opens"]),
            closes=parse_clock(spec["closes"]),
            holidays=frozenset(_as_date(d) for d in spec.get("holidays", [])),
            extra_workdays=frozenset(_as_date(d) for d in spec.get("extra_workdays", [])),
            statutory=_statutory(name, spec.get("statutory")),
        )
    return calendars


def _statutory(name: str, country: str | None) -> StatutoryDays | None:
    if country is None:
        return None
    if country not in STATUTORY_SOURCES:
        raise ValueError(f"calendar {name}: no statutory source for {country!r} "
                         f"(known: {', '.join(sorted(STATUTORY_SOURCES))})")
    return STATUTORY_SOURCES[country]()


def coverage_gaps(calendars: dict, today: date, ahead_days: int = 60) -> list[str]:
    """Calendars whose statutory source stops within ``ahead_days`` of ``today``: past
    that day they count every weekday as worked, holidays included."""
    horizon = today + timedelta(days=ahead_days)
    return [f"calendar {name}: statutory holidays known until {c.covered_until} "
            f"({c.statutory.source}), less than {ahead_days} days ahead"
            for name, c in calendars.items()
            if c.covered_until is not None and c.covered_until < horizon]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
