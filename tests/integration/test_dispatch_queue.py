"""The queue policy against the real store: a drain pass offers an order that can still be
on time before an overdue one, and a small-cap technician's last slot waits for urgent
work (services/dispatch/domain/queueing.py; the figures behind it: make bench-sim)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Dispatcher
from services.dispatch.store import DispatchStore, queue_key, rekey_queue

pytestmark = pytest.mark.integration
NOW = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)
REFERENCE = load_reference("deploy/config/reference.yaml")


@pytest.fixture
def store(dispatch_store):
    return dispatch_store


def add_technician(store: DispatchStore, cap: int, active_jobs: int = 0) -> None:
    store.technicians.insert_one({
        "_id": "SH-Q1", "branch": "SH", "certificates": ["gas"], "zones": ["intensive"],
        "lat": 31.23, "lon": 121.48, "shift": "always", "cap": cap,
        "active_jobs": active_jobs, "free_slots": cap - active_jobs, "active": True,
        "holding": [f"SH-HELD-{n}" for n in range(active_jobs)]})


def queue_order(store: DispatchStore, order_id: str, due_in: timedelta) -> None:
    assert store.insert_order({
        "_id": order_id, "branch": "SH", "zone": "intensive", "status": "new",
        "lat": 31.2317, "lon": 121.4846, "received_at": NOW - timedelta(hours=13),
        "deadlines": {"arrival": NOW + due_in}, "needed_certificates": ["gas"],
        "request_type": "repair", "priority": "normal", "tried": [], "offer": None,
        "technician_id": None, "milestones": {}, "timeline": []}, [], NOW)


def drain(store: DispatchStore) -> None:
    Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW, NOW),
               timedelta(minutes=15)).drain_queue("SH")


def status(store: DispatchStore, order_id: str) -> str:
    return store.get(order_id)["status"]


def test_queued_from_a_deadline_reads_only_what_is_due_from_then(store):
    for order_id, hours in (("late", -1), ("soon", 1), ("later", 5)):
        queue_order(store, order_id, timedelta(hours=hours))
    assert [o["_id"] for o in store.queued("SH")] == ["late", "soon", "later"]
    assert [o["_id"] for o in store.queued("SH", due_from=NOW)] == ["soon", "later"]


def test_the_only_free_slot_goes_to_the_order_that_can_still_be_on_time(store):
    add_technician(store, cap=1)
    queue_order(store, "overdue", timedelta(hours=-1))
    queue_order(store, "feasible", timedelta(hours=2))
    drain(store)
    assert status(store, "feasible") == "offered"
    assert status(store, "overdue") == "new"


def test_a_last_slot_waits_for_an_order_due_soon(store):
    add_technician(store, cap=2, active_jobs=1)
    queue_order(store, "tomorrow", timedelta(hours=24))
    drain(store)
    assert status(store, "tomorrow") == "new"
    queue_order(store, "urgent", timedelta(hours=3))
    drain(store)
    assert status(store, "urgent") == "offered"
    assert status(store, "tomorrow") == "new"


def test_a_queued_order_the_roster_cannot_reach_in_time_is_forecast_late_on_the_store(store):
    add_technician(store, cap=3)
    queue_order(store, "reachable", timedelta(hours=2))
    queue_order(store, "too-soon", timedelta(minutes=5))  # the shortest trip is 10 minutes
    dispatcher = Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW, NOW),
                            timedelta(minutes=15))
    late = {seen.order_id for seen in dispatcher.forecast_arrivals("SH") if seen.late}
    assert late == {"too-soon"}
    noted = store.get("too-soon")["forecast"]
    assert noted["late"] and noted["reason"]["trip_minutes"] >= 10
    assert store.get("too-soon")["version"] == 1  # a mark, not a step of the order
    assert "forecast" not in store.get("reachable")  # on time: nothing written
    marked_at = noted["at"]
    later = Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW + timedelta(minutes=1),
                                                    NOW), timedelta(minutes=15))
    later.forecast_arrivals("SH")  # a second pass writes only what changed
    assert store.get("too-soon")["forecast"]["at"] == marked_at


def test_an_emergency_in_the_queue_comes_before_an_earlier_ordinary_deadline(store):
    add_technician(store, cap=1)
    queue_order(store, "ordinary", timedelta(hours=1))
    queue_order(store, "gas-leak", timedelta(hours=2))
    store.orders.update_one({"_id": "gas-leak"}, {"$set": {"priority": "emergency"}})
    store.orders.update_one({"_id": "gas-leak"},
                            {"$set": {"queue_key": queue_key(store.get("gas-leak"))}})
    drain(store)
    assert (status(store, "gas-leak"), status(store, "ordinary")) == ("offered", "new")


def test_queued_orders_keyed_the_old_way_get_a_band_and_keep_their_order(store):
    queue_order(store, "old", timedelta(hours=1))
    queue_order(store, "moved", timedelta(hours=2))
    for order_id in ("old", "moved"):  # as a replica without bands wrote them
        due = store.get(order_id)["deadlines"]["arrival"].replace(tzinfo=UTC)
        store.orders.update_one({"_id": order_id},
                                {"$set": {"queue_key": f"SH|{due.isoformat()}"}})
    rekey_queue(store.db)
    assert store.get("old")["queue_key"] == queue_key(store.get("old"))
    assert store.get("old")["queue_key"].startswith("SH|1|")
    assert [o["_id"] for o in store.queued("SH")] == ["old", "moved"]


def test_the_sweeps_find_their_next_due_moment_in_the_store(store):
    """The timers sleep until these (services/common/pacing.py): the earliest running
    milestone deadline and the earliest open offer's lapse, read from the sparse indexes;
    a reached milestone or a taken offer is no longer among them."""
    dispatcher = Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW, NOW),
                            timedelta(minutes=15))
    assert dispatcher.next_breach_due() is None and dispatcher.next_offer_due() is None
    queue_order(store, "later", timedelta(hours=5))
    queue_order(store, "sooner", timedelta(hours=2))
    assert dispatcher.next_breach_due() == NOW + timedelta(hours=2)
    store.orders.update_one({"_id": "sooner"}, {"$unset": {"sweep_at.arrival": ""}})
    assert dispatcher.next_breach_due() == NOW + timedelta(hours=5)

    add_technician(store, cap=2)
    drain(store)
    offered = [o for o in map(store.get, ("later", "sooner")) if o["status"] == "offered"]
    assert offered and dispatcher.next_offer_due() == min(
        o["offer"]["expires_at"].replace(tzinfo=UTC) for o in offered)
