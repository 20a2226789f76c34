"""Where the time went (services/dispatch/domain/ledger.py): each second from received to
a milestone attributed to exactly one cause, on the milestone's own calendar."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.domain.calendars import build_calendars
from services.dispatch.domain.figures import delays
from services.dispatch.domain.ledger import (
    APPROVED_DELAY,
    CAUSES,
    CUSTOMER,
    OFFERED,
    OFFERS,
    PARTS,
    PAUSE_ENDS,
    QUEUE,
    QUEUED_AGAIN,
    SERVICE_CENTRE,
    TECHNICIAN,
    changes,
    detailed,
    ledger,
    parts_sources,
)
from services.ops.operator import format_report

RECEIVED = datetime(2026, 9, 28, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
ALWAYS = build_calendars({"24x7": {"kind": "always"}})["24x7"]
OFFICE = build_calendars({"office": {"kind": "office", "opens": "09:00",
                                     "closes": "17:30", "statutory": "CN"}})["office"]
PAUSES = {"waiting_parts": PARTS, "customer_away": CUSTOMER}


def step(minutes: float, name: str, **details) -> dict:
    return {"at": RECEIVED + timedelta(minutes=minutes), "step": name, "details": details}


def hours(seconds: dict[str, float]) -> dict[str, float]:
    return {cause: value / 3600 for cause, value in seconds.items() if value}


def test_a_repair_splits_into_queue_offers_technician_customer_and_parts():
    timeline = [step(0, "created"), step(60, "offered"), step(75, "offer_expired"),
                step(120, "offered"), step(130, "accepted"), step(140, "contacted"),
                step(150, "scheduled", customer_requested=True,
                     start=(RECEIVED + timedelta(hours=6)).isoformat()),
                step(7 * 60, "checked_in"), step(8 * 60, "waiting_parts"),
                step(20 * 60, "parts_arrived", applied=True)]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=24), changes(timeline, PAUSES), ALWAYS)
    assert hours(spent) == pytest.approx({QUEUE: 1.75, OFFERS: 0.25 + 1 / 6,
                                          TECHNICIAN: 1 / 3 + 2 + 4, CUSTOMER: 3.5, PARTS: 12})
    assert sum(spent.values()) == 24 * 3600


def test_a_service_centre_holds_the_time_its_technician_would_and_a_delay_is_its_own():
    timeline = [step(0, "created"), step(30, "offered", technician_id="SC-T1"),
                step(40, "accepted", technician_id=None),
                step(120, "reassigned", technician_id="SH-T2")]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=10),
                   changes(timeline, PAUSES, centres={"SC-T1"}), ALWAYS,
                   delay_from=RECEIVED + timedelta(hours=8))
    assert hours(spent) == pytest.approx({QUEUE: 0.5, OFFERS: 1 / 6, SERVICE_CENTRE: 80 / 60,
                                          TECHNICIAN: 6, APPROVED_DELAY: 2})


def test_a_pause_holds_its_cause_through_a_contact_or_a_reassignment():
    timeline = [step(0, "created"), step(10, "accepted"), step(20, "paused",
                                                                reason="customer_away"),
                step(60, "contacted"), step(90, "reassigned", technician_id="SH-T2"),
                step(120, "unpaused")]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=3), changes(timeline, PAUSES), ALWAYS)
    assert hours(spent) == pytest.approx({QUEUE: 1 / 6, TECHNICIAN: 1 / 6 + 1, CUSTOMER: 5 / 3})


def test_a_customer_who_moves_their_slot_later_keeps_the_time_until_the_new_one():
    timeline = [step(0, "created"), step(10, "accepted"),
                step(20, "scheduled", customer_requested=True,
                     start=(RECEIVED + timedelta(hours=5)).isoformat()),
                step(60, "rescheduled", customer_requested=True,
                     start=(RECEIVED + timedelta(hours=24)).isoformat())]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=25), changes(timeline, PAUSES), ALWAYS)
    assert hours(spent) == pytest.approx({QUEUE: 1 / 6, TECHNICIAN: 1 / 6 + 1,
                                          CUSTOMER: 24 - 1 / 3})


def test_on_the_office_calendar_only_office_hours_count():
    friday = datetime(2026, 11, 13, 1, 0, tzinfo=UTC)  # 09:00; the weekend is not worked
    timeline = [{"at": friday, "step": "created"},
                {"at": friday + timedelta(hours=8), "step": "accepted"}]  # 17:00 Friday
    reached = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00
    spent = ledger(friday, reached, changes(timeline, PAUSES), OFFICE)
    assert hours(spent) == {QUEUE: 8, TECHNICIAN: 0.5 + 1}


def test_news_that_did_not_move_the_order_changes_no_cause():
    timeline = [step(0, "created"), step(10, "accepted"),
                step(20, "parts_short", applied=False)]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=1), changes(timeline, PAUSES), ALWAYS)
    assert hours(spent) == {QUEUE: 1 / 6, TECHNICIAN: 5 / 6}


def test_a_visit_left_unfinished_owes_the_time_to_its_next_arrival_to_its_cause():
    timeline = [step(0, "created"), step(10, "accepted"), step(60, "checked_in"),
                step(90, "left", cause=CUSTOMER), step(100, "rescheduled"),
                step(6 * 60, "checked_in"), step(7 * 60, "left", cause=SERVICE_CENTRE),
                step(9 * 60, "checked_in")]
    spent = ledger(RECEIVED, RECEIVED + timedelta(hours=10), changes(timeline, PAUSES),
                   ALWAYS)
    # a new booking does not end it: the time is the visit's cause until someone arrives
    assert hours(spent) == pytest.approx({QUEUE: 1 / 6, TECHNICIAN: 80 / 60 + 1 + 1,
                                          CUSTOMER: 4.5, SERVICE_CENTRE: 2})


# -- the causes add up, whatever the timeline and the calendar --------------------------
STEPS = sorted({*QUEUED_AGAIN, *OFFERED, *PAUSE_ENDS, "accepted", "assigned", "reassigned",
                "contacted", "waiting_parts", "parts_short", "paused", "reminder",
                "delay_approved", "left"})
timelines = st.lists(st.tuples(st.integers(-600, 30 * 24 * 60), st.sampled_from(STEPS),
                               st.booleans(), st.integers(-300, 3000),
                               st.sampled_from([*PAUSES, "branch_reason"])), max_size=25)
office_calendars = st.builds(
    lambda holidays, worked, opens, length: build_calendars({"c": {
        "kind": "office", "opens": f"{opens:02d}:00", "closes": f"{opens + length:02d}:30",
        "holidays": holidays, "extra_workdays": worked}})["c"],
    st.lists(st.dates(date(2026, 9, 20), date(2026, 11, 10)), max_size=8),
    st.lists(st.dates(date(2026, 9, 20), date(2026, 11, 10)), max_size=4),
    st.integers(0, 12), st.integers(1, 10))


def _timeline(drawn) -> list[dict]:
    entries = []
    for minutes, name, flag, start_in, reason in drawn:
        details = {"customer_requested": flag, "applied": flag, "reason": reason,
                   "awaited_from": "SH-WH" if flag else None,
                   "cause": CUSTOMER if flag else "not_a_cause",
                   "technician_id": "T1" if flag else "T2",
                   "start": (RECEIVED + timedelta(minutes=minutes + start_in)).isoformat()}
        entries.append(step(minutes, name, **details))
    return entries


@settings(max_examples=300, deadline=None)
@given(timelines, st.one_of(st.just(ALWAYS), office_calendars),
       st.integers(0, 40 * 24 * 60), st.one_of(st.none(), st.integers(0, 40 * 24 * 60)),
       st.sampled_from([(), ("T1",)]))
def test_the_causes_add_up_to_the_calendar_elapsed_time(drawn, calendar, reached_in,
                                                          delay_in, centres):
    reached = RECEIVED + timedelta(minutes=reached_in)
    delay_from = None if delay_in is None else RECEIVED + timedelta(minutes=delay_in)
    spent = ledger(RECEIVED, reached, changes(_timeline(drawn), PAUSES, centres), calendar,
                   delay_from=delay_from)
    assert set(spent) == set(CAUSES)
    assert all(seconds >= 0 for seconds in spent.values())
    total = calendar.elapsed(RECEIVED, reached).total_seconds()
    assert abs(sum(spent.values()) - total) < 1e-6
    if delay_from is None or delay_from >= reached:
        assert spent[APPROVED_DELAY] == 0
    by_source = parts_sources(detailed(RECEIVED, reached, changes(
        _timeline(drawn), PAUSES, centres), calendar, delay_from=delay_from))
    assert abs(sum(by_source.values()) - spent[PARTS]) < 1e-6


def test_the_parts_time_is_split_by_who_was_awaited():
    """The technician's wait-parts step, then inventory's news: the warehouse a transfer
    comes from; a later shortage that waits on the supplier takes over from there."""
    timeline = [step(0, "created"), step(10, "accepted"), step(60, "checked_in"),
                step(120, "waiting_parts"),
                step(125, "parts_short", applied=True, awaited_from="SH-WH"),
                step(6 * 60, "parts_short", applied=True, awaited_from="supplier"),
                step(30 * 60, "parts_arrived", applied=True)]
    reached = RECEIVED + timedelta(hours=31)
    spent = detailed(RECEIVED, reached, changes(timeline, PAUSES), ALWAYS)
    assert hours(parts_sources(spent)) == pytest.approx(
        {"unknown": 5 / 60, "SH-WH": 6 - 125 / 60, "supplier": 24})
    assert hours(ledger(RECEIVED, reached, changes(timeline, PAUSES), ALWAYS))[PARTS] == \
        pytest.approx(28)


def test_the_report_sums_the_ledgers_by_cause_all_and_late():
    reached = RECEIVED + timedelta(hours=3)
    orders = [{"branch": "SH", "milestones": {"arrival": {
                  "at": reached, "outcome": outcome,
                  "ledger": {QUEUE: 3600.0, TECHNICIAN: 7200.0}}}}
              for outcome in ("met", "breached")]
    orders.append({"branch": "SH", "milestones": {"arrival": {  # outside the period
        "at": RECEIVED + timedelta(days=9), "outcome": "breached", "ledger": {PARTS: 60.0}}}})
    rows = delays(orders, RECEIVED, RECEIVED + timedelta(days=1))
    assert rows == [
        {"branch": "SH", "milestone": "arrival", "cause": TECHNICIAN, "hours": 4.0,
         "late_hours": 2.0},
        {"branch": "SH", "milestone": "arrival", "cause": QUEUE, "hours": 2.0,
         "late_hours": 1.0}]
    text = format_report({"since": "a", "until": "b", "rows": [], "delays": rows,
                          "total": {"met": 1, "breached": 1, "on_time_share": 0.5}}, "table")
    assert "时间去向" in text and "technician" in text
