"""Capacity: a slot per held order, taken and given back once; reconciliation, by one
replica per interval, gives back the slots no order holds and adds the missing ones."""

import time
from datetime import UTC, datetime, timedelta

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.messaging import event_exchange
from services.common.outbox import new_event
from services.dispatch.service import DispatchService
from services.dispatch.store import DispatchStore, ensure_indexes
from tests.integration.conftest import order_created_data

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _order_created(order_id: str, now: datetime) -> dict:
    data = order_created_data(order_id, now)
    return new_event("order_created", "intake", "SH", data, now)


def _clock(container) -> FixedClock:
    provider = next(d for d in container.dependencies if isinstance(d, ClockProvider))
    provider.clock = FixedClock(START)
    return provider.clock


def _reconcile(container) -> None:
    with entrypoint_hook(container, "reconcile_capacity") as run:
        run()


def _slots(db, technician_id: str) -> tuple[int, int, list[str]]:
    tech = db.technicians.find_one({"_id": technician_id})
    return tech["active_jobs"], tech["free_slots"], sorted(s["order"] for s in tech["slots"])


def _leak(db, technician_id: str, order_id: str, at: datetime) -> None:
    """A process took a slot for an order and died before writing the order."""
    db.technicians.update_one({"_id": technician_id}, {
        "$inc": {"active_jobs": 1, "free_slots": -1},
        "$push": {"slots": {"order": order_id, "at": at}}})


def test_leaked_slots_are_given_back_and_missing_ones_added(start_service, settings,
                                                           broker, mongo):
    replicas = [start_service(DispatchService), start_service(DispatchService)]
    clocks = [_clock(replica) for replica in replicas]
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        for tech_id in ("RC-1", "RC-2"):
            rpc.dispatch.create_technician({
                "technician_id": tech_id, "name": "赵工", "certificates": ["electrical"],
                "zones": ["standard"], "lat": 31.22, "lon": 121.54, "shift": "always",
                "cap": 5}, "SH")
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    producer = broker.Producer(serializer="json")
    order_id = "SH-20261120-000031"
    producer.publish(_order_created(order_id, START),
                     exchange=event_exchange("intake"), routing_key="order_created")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not db.orders.find_one({"status": "offered"}):
        eventlet.sleep(0.2)
    holder = db.orders.find_one({"_id": order_id})["held_by"]
    other = "RC-2" if holder == "RC-1" else "RC-1"
    # Accepted, so the offer cannot lapse to the other technician when the clocks move.
    db.orders.update_one({"_id": order_id}, {"$set": {
        "status": "accepted", "technician_id": holder, "offer": None}})
    assert _slots(db, holder) == (1, 4, [order_id])

    for clock in clocks:  # past any pass a timer may have run before the leak
        clock.advance(timedelta(hours=1))
    now = clocks[0].now()
    _leak(db, holder, "SH-20261120-000901", START)  # died long ago
    _leak(db, other, "SH-20261120-000902", START)
    _leak(db, other, "SH-20261120-000903", now - timedelta(seconds=10))  # may be mid-write
    # A slow worker's slot was given back while its order was being written.
    db.technicians.update_one({"_id": holder}, {
        "$inc": {"active_jobs": -1, "free_slots": 1}, "$pull": {"slots": {"order": order_id}}})

    _reconcile(replicas[0])
    assert _slots(db, holder) == (1, 4, [order_id])  # the leak gone, the held order's back
    assert _slots(db, other) == (1, 4, ["SH-20261120-000903"])  # the young slot stays

    _leak(db, other, "SH-20261120-000904", START)
    # A technician written by the version that only counted, after start-up.
    db.technicians.insert_one({"_id": "RC-3", "branch": "SH", "cap": 5, "active_jobs": 2,
                               "free_slots": 3, "name": "钱工", "certificates": [],
                               "zones": [], "lat": 31.2, "lon": 121.5, "shift": "always"})
    _reconcile(replicas[1])  # the other replica, same interval: the job is not due
    assert _slots(db, other)[0] == 2

    for clock in clocks:  # the young slot is kept for two intervals
        clock.advance(timedelta(seconds=61))
    _reconcile(replicas[1])  # next interval, either replica
    assert _slots(db, other) == (1, 4, ["SH-20261120-000903"])
    assert _slots(db, "RC-3") == (0, 5, [])

    for clock in clocks:
        clock.advance(timedelta(seconds=61))
    _reconcile(replicas[0])
    assert _slots(db, other) == (0, 5, [])
    assert _slots(db, holder) == (1, 4, [order_id])


def test_a_slot_is_taken_once_per_order_and_given_back_once(settings, mongo):
    db = mongo[f"{settings['db_prefix']}_dispatch_slots"]
    ensure_indexes(db)
    store = DispatchStore(db)
    store.insert_technician({"_id": "RC-9", "branch": "SH", "cap": 2})
    assert store.take_capacity("RC-9", "SH-1", START)
    assert not store.take_capacity("RC-9", "SH-1", START)  # the same order: no second slot
    assert not store.take_capacity("RC-9", "SH-1", START, force=True)  # it holds one
    assert store.take_capacity("RC-9", "SH-2", START)
    assert not store.take_capacity("RC-9", "SH-3", START)  # full
    assert store.take_capacity("RC-9", "SH-3", START, force=True)  # a dispatcher may
    store.release_capacity("RC-9", "SH-1")
    store.release_capacity("RC-9", "SH-1")  # a redelivered release
    assert _slots(db, "RC-9") == (2, 0, ["SH-2", "SH-3"])


def test_technicians_from_before_named_slots_get_one_per_held_order(settings, mongo):
    db = mongo[f"{settings['db_prefix']}_dispatch_legacy"]
    db.technicians.insert_one({"_id": "RC-7", "branch": "SH", "cap": 3, "active_jobs": 3,
                               "slots_version": 12, "slots_note": {"version": 11, "held": 1}})
    db.orders.insert_one({"_id": "SH-7", "status": "on_site", "technician_id": "RC-7",
                          "offer": None, "version": 4})
    ensure_indexes(db)
    assert _slots(db, "RC-7") == (1, 2, ["SH-7"])
    assert not {"slots_version", "slots_note"} & set(db.technicians.find_one({"_id": "RC-7"}))
