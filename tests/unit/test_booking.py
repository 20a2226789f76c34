"""Bookable time: an appointment must not overlap the technician's other bookings on open
orders (a 409 naming the other order and its time, nothing written); a change the customer
asked for is confirmed by the customer; the customer is reminded the day before, once."""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import ValidationError

from schemas.orders import AppointmentIn
from services.common.errors import Conflict
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Actor, Dispatcher
from services.dispatch.domain.booking import Booking, clash, reminder_due, still_ahead
from tests.unit.test_dispatcher_steps import NOW, REFERENCE, TECH, MemoryStore, _order

# NOW is 2026-11-20 10:00 in Shanghai; tomorrow 09:00-11:00 local is 01:00-03:00 UTC.
TOMORROW_9 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
TWO_HOURS = timedelta(hours=2)
OTHER = "SH-20261120-000002"


def booked(order_id=OTHER, start=TOMORROW_9, hours=2) -> Booking:
    return Booking(order_id, start, start + timedelta(hours=hours))


# -- the rules -----------------------------------------------------------------------------
@pytest.mark.parametrize(("offset_hours", "hours", "clashes"), [
    (0, 2, True),      # the same slot
    (1, 2, True),      # starts inside
    (-1, 2, True),     # ends inside
    (-1, 4, True),     # covers it
    (0.5, 1, True),    # inside it
    (2, 1, False),     # starts as it ends: back to back
    (-1, 1, False),    # ends as it starts
    (3, 2, False),     # later that day
])
def test_a_slot_clashes_when_it_shares_any_time(offset_hours, hours, clashes):
    start = TOMORROW_9 + timedelta(hours=offset_hours)
    found = clash(start, start + timedelta(hours=hours), [booked()])
    assert (found is not None) == clashes


def test_the_earliest_clashing_booking_is_named_in_the_branchs_time():
    later = booked("SH-20261120-000009", TOMORROW_9 + timedelta(hours=1))
    found = clash(TOMORROW_9, TOMORROW_9 + timedelta(hours=4), [later, booked()])
    assert found.order_id == OTHER
    assert found.describe() == f"{OTHER} 11-21 09:00–11:00"


def test_a_reminder_is_due_the_evening_before_unless_booked_after_it():
    # tomorrow 09:00 local: reminded today at 18:00 local (10:00 UTC)
    assert reminder_due(TOMORROW_9, NOW) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert reminder_due(TOMORROW_9, NOW + timedelta(hours=9)) is None
    # a slot a week ahead: the evening before it
    assert reminder_due(TOMORROW_9 + timedelta(days=7), NOW) == datetime(
        2026, 11, 27, 10, 0, tzinfo=UTC)


def test_a_reminder_is_moot_once_the_slot_begun_or_the_order_moved_on():
    assert still_ahead("scheduled", TOMORROW_9, NOW)
    assert not still_ahead("scheduled", TOMORROW_9, TOMORROW_9)
    assert not still_ahead("on_site", TOMORROW_9, NOW)
    assert not still_ahead("cancelled", TOMORROW_9, NOW)


def test_a_change_the_customer_asked_for_needs_their_confirmation():
    slot = {"start": "2026-11-21T09:00:00+08:00", "end": "2026-11-21T11:00:00+08:00",
            "customer_requested": True, "reason": "周末在家"}
    with pytest.raises(ValidationError) as refused:
        AppointmentIn().load(slot)
    assert list(refused.value.messages) == ["customer_confirmed"]
    assert AppointmentIn().load({**slot, "customer_confirmed": True})["customer_confirmed"]
    assert AppointmentIn().load({"start": slot["start"], "end": slot["end"]}) == {
        "start": datetime.fromisoformat(slot["start"]),
        "end": datetime.fromisoformat(slot["end"]), "customer_requested": False,
        "customer_confirmed": False, "reason": None}


# -- the steps on an in-memory store -------------------------------------------------------
def _store_with_a_booking() -> MemoryStore:
    store = MemoryStore(_order("contacted"))
    other = {**copy.deepcopy(_order("scheduled")), "_id": OTHER,
             "appointment": {"start": TOMORROW_9, "end": TOMORROW_9 + TWO_HOURS}}
    store.orders[OTHER] = other
    return store


def _dispatcher(store: MemoryStore, now: datetime = NOW) -> Dispatcher:
    uow = UnitOfWork("dispatch", now, now)  # every kind routed: the events are seen here
    return Dispatcher(store, REFERENCE, uow, timedelta(minutes=15))


def _book(store, start, **more):
    payload = {"start": start, "end": start + TWO_HOURS, "customer_requested": False,
               "customer_confirmed": False, "reason": None, **more}
    return _dispatcher(store).step("SH-20261120-000001", "appointment", payload, TECH)


def test_a_clashing_appointment_is_a_409_naming_the_other_order_and_changes_nothing():
    store = _store_with_a_booking()
    before = copy.deepcopy(store.orders)
    with pytest.raises(Conflict) as refused:
        _book(store, TOMORROW_9 + timedelta(hours=1))
    assert f"{OTHER} 11-21 09:00–11:00" in refused.value.message
    assert "预约时段冲突" in refused.value.message
    assert store.written == [] and store.orders == before


def test_a_slot_back_to_back_with_another_booking_is_taken():
    store = _store_with_a_booking()
    done = _book(store, TOMORROW_9 + TWO_HOURS)
    assert done["status"] == "scheduled"
    assert done["remind_at"] == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("other", [{"status": "completed"}, {"technician_id": "SH-T02"}])
def test_another_technicians_booking_or_a_closed_orders_does_not_clash(other):
    store = _store_with_a_booking()
    store.orders[OTHER].update(other)
    assert _book(store, TOMORROW_9)["status"] == "scheduled"


def test_reassigning_a_booked_order_to_a_technician_booked_then_is_a_409():
    store = _store_with_a_booking()
    store.orders[OTHER]["technician_id"] = "SH-T02"
    _book(store, TOMORROW_9)  # SH-T01's slot, the same hours as SH-T02's other order
    before = copy.deepcopy(store.orders)
    dispatcher = _dispatcher(store)
    with pytest.raises(Conflict) as refused:
        dispatcher.step("SH-20261120-000001", "assign", {"technician_id": "SH-T02"},
                        Actor("dispatcher", "SH"))
    assert OTHER in refused.value.message and store.orders == before


def test_a_customer_requested_change_is_recorded_as_confirmed_by_them():
    store = MemoryStore(_order("contacted"))
    done = _book(store, TOMORROW_9, customer_requested=True, customer_confirmed=True,
                 reason="周末在家")
    assert done["appointment"]["customer_confirmed"] is True
    assert store.written[-1].entry["details"]["customer_confirmed"] is True


def test_the_reminder_is_due_once_per_appointment_and_again_after_a_reschedule():
    store = MemoryStore(_order("contacted"))
    _book(store, TOMORROW_9)
    evening = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert _dispatcher(store, evening - timedelta(minutes=1)).remind_appointments(["SH"]) == 0
    early = _dispatcher(store, evening)
    assert early.remind_appointments(["SH"]) == 1
    assert [event["type"] for event in store.written[-1].events] == [
        "appointment_reminder_due"]
    assert store.written[-1].events[0]["data"]["start"] == TOMORROW_9.isoformat()
    assert _dispatcher(store, evening + timedelta(minutes=1)).remind_appointments(["SH"]) == 0
    order = store.orders["SH-20261120-000001"]
    assert order["appointment"]["reminded_at"] == evening and order["remind_at"] is None

    _book(store, TOMORROW_9 + timedelta(days=1))  # rescheduled: a new appointment
    assert _dispatcher(store, evening + timedelta(days=1)).remind_appointments(["SH"]) == 1


def test_a_reminder_for_an_order_checked_in_early_is_dropped_without_an_event():
    store = MemoryStore(_order("contacted"))
    _book(store, TOMORROW_9)
    store.orders["SH-20261120-000001"]["status"] = "on_site"
    written = len(store.written)
    evening = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert _dispatcher(store, evening).remind_appointments(["SH"]) == 0
    assert store.written[written:][0].events == []
    assert store.orders["SH-20261120-000001"]["remind_at"] is None
