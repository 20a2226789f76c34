"""The office calendar's statutory days, checked day by day against the library they come
from and against an independent one (``holidays``), and the warning before they run out."""

from dataclasses import replace
from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest

from services.common.domain.calendars import build_calendars, coverage_gaps
from services.common.reference import load_reference

CALENDARS = load_reference("deploy/config/reference.yaml").calendars
OFFICE = CALENDARS["office"]


def days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def test_every_day_the_library_covers_matches_it():
    first = min(chinese_calendar.holidays)
    mismatches = [day for day in days(date(2026, 1, 1), OFFICE.covered_until)
                  if OFFICE.is_workday(day) != chinese_calendar.is_workday(day)]
    assert first.year <= 2026 <= OFFICE.covered_until.year and mismatches == []


def test_2026_matches_an_independent_source_day_by_day():
    china = holidays.China(years=2026)
    assert [day for day in days(date(2026, 1, 1), date(2026, 12, 31))
            if OFFICE.is_workday(day) != china.is_working_day(day)] == []


@pytest.mark.parametrize(("day", "worked"), [
    (date(2026, 2, 23), False),  # Monday, the Spring Festival's last day
    (date(2026, 9, 27), False),  # an ordinary Sunday
    (date(2026, 1, 4), True),    # Sunday worked for New Year
    (date(2026, 5, 9), True),    # Saturday worked for Labour Day
    (date(2026, 9, 20), True),   # Sunday worked for National Day
    (date(2026, 10, 10), True),  # Saturday worked for National Day
])
def test_the_days_the_typed_list_had_wrong(day, worked):
    assert OFFICE.is_workday(day) is worked


def test_2027_is_not_published_yet_and_the_services_are_warned():
    # The State Council's 2027 schedule is in no release of the library installed here:
    # past 2026 the calendar counts weekdays, and the gap is reported from 60 days ahead.
    if OFFICE.covered_until.year >= 2027:
        pytest.skip("a release with the 2027 schedule is installed")
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    assert OFFICE.is_workday(date(2027, 1, 4))  # a Monday, by the weekdays
    assert coverage_gaps(CALENDARS, date(2026, 10, 1)) == []
    assert coverage_gaps(CALENDARS, date(2026, 12, 3)) == [
        "calendar office: statutory holidays known until 2026-12-31 (chinese_calendar), "
        "less than 60 days ahead"]


def test_the_branchs_own_days_override_the_statutory_ones():
    own = replace(OFFICE, holidays=frozenset({date(2026, 3, 10)}),
                  extra_workdays=frozenset({date(2026, 10, 2)}))
    assert not own.is_workday(date(2026, 3, 10))  # a local holiday on a Tuesday
    assert own.is_workday(date(2026, 10, 2))  # open on a National Day holiday


def test_an_unknown_country_is_refused_at_start():
    with pytest.raises(ValueError, match="no statutory source for 'XX'"):
        build_calendars({"c": {"kind": "office", "opens": "09:00", "closes": "17:00",
                               "statutory": "XX"}})
