"""Capacity reconciliation: slot counters that disagree with the orders technicians hold
are corrected, by one replica per interval, and only once the mismatch has held still."""

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
    return tech["active_jobs"], tech["free_slots"]


def test_leaked_slots_are_given_back_once_the_mismatch_holds_still(start_service, settings,
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
    # Two processes died after taking a slot and before writing their order.
    for tech_id in (holder, other):
        db.technicians.update_one({"_id": tech_id}, {"$inc": {
            "active_jobs": 2, "free_slots": -2, "slots_version": 1}})
    assert _slots(db, holder) == (3, 2) and _slots(db, other) == (2, 3)

    for clock in clocks:  # past any pass a timer may have run before the leak
        clock.advance(timedelta(hours=1))
    _reconcile(replicas[0])  # first pass: the mismatch is noted, nothing corrected yet
    assert _slots(db, holder) == (3, 2)
    db.technicians.update_one({"_id": other}, {"$inc": {"slots_version": 1}})  # a slot moved

    _reconcile(replicas[1])  # the other replica, same interval: the job is not due
    assert _slots(db, holder) == (3, 2)

    for clock in clocks:
        clock.advance(timedelta(seconds=61))
    _reconcile(replicas[1])  # next interval, either replica: corrected where it held still
    assert _slots(db, holder) == (1, 4)
    assert _slots(db, other) == (2, 3)  # it moved between the passes: looked at again

    for clock in clocks:
        clock.advance(timedelta(seconds=61))
    _reconcile(replicas[0])
    _reconcile(replicas[1])
    assert _slots(db, other) == (0, 5)
    assert "slots_note" not in db.technicians.find_one({"_id": holder})
