"""Capacity reconciliation: slots that disagree with the orders technicians hold are
corrected, by one replica per interval, once the same slot was seen wrong an interval
apart, however busy the technician is meanwhile."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import eventlet
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.messaging import event_exchange
from services.common.outbox import new_event
from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Dispatcher
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


def _slots(db, technician_id: str) -> tuple[int, int]:
    tech = db.technicians.find_one({"_id": technician_id})
    assert tech["active_jobs"] == len(tech["holding"])
    return tech["active_jobs"], tech["free_slots"]


def _leak(db, technician_id: str, *order_ids: str) -> None:
    """A process died after taking a slot for each order and before writing it."""
    db.technicians.update_one({"_id": technician_id}, {
        "$push": {"holding": {"$each": list(order_ids)}},
        "$inc": {"active_jobs": len(order_ids), "free_slots": -len(order_ids)}})


def _advance(clocks, seconds: float = 61) -> None:
    for clock in clocks:
        clock.advance(timedelta(seconds=seconds))


def test_leaked_slots_are_given_back_once_seen_an_interval_apart(start_service, settings,
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
    producer.publish(_order_created("SH-20261120-000031", START),
                     exchange=event_exchange("intake"), routing_key="order_created")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not db.orders.find_one({"status": "offered"}):
        eventlet.sleep(0.2)
    holder = db.orders.find_one({"_id": "SH-20261120-000031"})["held_by"]
    other = "RC-2" if holder == "RC-1" else "RC-1"
    _leak(db, holder, "SH-GONE-1", "SH-GONE-2")
    _leak(db, other, "SH-GONE-3", "SH-GONE-4")
    assert _slots(db, holder) == (3, 2) and _slots(db, other) == (2, 3)

    _advance(clocks, 3600)  # past any pass a timer may have run before the leak
    _reconcile(replicas[0])  # first pass: the wrong slots are noted, nothing corrected yet
    assert _slots(db, holder) == (3, 2)
    # Meanwhile the other technician stays busy: a slot taken and one given back. The
    # leaked slots are still wrong, and are corrected all the same.
    _leak(db, other, "SH-GONE-5")
    db.technicians.update_one({"_id": other, "holding": "SH-GONE-5"}, {
        "$pull": {"holding": "SH-GONE-5"}, "$inc": {"active_jobs": -1, "free_slots": 1}})

    _reconcile(replicas[1])  # the other replica, same interval: the job is not due
    assert _slots(db, holder) == (3, 2)

    _advance(clocks)
    _reconcile(replicas[1])  # next interval, either replica: corrected
    assert _slots(db, holder) == (1, 4)
    assert _slots(db, other) == (0, 5)
    assert "slots_note" not in db.technicians.find_one({"_id": holder})

    # The order's own slot is given back once, however often its release is retried.
    store = DispatchStore(db)
    for _ in range(2):
        store.release_capacity(holder, "SH-20261120-000031")
    assert _slots(db, holder) == (0, 5)
    _advance(clocks)
    _reconcile(replicas[0])  # the order still holds them: noted missing...
    assert _slots(db, holder) == (0, 5)
    _advance(clocks)
    _reconcile(replicas[0])  # ...and taken back an interval later
    assert _slots(db, holder) == (1, 4)


def test_a_pass_that_overlaps_the_next_does_not_correct_a_slot_seen_a_moment_ago(
        start_service, settings, mongo):
    replica = start_service(DispatchService)
    clock = _clock(replica)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.dispatch.create_technician({
            "technician_id": "RC-3", "name": "钱工", "certificates": ["electrical"],
            "zones": ["standard"], "lat": 31.22, "lon": 121.54, "shift": "always",
            "cap": 5}, "SH")
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    _leak(db, "RC-3", "SH-IN-FLIGHT")  # a worker between its two writes
    clock.advance(timedelta(hours=1))
    store = DispatchStore(db)
    reference = load_reference("deploy/config/reference.yaml")
    upkeep = Dispatcher(store, reference, UnitOfWork("dispatch", clock.now(), clock.now()),
                        timedelta(minutes=15))
    every = timedelta(seconds=60)
    upkeep.reconcile_capacity(["SH"], every)
    upkeep.now = clock.now() + timedelta(seconds=2)  # an overlapping pass, 2 s later
    upkeep.reconcile_capacity(["SH"], every)
    assert _slots(db, "RC-3") == (1, 4)


def test_technicians_written_before_slots_named_their_orders_get_them_from_the_orders(mongo):
    db = mongo[f"slots_{uuid.uuid4().hex[:8]}"]
    try:
        db.technicians.insert_one({"_id": "OLD-1", "branch": "SH", "cap": 4,
                                   "active_jobs": 3, "slots_version": 9})
        db.orders.insert_many([
            {"_id": "SH-1", "status": "on_site", "technician_id": "OLD-1", "version": 4},
            {"_id": "SH-2", "status": "offered", "offer": {"technician_id": "OLD-1"},
             "version": 1},
            {"_id": "SH-3", "status": "completed", "technician_id": "OLD-1", "version": 9}])
        ensure_indexes(db)
        tech = db.technicians.find_one({"_id": "OLD-1"})
        assert sorted(tech["holding"]) == ["SH-1", "SH-2"]
        assert (tech["active_jobs"], tech["free_slots"]) == (2, 2)
        assert "slots_version" not in tech
    finally:
        mongo.drop_database(db.name)


def test_counters_that_drifted_from_the_slots_are_set_from_them(mongo):
    db = mongo[f"slots_{uuid.uuid4().hex[:8]}"]
    try:
        db.technicians.insert_one({"_id": "DRIFT-1", "branch": "SH", "cap": 4,
                                   "holding": ["SH-1"], "active_jobs": 3, "free_slots": 1})
        db.orders.insert_one({"_id": "SH-1", "status": "on_site", "held_by": "DRIFT-1",
                              "technician_id": "DRIFT-1", "version": 1})
        store = DispatchStore(db)
        reference = load_reference("deploy/config/reference.yaml")
        upkeep = Dispatcher(store, reference, UnitOfWork("dispatch", START, START),
                            timedelta(minutes=15))
        upkeep.reconcile_capacity(["SH"], timedelta(seconds=60))
        tech = db.technicians.find_one({"_id": "DRIFT-1"})
        assert (tech["active_jobs"], tech["free_slots"]) == (1, 3)
    finally:
        mongo.drop_database(db.name)
