"""Service calendars: 24x7 and office hours (holidays, 调休 worked weekend days, DST)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.common.domain.calendars import (
    AlwaysCalendar,
    OfficeCalendar,
    build_calendars,
    parse_clock,
)
from services.common.reference import load_reference

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE_DAY = timedelta(hours=8, minutes=30)


def sh(*args) -> datetime:
    """A wall-clock instant in Shanghai."""
    return datetime(*args, tzinfo=SHANGHAI)


def office(**overrides) -> OfficeCalendar:
    spec = {"name": "office", "timezone": SHANGHAI, "weekdays": frozenset(range(5)),
            "opens": time(9), "closes": time(17, 30)}
    spec.update(overrides)
    return OfficeCalendar(**spec)


REFERENCE_OFFICE = load_reference("deploy/config/reference.yaml").calendars["office"]
PLAIN_OFFICE = office()
EDGE_CALENDAR = office(holidays=frozenset({date(2026, 3, 9)}),  # a Monday off
                       extra_workdays=frozenset({date(2026, 3, 14)}))  # a Saturday worked

starts = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31),
                      timezones=st.just(UTC))
office_durations = st.timedeltas(min_value=timedelta(0), max_value=30 * OFFICE_DAY)
positive_durations = st.timedeltas(min_value=timedelta(microseconds=1),
                                   max_value=30 * OFFICE_DAY)
calendars = st.sampled_from([REFERENCE_OFFICE, PLAIN_OFFICE, EDGE_CALENDAR])


def inside_hours_or_at_closing(calendar: OfficeCalendar, instant: datetime) -> bool:
    local = instant.astimezone(calendar.timezone)
    return calendar.is_workday(local.date()) and calendar.opens < local.time() <= calendar.closes


# -- AlwaysCalendar --------------------------------------------------------------------

class TestAlwaysCalendar:
    def test_add_is_plain_time_and_returns_utc(self):
        result = AlwaysCalendar().add(sh(2026, 3, 7, 23, 0), timedelta(hours=2))
        assert result == datetime(2026, 3, 7, 17, 0, tzinfo=UTC)
        assert result.tzinfo is UTC

    def test_elapsed_counts_nights_and_weekends(self):
        assert AlwaysCalendar().elapsed(sh(2026, 3, 6, 17), sh(2026, 3, 9, 9)) == timedelta(
            hours=64)

    def test_elapsed_never_negative(self):
        assert AlwaysCalendar().elapsed(sh(2026, 3, 9), sh(2026, 3, 8)) == timedelta(0)

    def test_always_open_and_working_day_is_24h(self):
        calendar = AlwaysCalendar()
        assert calendar.is_open(sh(2026, 1, 1, 3, 0))  # a holiday night
        assert calendar.working_day == timedelta(hours=24)

    @settings(max_examples=100, deadline=None)
    @given(start=starts, duration=st.timedeltas(min_value=timedelta(0),
                                                max_value=timedelta(days=60)))
    def test_elapsed_inverts_add(self, start, duration):
        calendar = AlwaysCalendar()
        assert calendar.elapsed(start, calendar.add(start, duration)) == duration


# -- OfficeCalendar: concrete cases ----------------------------------------------------

class TestOfficeCalendarExamples:
    def test_working_day_is_the_length_of_the_opening_hours(self):
        assert PLAIN_OFFICE.working_day == OFFICE_DAY
        assert REFERENCE_OFFICE.working_day == OFFICE_DAY

    def test_closing_must_follow_opening(self):
        with pytest.raises(ValueError, match="closing time must follow opening time"):
            office(opens=time(17), closes=time(9))
        with pytest.raises(ValueError):
            office(opens=time(9), closes=time(9))

    def test_friday_1700_plus_two_working_days_is_tuesday_1700(self):
        due = REFERENCE_OFFICE.add(sh(2026, 3, 6, 17, 0), 2 * REFERENCE_OFFICE.working_day)
        assert due == sh(2026, 3, 10, 17, 0)
        assert due.tzinfo is UTC

    def test_saturday_request_starts_the_clock_monday_0900(self):
        saturday = sh(2026, 3, 7, 10, 15)
        assert REFERENCE_OFFICE.add(saturday, timedelta(0)) == sh(2026, 3, 9, 9, 0)
        assert REFERENCE_OFFICE.add(saturday, timedelta(hours=1)) == sh(2026, 3, 9, 10, 0)
        assert REFERENCE_OFFICE.elapsed(saturday, sh(2026, 3, 9, 9, 0)) == timedelta(0)
        assert REFERENCE_OFFICE.add(saturday, OFFICE_DAY) == sh(2026, 3, 9, 17, 30)

    def test_holiday_monday_pushes_friday_request_to_wednesday(self):
        # 2026-04-06 (Monday, 清明) is a holiday in the reference calendar.
        due = REFERENCE_OFFICE.add(sh(2026, 4, 3, 17, 0), 2 * OFFICE_DAY)
        assert due == sh(2026, 4, 8, 17, 0)
        # The same with a calendar whose only holiday is that Monday.
        monday_off = office(holidays=frozenset({date(2026, 3, 9)}))
        assert monday_off.add(sh(2026, 3, 6, 17, 0), 2 * OFFICE_DAY) == sh(2026, 3, 11, 17, 0)

    def test_saturday_request_with_holiday_monday_starts_tuesday(self):
        assert REFERENCE_OFFICE.add(sh(2026, 4, 4, 11, 0), timedelta(0)) == sh(2026, 4, 7, 9, 0)

    def test_extra_workday_on_saturday_is_worked(self):
        # 2026-02-28 is a Saturday worked (调休) in the reference calendar.
        due = REFERENCE_OFFICE.add(sh(2026, 2, 27, 17, 0), 2 * OFFICE_DAY)
        assert due == sh(2026, 3, 2, 17, 0)
        assert REFERENCE_OFFICE.is_open(sh(2026, 2, 28, 10, 0))
        assert REFERENCE_OFFICE.elapsed(sh(2026, 2, 28, 0, 0), sh(2026, 3, 1, 0, 0)) == OFFICE_DAY

    def test_extra_workday_beats_a_holiday_on_the_same_day(self):
        day = date(2026, 3, 14)
        calendar = office(holidays=frozenset({day}), extra_workdays=frozenset({day}))
        assert calendar.is_workday(day)

    def test_long_holiday_is_skipped(self):
        # Spring Festival 2026-02-16..20 (Mon-Fri) is closed: Friday 13th 17:00 + 1 working
        # day -> Saturday 14th (worked) 17:00.
        due = REFERENCE_OFFICE.add(sh(2026, 2, 13, 17, 0), OFFICE_DAY)
        assert due == sh(2026, 2, 14, 17, 0)
        # ...and after that Saturday the next working day is Tuesday 24th: the holiday
        # runs to Monday 23rd (State Council 2026 notice).
        due = REFERENCE_OFFICE.add(sh(2026, 2, 14, 17, 30), timedelta(minutes=1))
        assert due == sh(2026, 2, 24, 9, 1)
        assert REFERENCE_OFFICE.elapsed(sh(2026, 2, 15), sh(2026, 2, 24)) == timedelta(0)

    def test_within_the_same_day(self):
        assert PLAIN_OFFICE.add(sh(2026, 3, 9, 10, 0), timedelta(hours=2)) == sh(2026, 3, 9, 12)
        assert PLAIN_OFFICE.elapsed(sh(2026, 3, 9, 10), sh(2026, 3, 9, 12, 15)) == timedelta(
            hours=2, minutes=15)

    def test_before_opening_starts_at_opening(self):
        assert PLAIN_OFFICE.add(sh(2026, 3, 9, 6, 0), timedelta(minutes=30)) == sh(
            2026, 3, 9, 9, 30)

    def test_exactly_filling_a_day_ends_at_closing_not_next_morning(self):
        assert PLAIN_OFFICE.add(sh(2026, 3, 9, 9, 0), OFFICE_DAY) == sh(2026, 3, 9, 17, 30)

    def test_start_at_closing_continues_next_working_day(self):
        assert PLAIN_OFFICE.add(sh(2026, 3, 9, 17, 30), timedelta(minutes=1)) == sh(
            2026, 3, 10, 9, 1)
        # Friday closing -> Monday morning.
        assert PLAIN_OFFICE.add(sh(2026, 3, 13, 17, 30), timedelta(minutes=1)) == sh(
            2026, 3, 16, 9, 1)

    def test_start_given_in_utc_uses_local_day(self):
        # 2026-03-08 23:30 UTC is Monday 07:30 in Shanghai.
        start = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
        assert PLAIN_OFFICE.add(start, timedelta(hours=1)) == sh(2026, 3, 9, 10, 0)

    def test_negative_duration_rejected(self):
        with pytest.raises(ValueError, match="negative"):
            PLAIN_OFFICE.add(sh(2026, 3, 9, 10), timedelta(seconds=-1))

    def test_calendar_without_open_days_fails_instead_of_looping(self):
        closed = office(weekdays=frozenset())
        with pytest.raises(ValueError, match="no working time"):
            closed.add(sh(2026, 3, 9, 10), timedelta(minutes=1))

    def test_elapsed_over_a_whole_week_is_five_office_days(self):
        assert PLAIN_OFFICE.elapsed(sh(2026, 3, 9), sh(2026, 3, 16)) == 5 * OFFICE_DAY

    def test_elapsed_of_reversed_or_empty_interval_is_zero(self):
        assert PLAIN_OFFICE.elapsed(sh(2026, 3, 9, 12), sh(2026, 3, 9, 11)) == timedelta(0)
        assert PLAIN_OFFICE.elapsed(sh(2026, 3, 9, 12), sh(2026, 3, 9, 12)) == timedelta(0)

    def test_elapsed_ignores_nights(self):
        assert PLAIN_OFFICE.elapsed(sh(2026, 3, 9, 17), sh(2026, 3, 10, 10)) == timedelta(
            hours=1, minutes=30)

    @pytest.mark.parametrize(("instant", "expected"), [
        (sh(2026, 3, 9, 8, 59, 59), False),
        (sh(2026, 3, 9, 9, 0), True),
        (sh(2026, 3, 9, 17, 29, 59), True),
        (sh(2026, 3, 9, 17, 30), False),   # closing is exclusive
        (sh(2026, 3, 7, 12, 0), False),    # Saturday
        (sh(2026, 3, 8, 12, 0), False),    # Sunday
        (sh(2026, 1, 1, 12, 0), False),    # New Year holiday (a Thursday)
        (sh(2026, 9, 27, 12, 0), False),   # an ordinary Sunday (no 调休 in 2026)
        (sh(2026, 9, 20, 12, 0), True),    # Sunday worked (调休 for National Day)
        (sh(2026, 2, 23, 12, 0), False),   # Monday, the last day of Spring Festival
        (datetime(2026, 3, 9, 1, 0, tzinfo=UTC), True),  # 09:00 in Shanghai
    ])
    def test_is_open(self, instant, expected):
        assert REFERENCE_OFFICE.is_open(instant) is expected


# -- OfficeCalendar: properties --------------------------------------------------------

class TestOfficeCalendarProperties:
    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, duration=office_durations)
    def test_elapsed_inverts_add(self, calendar, start, duration):
        assert calendar.elapsed(start, calendar.add(start, duration)) == duration

    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, first=office_durations, second=office_durations)
    def test_add_is_monotonic_in_duration(self, calendar, start, first, second):
        shorter, longer = sorted((first, second))
        assert calendar.add(start, shorter) <= calendar.add(start, longer)
        if shorter < longer:
            assert calendar.add(start, shorter) < calendar.add(start, longer)

    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, duration=positive_durations)
    def test_result_lies_in_opening_hours_or_at_closing(self, calendar, start, duration):
        due = calendar.add(start, duration)
        assert due > start
        assert due.tzinfo is UTC
        assert inside_hours_or_at_closing(calendar, due)

    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, first=office_durations,
           second=positive_durations)
    def test_add_composes(self, calendar, start, first, second):
        assert calendar.add(calendar.add(start, first), second) == calendar.add(
            start, first + second)

    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, end=starts)
    def test_elapsed_bounded_by_wall_time(self, calendar, start, end):
        assume(start <= end)
        assert timedelta(0) <= calendar.elapsed(start, end) <= end - start

    @settings(max_examples=200, deadline=None)
    @given(calendar=calendars, start=starts, middle=starts, end=starts)
    def test_elapsed_is_additive(self, calendar, start, middle, end):
        start, middle, end = sorted((start, middle, end))
        assert calendar.elapsed(start, end) == (calendar.elapsed(start, middle)
                                                + calendar.elapsed(middle, end))

    @settings(max_examples=200, deadline=None)
    @given(start=starts, duration=positive_durations)
    def test_a_deadline_falls_on_a_statutory_working_day(self, start, duration):
        due = REFERENCE_OFFICE.add(start, duration)
        local = due.astimezone(SHANGHAI).date()
        assert REFERENCE_OFFICE.is_workday(local)
        if local <= REFERENCE_OFFICE.covered_until:
            assert chinese_calendar.is_workday(local)  # holidays and 调休 from the source

    @settings(max_examples=200, deadline=None)
    @given(instant=starts)
    def test_is_open_matches_elapsed_of_the_next_second(self, instant):
        # Open at an instant exactly when the following moment counts as office time.
        step = timedelta(microseconds=1)
        counted = PLAIN_OFFICE.elapsed(instant, instant + step) == step
        assert PLAIN_OFFICE.is_open(instant) is counted

    @settings(max_examples=100, deadline=None)
    @given(start=starts, days=st.integers(min_value=1, max_value=20))
    def test_whole_working_days_from_opening_end_at_closing(self, start, days):
        local = start.astimezone(SHANGHAI).date()
        assume(PLAIN_OFFICE.is_workday(local))
        opening = datetime.combine(local, time(9), tzinfo=SHANGHAI)
        due = PLAIN_OFFICE.add(opening, days * PLAIN_OFFICE.working_day)
        assert due.astimezone(SHANGHAI).time() == time(17, 30)
        workdays = [local + timedelta(days=n) for n in range(40)
                    if PLAIN_OFFICE.is_workday(local + timedelta(days=n))]
        assert due.astimezone(SHANGHAI).date() == workdays[days - 1]


# -- DST: arithmetic must be in real time, not wall-clock time -------------------------

NIGHT_DESK = OfficeCalendar("night", BERLIN, frozenset(range(7)), time(1), time(5))
ROUND_THE_CLOCK = OfficeCalendar("berlin", BERLIN, frozenset(range(7)), time(0),
                                 parse_clock("24:00"))


class TestDaylightSaving:
    def test_spring_forward_day_is_one_hour_shorter(self):
        # 2026-03-29: Berlin clocks jump 02:00 -> 03:00, so 01:00-05:00 holds 3 real hours.
        day_start = datetime(2026, 3, 29, 1, tzinfo=BERLIN)
        assert NIGHT_DESK.elapsed(day_start, datetime(2026, 3, 29, 6, tzinfo=BERLIN)) == (
            timedelta(hours=3))
        # 01:00 CET is 00:00 UTC; one real hour later the clocks show 03:00 CEST.
        assert NIGHT_DESK.add(day_start, timedelta(hours=1)) == datetime(2026, 3, 29, 1,
                                                                         tzinfo=UTC)
        assert NIGHT_DESK.add(day_start, timedelta(hours=3)) == datetime(2026, 3, 29, 5,
                                                                         tzinfo=BERLIN)

    def test_fall_back_day_is_one_hour_longer(self):
        # 2026-10-25: 03:00 -> 02:00, so 01:00-05:00 holds 5 real hours.
        day_start = datetime(2026, 10, 25, 1, tzinfo=BERLIN)
        assert NIGHT_DESK.elapsed(day_start, datetime(2026, 10, 25, 6, tzinfo=BERLIN)) == (
            timedelta(hours=5))
        assert NIGHT_DESK.add(day_start, timedelta(hours=5)) == datetime(2026, 10, 25, 4,
                                                                         tzinfo=UTC)

    @settings(max_examples=200, deadline=None)
    @given(calendar=st.sampled_from([NIGHT_DESK, ROUND_THE_CLOCK]),
           start=st.datetimes(min_value=datetime(2026, 3, 26), max_value=datetime(2026, 3, 31),
                              timezones=st.just(UTC))
           | st.datetimes(min_value=datetime(2026, 10, 22),
                          max_value=datetime(2026, 10, 27), timezones=st.just(UTC)),
           duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=40)))
    def test_elapsed_inverts_add_across_dst(self, calendar, start, duration):
        due = calendar.add(start, duration)
        assert calendar.elapsed(start, due) == duration
        assert due - start >= duration  # office time never runs faster than real time


# -- parse_clock and build_calendars ---------------------------------------------------

class TestBuildCalendars:
    def test_parse_clock(self):
        assert parse_clock("09:00") == time(9, 0)
        assert parse_clock("17:30") == time(17, 30)
        assert parse_clock("24:00") == time(23, 59, 59, 999999)

    def test_builds_both_kinds_with_defaults(self):
        built = build_calendars({
            "24x7": {"kind": "always"},
            "desk": {"kind": "office", "opens": "08:00", "closes": "12:00"},
        })
        assert isinstance(built["24x7"], AlwaysCalendar)
        desk = built["desk"]
        assert isinstance(desk, OfficeCalendar)
        assert desk.name == "desk"
        assert desk.timezone == SHANGHAI
        assert desk.weekdays == frozenset({0, 1, 2, 3, 4})
        assert desk.working_day == timedelta(hours=4)
        assert desk.holidays == frozenset() and desk.extra_workdays == frozenset()

    def test_dates_as_text_or_date_objects(self):
        built = build_calendars({"c": {
            "kind": "office", "timezone": "Europe/Berlin", "weekdays": [5, 6],
            "opens": "10:00", "closes": "24:00",
            "holidays": ["2026-03-07", date(2026, 3, 8)], "extra_workdays": ["2026-03-09"]}})
        calendar = built["c"]
        assert calendar.timezone == BERLIN
        assert calendar.holidays == frozenset({date(2026, 3, 7), date(2026, 3, 8)})
        assert not calendar.is_workday(date(2026, 3, 7))   # Saturday, but a holiday
        assert calendar.is_workday(date(2026, 3, 14))      # a later Saturday
        assert calendar.is_workday(date(2026, 3, 9))       # Monday, worked
        assert not calendar.is_workday(date(2026, 3, 10))  # Tuesday

    def test_reference_calendars(self):
        assert isinstance(load_reference("deploy/config/reference.yaml").calendars["24x7"],
                          AlwaysCalendar)
        assert not REFERENCE_OFFICE.is_workday(date(2026, 10, 1))  # National Day
        assert REFERENCE_OFFICE.is_workday(date(2026, 2, 14))  # a Saturday worked (调休)
        assert REFERENCE_OFFICE.statutory.source == "chinese_calendar"
        assert REFERENCE_OFFICE.opens == time(9) and REFERENCE_OFFICE.closes == time(17, 30)

    def test_invalid_office_hours_fail_on_build(self):
        with pytest.raises(ValueError):
            build_calendars({"c": {"kind": "office", "opens": "18:00", "closes": "09:00"}})
