"""Intake and dispatch, each alone, on the real broker and store."""

import time
from datetime import UTC, datetime

import eventlet
import pytest
from kombu import Queue
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.messaging import subscription_queue
from services.common.outbox import new_event
from services.common.routes import SUBSCRIPTIONS
from services.dispatch.service import DispatchService
from services.intake.service import IntakeService
from tests.integration.conftest import order_created_data

CREATED = next(s for s in SUBSCRIPTIONS if s.event_type == "order_created")


def _request(**extra) -> dict:
    body = {"customer": {"name": "李女士", "phone": "13700001111", "address": "浦东新区世纪大道1号",
                         "region_code": "310115"},
            "product": {"category": "electric_water_heater", "serial_number": "EWH-1",
                        "purchase_date": "2025-01-10"},
            "request_type": "repair", "description": "漏电，跳闸", "channel": "12315"}
    body.update(extra)
    return body


def _set_clock(container, at: datetime) -> FixedClock:
    provider = next(d for d in container.dependencies if isinstance(d, ClockProvider))
    provider.clock = FixedClock(at)
    return provider.clock


def _waiting(broker, queue: Queue) -> list:
    bound = queue(broker.default_channel)
    found = []
    while (message := bound.get(no_ack=True)) is not None:
        found.append(message.payload)
    return found


def test_intake_declares_consumer_queue_and_publishes_order_created(start_service, settings,
                                                                   broker, mongo):
    container = start_service(IntakeService)
    _set_clock(container, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        order = rpc.intake.create_request(_request(call_id="cti-42"), None)
        again = rpc.intake.create_request(_request(call_id="cti-42"), None)
        with pytest.raises(RemoteError) as bad:
            rpc.intake.create_request(_request(channel="carrier-pigeon"), None)
    assert bad.value.exc_type == "InvalidInput"
    assert order["created"] and not again["created"]
    assert order["order_id"] == again["order_id"] == "SH-20261120-000001"
    assert order["priority"] == "emergency"  # 漏电 outranks the 12315 channel
    assert order["warranty"]["status"] == "main_parts_only"  # 12 months whole, 36 main
    # Dispatch never ran, yet its queue exists (declared by the publisher) and holds the event.
    events = []
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        events = _waiting(broker, subscription_queue(CREATED))
        eventlet.sleep(0.2)
    assert [e["data"]["order_id"] for e in events] == [order["order_id"]]
    assert events[0]["data"]["deadlines"]["arrival"].startswith("2026-11-20T11:00")
    db = mongo[f"{settings['db_prefix']}_intake"]
    assert db.requests.count_documents({}) == 1
    assert db.requests.find_one()["outbox"] == []


def test_intake_gives_safety_advice_and_keeps_an_agents_override(start_service, settings,
                                                                   mongo):
    container = start_service(IntakeService)
    _set_clock(container, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    db = mongo[f"{settings['db_prefix']}_intake"]
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        with pytest.raises(RemoteError) as bad:  # an override without a reason: nothing made
            rpc.intake.create_request(_request(priority_override={"priority": "normal"}),
                                      None, "agent@SH")
        assert bad.value.exc_type == "InvalidInput" and "改判优先级必须填写理由" in str(bad.value)
        assert db.requests.count_documents({}) == 0
        emergency = rpc.intake.create_request(_request(call_id="cti-1"), None, "agent@SH")
        overridden = rpc.intake.create_request(_request(
            call_id="cti-2", customer={**_request()["customer"], "phone": "13700002222"},
            description="没有漏电，但是热水器有焦味",
            priority_override={"priority": "normal", "reason": "客户说焦味是上周的，已消失"}),
            None, "agent@SH")
        quiet = rpc.intake.create_request(_request(
            call_id="cti-3", customer={**_request()["customer"], "phone": "13700003333"},
            description="没有漏电，就是不加热", channel="hotline"), None, "agent@SH")
    assert emergency["priority"] == "emergency"
    assert [advice["kind"] for advice in emergency["safety_advice"]] == ["electric"]
    assert "总闸" in emergency["safety_advice"][0]["text"]
    assert "priority_override" not in emergency or emergency["priority_override"] is None
    assert overridden["priority"] == "normal" and overridden["safety_advice"] == []
    assert overridden["priority_reasons"] == ["hazard:焦味", "agent_override"]
    audit = overridden["priority_override"]
    assert (audit["priority"], audit["reason"], audit["by"]) == (
        "normal", "客户说焦味是上周的，已消失", "agent@SH")
    assert audit["decided"] == {"priority": "emergency", "reasons": ["hazard:焦味"]}
    assert audit["at"].startswith("2026-11-20T17:00")  # shown in the branch's time
    assert (quiet["priority"], quiet["safety_advice"]) == ("normal", [])
    stored = db.requests.find_one({"_id": overridden["order_id"]})
    assert stored["priority_override"]["by"] == "agent@SH"


def test_intake_applies_a_redelivered_completion_once(start_service, settings, mongo):
    container = start_service(IntakeService)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        order = rpc.intake.create_request(_request(), None)
    service = container.service_cls
    event = new_event("order_completed", "dispatch", "SH", {"order_id": order["order_id"]},
                      datetime.now(UTC))
    instance = service.__new__(service)
    db = mongo[f"{settings['db_prefix']}_intake"]
    instance.db = db
    for _ in range(3):
        service._record_end(instance, event, "completed")
    doc = db.requests.find_one({"_id": order["order_id"]})
    assert doc["status"] == "completed" and "open_key" not in doc
    assert doc["applied_events"] == [event["event_id"]]


def test_dispatch_offers_once_even_when_order_created_is_redelivered(start_service, settings,
                                                                     broker, mongo):
    container = start_service(DispatchService)
    now = datetime.now(UTC)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.dispatch.create_technician({
            "technician_id": "IT-1", "name": "赵工", "certificates": ["electrical"],
            "zones": ["standard"], "lat": 31.22, "lon": 121.54, "shift": "always", "cap": 5},
            "SH")
    data = order_created_data("SH-20261120-000009", now)
    event = new_event("order_created", "intake", "SH", data, now)
    producer = broker.Producer(serializer="json")
    from services.common.messaging import event_exchange

    for _ in range(3):  # the same event three times
        producer.publish(event, exchange=event_exchange("intake"), routing_key="order_created")
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not db.orders.find_one({"status": "offered"}):
        eventlet.sleep(0.2)
    eventlet.sleep(1.5)
    order = db.orders.find_one({"_id": data["order_id"]})
    assert order["status"] == "offered" and order["tried"] == ["IT-1"]
    assert db.technicians.find_one({"_id": "IT-1"})["active_jobs"] == 1, order["timeline"]
    assert db.orders.count_documents({}) == 1
    assert container is not None


def _publish_twice(broker, source: str, kind: str, data: dict) -> None:
    from services.common.messaging import event_exchange

    event = new_event(kind, source, "SH", data, datetime.now(UTC))
    producer = broker.Producer(serializer="json")
    for _ in range(2):  # a redelivery must change nothing
        producer.publish(event, exchange=event_exchange(source), routing_key=kind)


def _wait_for(collection, query: dict, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = collection.find_one(query)
        if found is not None:
            return found
        eventlet.sleep(0.2)
    raise AssertionError(f"nothing matched {query}")


def test_follow_ups_from_callbacks_and_complaints_are_one_linked_order_each(
        start_service, settings, broker, mongo):
    start_service(IntakeService)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        first = rpc.intake.create_request(_request(description="不加热"), None)
    db = mongo[f"{settings['db_prefix']}_intake"]
    db.requests.update_one({"_id": first["order_id"]},
                           {"$set": {"status": "completed"}, "$unset": {"open_key": ""}})
    _publish_twice(broker, "callbacks", "callback_done", {
        "order_id": first["order_id"], "task_id": "CB-1", "outcome": "not_fixed"})
    repeat = _wait_for(db.requests, {"follow_up_of": first["order_id"]})
    assert repeat["priority"] == "high" and repeat["repeat_of"] == first["order_id"]
    assert repeat["follow_up_kind"] == "repeat_repair"
    assert repeat["description"].startswith("返修")
    assert repeat["deadlines"]["arrival"] > repeat["received_at"]
    # The customer's open matter is now the repeat repair: a re-service ordered by a
    # complaint about the first order joins it rather than opening a third order.
    _publish_twice(broker, "complaints", "reservice_requested", {
        "order_id": first["order_id"], "complaint_id": "CP-1"})
    _publish_twice(broker, "callbacks", "callback_done", {
        "order_id": first["order_id"], "task_id": "CB-2", "outcome": "satisfied"})
    eventlet.sleep(2)
    assert db.requests.count_documents({}) == 2
    assert db.requests.count_documents({"follow_up_of": first["order_id"]}) == 1
    db.requests.update_one({"_id": repeat["_id"]},
                           {"$set": {"status": "completed"}, "$unset": {"open_key": ""}})
    _publish_twice(broker, "complaints", "reservice_requested", {
        "order_id": first["order_id"], "complaint_id": "CP-2"})
    reservice = _wait_for(db.requests, {"follow_up_kind": "reservice"})
    assert reservice["follow_up_of"] == first["order_id"] and reservice["priority"] == "high"
    assert reservice["repeat_of"] is None
    eventlet.sleep(1)
    assert db.requests.count_documents({}) == 3


def test_complaint_events_show_once_on_the_orders_they_concern(start_service, settings,
                                                              broker, mongo):
    start_service(DispatchService)
    now = datetime.now(UTC)
    data = order_created_data("SH-20261120-000077", now)
    _publish_twice(broker, "intake", "order_created", data)
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    _wait_for(db.orders, {"_id": data["order_id"]})
    ref = {"complaint_id": "CP-SH-20261120-0001", "order_ids": [data["order_id"]]}
    _publish_twice(broker, "complaints", "complaint_opened", {**ref, "category": "attitude"})
    _publish_twice(broker, "complaints", "complaint_escalated", {**ref, "level": "hq"})
    _publish_twice(broker, "complaints", "complaint_escalated", {
        "complaint_id": "CP-SH-20261120-0002", "order_ids": ["SH-20991231-000001"],
        "level": "supervisor"})  # an order this deployment does not hold: nothing happens
    escalated = _wait_for(db.orders, {"_id": data["order_id"],
                                      "timeline.step": "complaint_escalated"})
    eventlet.sleep(1.5)
    steps = [e["step"] for e in db.orders.find_one({"_id": data["order_id"]})["timeline"]]
    assert steps.count("complaint_opened") == 1 and steps.count("complaint_escalated") == 1
    entry = next(e for e in escalated["timeline"] if e["step"] == "complaint_escalated")
    assert entry["details"] == {"complaint_id": ref["complaint_id"], "level": "hq"}
    assert db.orders.count_documents({}) == 1
