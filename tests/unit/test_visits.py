"""Visits (上门, services/dispatch/domain/visits.py): each arrival, departure and outcome is
one record; the arrival milestone is the first arrival's; a visit left unfinished books
the order again with its delay owed to its cause; cannot_fix opens an escalation once."""

from datetime import timedelta

import pytest
from marshmallow import ValidationError

from schemas.orders import LeaveIn
from services.common.errors import Conflict
from services.dispatch.domain import escalations, visits
from services.dispatch.domain.ledger import CUSTOMER, SERVICE_CENTRE, TECHNICIAN
from services.dispatch.domain.lifecycle import TRANSITIONS
from tests.unit.test_dispatcher_steps import NOW, TECH, MemoryStore, _dispatcher, _order

ORDER_ID = "SH-20261120-000001"
LATER = NOW + timedelta(hours=3)


# -- the rules -------------------------------------------------------------------------
def test_an_arrival_opens_a_visit_and_a_departure_closes_it_with_its_outcome():
    first = visits.arrive([], "SH-T01", NOW)
    assert first == [{"n": 1, "arrived_at": NOW, "left_at": None, "outcome": None,
                      "reason": None, "technician_id": "SH-T01"}]
    left = visits.depart(first, visits.CUSTOMER_ABSENT, LATER, "SH-T01", "敲门无人")
    assert left[0] == {**first[0], "left_at": LATER, "outcome": "customer_absent",
                            "reason": "敲门无人"}
    second = visits.arrive(left, "SH-T02", LATER + timedelta(days=1))
    assert [visit["n"] for visit in second] == [1, 2]
    assert second[0] == left[0] and second[1]["technician_id"] == "SH-T02"


def test_an_arrival_with_a_visit_still_open_closes_it_with_no_outcome():
    open_one = visits.arrive([], "SH-T01", NOW)
    again = visits.arrive(open_one, "SH-T01", LATER)
    assert again[0]["left_at"] == LATER and again[0]["outcome"] is None
    assert again[1]["left_at"] is None


def test_an_order_on_site_before_visits_were_recorded_gets_its_visit_at_departure():
    done = visits.depart([], visits.PARTS, LATER, "SH-T01", arrived_at=NOW)
    assert done == [{"n": 1, "arrived_at": NOW, "left_at": LATER, "outcome": "parts",
                     "reason": None, "technician_id": "SH-T01"}]
    with pytest.raises(ValueError):
        visits.depart([], "went_home", LATER, "SH-T01")


def test_only_the_first_arrival_reaches_the_milestone():
    assert visits.first_arrival({}) and visits.first_arrival(None)
    assert visits.first_arrival({"first_contact": {"at": NOW}})
    assert not visits.first_arrival({"arrival": {"at": NOW, "outcome": "met"}})
    # breached by the sweeper but not yet reached: the first arrival still reaches it
    assert visits.first_arrival({"arrival": {"outcome": "breached"}})


@pytest.mark.parametrize(("outcome", "in_centre", "cause"), [
    (visits.CUSTOMER_ABSENT, False, CUSTOMER),
    (visits.CUSTOMER_ABSENT, True, CUSTOMER),
    (visits.SECOND_PERSON, False, TECHNICIAN),
    (visits.SPECIAL_TOOL, False, TECHNICIAN),
    (visits.SECOND_PERSON, True, SERVICE_CENTRE),
    (visits.SPECIAL_TOOL, True, SERVICE_CENTRE),
])
def test_the_delay_of_a_visit_left_unfinished_is_owed_to_its_cause(outcome, in_centre, cause):
    assert visits.delay_cause(outcome, in_centre) == cause


def test_leaving_goes_back_to_where_the_order_can_be_booked_again():
    leave = TRANSITIONS["leave"]
    assert leave.sources == ("on_site",) and leave.milestone is None
    assert leave.target in TRANSITIONS["appointment"].sources
    assert leave.target in TRANSITIONS["check-in"].sources


@pytest.mark.parametrize(("body", "message"), [
    ({}, "Missing data"),
    ({"outcome": "parts"}, "wait-parts"),
    ({"outcome": "bored"}, "customer_absent"),
    ({"outcome": "customer_absent", "extra": 1}, "Unknown field"),
])
def test_the_leave_command_refuses_what_it_does_not_know(body, message):
    with pytest.raises(ValidationError, match=message):
        LeaveIn().load(body)


# -- the steps on an in-memory store -----------------------------------------------------
def _step(store: MemoryStore, action: str, payload: dict, now=NOW) -> dict:
    dispatcher = _dispatcher(store)
    dispatcher.now = now
    return dispatcher.step(ORDER_ID, action, payload, TECH)


def test_a_second_visit_keeps_the_first_arrival_and_owes_the_wait_to_the_customer():
    store = MemoryStore(_order("scheduled"))
    _step(store, "check-in", {"confirmed_by_customer": True})
    first_arrival = store.orders[ORDER_ID]["milestones"]["arrival"]
    left = _step(store, "leave", {"outcome": "customer_absent", "note": "客户不在家"},
                 NOW + timedelta(minutes=20))
    assert left["status"] == "scheduled"
    assert store.written[-1].entry["details"]["cause"] == CUSTOMER
    assert left["visits"][0]["outcome"] == "customer_absent"
    assert left["visits"][0]["reason"] == "客户不在家"
    again = _step(store, "check-in", {"confirmed_by_customer": True}, LATER)
    assert again["status"] == "on_site"
    assert again["milestones"]["arrival"] == first_arrival  # never overwritten
    assert "milestones.arrival.at" not in store.written[-1].facts
    assert [(v["n"], v["arrived_at"], v["left_at"]) for v in again["visits"]] == [
        (1, NOW, NOW + timedelta(minutes=20)), (2, LATER, None)]


def test_completing_closes_the_visit_with_cannot_fix_or_completed():
    store = MemoryStore(_order("scheduled"))
    _step(store, "check-in", {"confirmed_by_customer": True})
    done = _step(store, "complete", {"cannot_fix": True, "remedy": "exchange",
                                     "diagnosis": "热交换器烧穿", "parts_used": []}, LATER)
    assert done["visits"][-1]["outcome"] == "cannot_fix"
    assert done["visits"][-1]["left_at"] == LATER


def test_waiting_for_parts_closes_the_visit_with_parts():
    store = MemoryStore(_order("scheduled"))
    _step(store, "check-in", {"confirmed_by_customer": True})
    waiting = _step(store, "wait-parts", {"parts": [{"sku": "GWH-IGN-01", "quantity": 1}],
                                          "customer_informed": True}, LATER)
    assert waiting["visits"][-1]["outcome"] == "parts"


def test_leaving_an_order_not_on_site_changes_nothing():
    store = MemoryStore(_order("scheduled"))
    with pytest.raises(Conflict):
        _step(store, "leave", {"outcome": "customer_absent"})
    assert store.written == []


# -- cannot_fix's escalation -------------------------------------------------------------
def test_cannot_fix_opens_one_escalation_whatever_the_redeliveries():
    order = _order("completed")
    store = MemoryStore(order)
    dispatcher = _dispatcher(store)
    data = {"order_id": ORDER_ID, "completion": {"remedy": "refund", "diagnosis": "主板损坏",
                                                 "cannot_fix": True}}
    assert dispatcher.open_exchange_escalation("e" * 32, data) is True
    assert dispatcher.open_exchange_escalation("e" * 32, data) is False  # redelivered
    escalation = store.orders[ORDER_ID]["escalation"]
    assert escalation["kind"] == escalations.EXCHANGE_OR_REFUND
    assert escalation["remedy"] == "refund" and escalations.is_open(store.orders[ORDER_ID])
    # another event for an order with one open keeps the one it has
    assert dispatcher.open_exchange_escalation("f" * 32, data) is True
    assert store.orders[ORDER_ID]["escalation"]["event_id"] == "e" * 32
    assert store.written[-1].entry["details"]["opened"] is False


def test_a_later_slot_the_customer_asks_for_after_a_visit_leaves_the_reached_arrival_alone():
    store = MemoryStore(_order("scheduled"))
    _step(store, "check-in", {"confirmed_by_customer": True})
    _step(store, "leave", {"outcome": "customer_absent"}, NOW + timedelta(minutes=20))
    arrival = dict(store.orders[ORDER_ID]["deadlines"])["arrival"]
    slot = NOW + timedelta(days=3)
    _step(store, "appointment", {"start": slot, "end": slot + timedelta(hours=2),
                                 "customer_requested": True, "customer_confirmed": True,
                                 "reason": "周末在家"},
          NOW + timedelta(hours=1))
    assert store.orders[ORDER_ID]["deadlines"]["arrival"] == arrival
    assert not any(path.endswith(".arrival") for path in store.written[-1].facts)
