"""Pauses against the real store: a check-in ends a pause for the customer in the write
that reaches arrival; a shortage while the customer is away ends that pause first, and
the clocks come back to the breach sweeper when the parts arrive."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Actor, Dispatcher
from services.dispatch.store import DispatchStore, ensure_indexes

pytestmark = pytest.mark.integration
T0 = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)
REFERENCE = load_reference("deploy/config/reference.yaml")
TECH = Actor("technician", "SH", "SH-P1")
AWAY = {"reason": "customer_away", "customer_informed": True}


@pytest.fixture
def store(mongo):
    db = mongo[f"pauses_{uuid.uuid4().hex[:8]}"]
    ensure_indexes(db)
    store = DispatchStore(db)
    store.technicians.insert_one({
        "_id": "SH-P1", "branch": "SH", "certificates": ["gas"], "zones": ["standard"],
        "lat": 31.22, "lon": 121.54, "shift": "always", "cap": 3, "active_jobs": 1,
        "free_slots": 2, "active": True, "holding": ["SH-P-1"]})
    received = T0 - timedelta(minutes=30)
    assert store.insert_order({
        "_id": "SH-P-1", "branch": "SH", "zone": "standard", "status": "contacted",
        "lat": 31.2213, "lon": 121.5447, "received_at": received, "region_code": "310115",
        "deadlines": {"first_contact": received + timedelta(hours=2),
                      "arrival": received + timedelta(hours=24),
                      "resolution": received + timedelta(hours=48)},
        "needed_certificates": ["gas"], "request_type": "repair", "priority": "normal",
        "tried": ["SH-P1"], "offer": None, "technician_id": "SH-P1",
        "milestones": {"first_contact": {"at": T0, "outcome": "met"}},
        "product": {"category": "gas_water_heater"}, "customer": {},
        "warranty": {"status": "in_warranty"}, "timeline": [], "paused": {},
        "paused_for": [], "paused_seconds": 0.0}, [], T0)
    yield store
    mongo.drop_database(db.name)


def at(store: DispatchStore, hours: float) -> Dispatcher:
    return Dispatcher(store, REFERENCE, UnitOfWork("dispatch", T0 + timedelta(hours=hours), T0),
                      timedelta(minutes=15))


def test_checking_in_ends_a_pause_for_the_customer_and_reaches_arrival_on_the_moved_clock(
        store):
    deadline = store.get("SH-P-1")["deadlines"]["arrival"]
    at(store, 1).step("SH-P-1", "pause", AWAY, TECH)
    assert "arrival" not in store.get("SH-P-1")["sweep_at"]  # the sweeper leaves it be
    at(store, 4).step("SH-P-1", "check-in", {"confirmed_by_customer": True}, TECH)
    order = store.get("SH-P-1")
    assert order["status"] == "on_site" and order["paused_at"] is None
    assert order["deadlines"]["arrival"].replace(tzinfo=UTC) == (
        deadline.replace(tzinfo=UTC) + timedelta(hours=3))
    assert order["milestones"]["arrival"]["outcome"] == "met"
    assert order["milestones"]["arrival"]["ledger"]["customer"] == 3 * 3600
    assert "arrival" not in order.get("risk_at", {}) and "arrival" not in order["sweep_at"]


def test_a_shortage_while_the_customer_is_away_ends_that_pause_and_the_clocks_come_back(
        store):
    deadlines = store.get("SH-P-1")["deadlines"]
    at(store, 3).step("SH-P-1", "pause", AWAY, TECH)
    at(store, 10).parts_short("ev-short", {"order_id": "SH-P-1", "shortage_id": "S1",
                                           "parts": [{"sku": "GWH-IGN", "quantity": 1}]})
    waiting = store.get("SH-P-1")
    assert waiting["status"] == "waiting_parts" and waiting["pause_reason"] is None
    assert waiting["paused"] == {"arrival": 7 * 3600.0, "resolution": 7 * 3600.0}
    assert waiting["paused_for"] == ["resolution"]  # parts stop only the resolution clock
    moved = deadlines["arrival"].replace(tzinfo=UTC) + timedelta(hours=7)
    assert waiting["sweep_at"]["arrival"].replace(tzinfo=UTC) == moved  # swept again
    at(store, 60).parts_arrived("ev-arrived", {"order_id": "SH-P-1", "shortage_id": "S1"})
    resumed = store.get("SH-P-1")
    assert resumed["status"] == "scheduled" and resumed["paused_at"] is None
    assert resumed["sweep_at"]["resolution"].replace(tzinfo=UTC) == (
        deadlines["resolution"].replace(tzinfo=UTC) + timedelta(hours=7 + 50))


def test_an_order_paused_for_the_customer_is_neither_forecast_late_nor_offered_again(store):
    at(store, 1).step("SH-P-1", "pause", AWAY, TECH)
    much_later = at(store, 40)  # past the arrival deadline the pause froze
    assert not [seen for seen in much_later.forecast_arrivals("SH") if seen.late]
    assert much_later.reoffer_late(much_later.forecast_arrivals("SH")) == 0
    order = store.get("SH-P-1")
    assert "forecast" not in order and order["status"] == "contacted"
