"""Bookable time on the real broker and store: an appointment that clashes with the
technician's other booking is a 409 naming it and changes nothing; the day-before reminder
is due once per appointment, whichever replica's timer runs and however often; two
replicas booking overlapping slots at once book one."""

import json
from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Dispatcher
from services.dispatch.service import DispatchService
from tests.integration.conftest import publish_order_created, technician, wait_for

FIRST, SECOND = "SH-20261203-000051", "SH-20261203-000052"
TECH = {"role": "technician", "branch": "SH", "technician_id": "IT-B1"}
REFERENCE = load_reference("deploy/config/reference.yaml")


def _contacted(start_service, settings, broker, mongo, *order_ids, replicas: int = 1):
    """Orders offered to IT-B1, accepted and contacted; the service's containers."""
    containers = [start_service(DispatchService) for _ in range(replicas)]
    orders = mongo[f"{settings['db_prefix']}_dispatch"].orders
    now = datetime.now(UTC)
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        rpc.dispatch.create_technician(technician("IT-B1", name="李工"), "SH")
        for order_id in order_ids:
            publish_order_created(broker, order_id, now)
        for order_id in order_ids:
            wait_for(lambda oid=order_id: orders.find_one({"_id": oid, "status": "offered"}))
            for action in ("accept", "contact"):
                rpc.dispatch.step(order_id, action, {}, TECH)
    return orders, containers


def test_a_clashing_appointment_is_a_409_naming_the_other_order_and_changes_nothing(
        start_service, settings, broker, mongo):
    orders, _ = _contacted(start_service, settings, broker, mongo, FIRST, SECOND)
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        rpc.dispatch.step(FIRST, "appointment", {"start": "2099-01-01T10:00:00+08:00",
                                                 "end": "2099-01-01T12:00:00+08:00"}, TECH)
        before = orders.find_one({"_id": SECOND})
        with pytest.raises(RemoteError) as refused:
            rpc.dispatch.step(SECOND, "appointment", {
                "start": "2099-01-01T11:00:00+08:00", "end": "2099-01-01T13:00:00+08:00"},
                TECH)
        assert refused.value.exc_type == "Conflict"
        message = json.loads(refused.value.value)["message"]
        assert "预约时段冲突" in message and f"{FIRST} 01-01 10:00–12:00" in message
        assert orders.find_one({"_id": SECOND}) == before  # nothing changed

        booked = rpc.dispatch.step(SECOND, "appointment", {  # back to back: free
            "start": "2099-01-01T12:00:00+08:00", "end": "2099-01-01T14:00:00+08:00"}, TECH)
        assert booked["status"] == "scheduled"
        with pytest.raises(RemoteError) as refused:  # a reschedule onto the other's slot
            rpc.dispatch.step(FIRST, "appointment", {
                "start": "2099-01-01T13:30:00+08:00", "end": "2099-01-01T15:00:00+08:00"},
                TECH)
        assert refused.value.exc_type == "Conflict"
        assert orders.find_one({"_id": FIRST})["appointment"]["end"] == datetime(
            2099, 1, 1, 4, 0, tzinfo=UTC)


def test_two_overlapping_appointments_booked_at_once_one_is_refused(
        start_service, settings, broker, mongo):
    orders, _ = _contacted(start_service, settings, broker, mongo, FIRST, SECOND, replicas=2)

    def book(order_id: str) -> str:
        with ClusterRpcProxy(settings, timeout=15) as rpc:
            try:
                rpc.dispatch.step(order_id, "appointment", {
                    "start": "2099-02-01T10:00:00+08:00", "end": "2099-02-01T12:00:00+08:00"},
                    TECH)
            except RemoteError as refused:
                return refused.exc_type
        return "booked"

    pool = eventlet.GreenPool()
    outcomes = sorted(pool.imap(book, (FIRST, SECOND)))
    assert outcomes == ["Conflict", "booked"]
    assert orders.count_documents({"_id": {"$in": [FIRST, SECOND]},
                                   "appointment.start": {"$exists": True}}) == 1
    assert "booking_lease" not in mongo[f"{settings['db_prefix']}_dispatch"].technicians.find_one(
        {"_id": "IT-B1"})  # given back


def _remind(container) -> None:
    with entrypoint_hook(container, "remind_appointments") as run:
        run()


def test_the_day_before_reminder_is_due_once_whichever_replica_runs(
        start_service, settings, broker, mongo):
    orders, replicas = _contacted(start_service, settings, broker, mongo, FIRST, replicas=2)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        rpc.dispatch.step(FIRST, "appointment", {
            "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
            TECH)
    due = orders.find_one({"_id": FIRST})["remind_at"].replace(tzinfo=UTC)
    assert timedelta(hours=6) <= start - due <= timedelta(hours=42)  # the evening before
    clocks = []
    for replica in replicas:
        provider = next(d for d in replica.dependencies if isinstance(d, ClockProvider))
        provider.clock = FixedClock(due - timedelta(minutes=1))
        clocks.append(provider.clock)
    for replica in replicas:
        _remind(replica)
    assert "reminded_at" not in orders.find_one({"_id": FIRST})["appointment"]
    for tick in range(3):
        for clock in clocks:
            clock.advance(timedelta(minutes=1 + tick))
        for replica in replicas:
            _remind(replica)
    order = orders.find_one({"_id": FIRST})
    assert [e["step"] for e in order["timeline"]].count("reminder_due") == 1
    assert "remind_at" not in order and order["appointment"]["reminded_at"] is not None


def test_replicas_racing_on_a_due_reminder_write_its_event_once(dispatch_store):
    """The event in the order's outbox (every kind routed here, as it will be once a
    notifier subscribes), written once however many replicas find it due at once."""
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    start = now + timedelta(hours=15)
    dispatch_store.insert_order({
        "_id": FIRST, "branch": "SH", "zone": "standard", "status": "scheduled",
        "technician_id": "IT-B1", "offer": None, "tried": ["IT-B1"], "lat": 31.22,
        "lon": 121.54, "received_at": now - timedelta(hours=2), "request_type": "repair",
        "priority": "normal", "deadlines": {"arrival": now + timedelta(days=2)},
        "milestones": {}, "timeline": [], "remind_at": now,
        "appointment": {"start": start, "end": start + timedelta(hours=2),
                        "customer_requested": False, "customer_confirmed": False}}, [], now)

    def remind() -> int:
        dispatcher = Dispatcher(dispatch_store, REFERENCE, UnitOfWork("dispatch", now, now),
                                timedelta(minutes=15))
        return dispatcher.remind_appointments(["SH"])

    pool = eventlet.GreenPool()
    sent = list(pool.imap(lambda _: remind(), range(4)))
    assert sum(sent) == 1
    order = dispatch_store.get(FIRST)
    assert [event["type"] for event in order["outbox"]] == ["appointment_reminder_due"]
    assert order["outbox"][0]["data"]["start"] == start.isoformat()
