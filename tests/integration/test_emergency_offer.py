"""An emergency against the real store: its offer lapses after the short timeout and goes on
to the next technician, while an ordinary offer made at the same time still stands; and an
emergency nobody has accepted by its first-contact deadline is counted for the page."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Dispatcher
from services.dispatch.store import DispatchStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)
REFERENCE = load_reference("deploy/config/reference.yaml")
ORDINARY, SHORT = timedelta(minutes=15), timedelta(minutes=3)


@pytest.fixture
def store(dispatch_store):
    return dispatch_store


def add_technician(store: DispatchStore, technician_id: str, lon: float) -> None:
    store.technicians.insert_one({
        "_id": technician_id, "branch": "SH", "certificates": ["gas"], "zones": ["intensive"],
        "lat": 31.23, "lon": lon, "shift": "always", "cap": 2, "active_jobs": 0,
        "free_slots": 2, "active": True, "holding": []})


def queue_order(store: DispatchStore, order_id: str, priority: str) -> None:
    first_contact = NOW + timedelta(minutes=30)
    assert store.insert_order({
        "_id": order_id, "branch": "SH", "zone": "intensive", "status": "new",
        "lat": 31.2317, "lon": 121.4846, "received_at": NOW,
        "deadlines": {"first_contact": first_contact, "arrival": NOW + timedelta(hours=2)},
        "risk_at": {"first_contact": NOW + timedelta(minutes=24)},
        "needed_certificates": ["gas"], "request_type": "repair", "priority": priority,
        "product": {"category": "gas_water_heater"}, "tried": [], "offer": None,
        "technician_id": None, "milestones": {}, "timeline": []}, [], NOW)


def dispatcher(store: DispatchStore, at: datetime) -> Dispatcher:
    return Dispatcher(store, REFERENCE, UnitOfWork("dispatch", at, at), ORDINARY, 0.8, SHORT)


def test_an_emergency_offer_lapses_after_three_minutes_and_goes_to_the_next(store):
    add_technician(store, "SH-E1", 121.48)
    add_technician(store, "SH-E2", 121.50)
    queue_order(store, "gas-smell", "emergency")
    queue_order(store, "no-hot-water", "normal")
    assert dispatcher(store, NOW).offer("gas-smell")
    assert dispatcher(store, NOW).offer("no-hot-water")
    emergency = store.get("gas-smell")
    first = emergency["offer"]["technician_id"]
    assert emergency["offer"]["expires_at"].replace(tzinfo=UTC) == NOW + SHORT
    assert store.get("no-hot-water")["offer"]["expires_at"].replace(tzinfo=UTC) == NOW + ORDINARY

    assert dispatcher(store, NOW + SHORT - timedelta(seconds=1)).expire_offers() == []
    assert dispatcher(store, NOW + SHORT).expire_offers() == ["gas-smell"]
    emergency = store.get("gas-smell")
    assert emergency["status"] == "offered" and emergency["offer"]["technician_id"] != first
    assert emergency["tried"] == [first, emergency["offer"]["technician_id"]]
    assert [entry["step"] for entry in emergency["timeline"]] == [
        "offered", "offer_expired", "offered"]
    assert store.get("no-hot-water")["status"] == "offered"  # its 15 minutes still run


def test_an_emergency_nobody_accepted_by_first_contact_is_counted_for_the_page(store):
    add_technician(store, "SH-E1", 121.48)
    queue_order(store, "gas-smell", "emergency")
    queue_order(store, "no-hot-water", "normal")
    for order_id in ("gas-smell", "no-hot-water"):
        assert dispatcher(store, NOW).offer(order_id)
    assert dispatcher(store, NOW + timedelta(minutes=29)).unaccepted_emergencies(
        ["SH", "SZ"]) == {"SH": 0, "SZ": 0}
    assert dispatcher(store, NOW + timedelta(minutes=30)).unaccepted_emergencies(
        ["SH", "SZ"]) == {"SH": 1, "SZ": 0}
