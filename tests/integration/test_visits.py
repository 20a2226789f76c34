"""Visits and cannot_fix on the real broker and store: a visit left unfinished books the
order again and keeps the first arrival; bad input and other branches change nothing;
cannot_fix's exchange_requested goes through the outbox to its consumer and opens the
dispatcher's escalation once, however often it is delivered."""

from datetime import UTC, datetime

import eventlet
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.messaging import event_exchange
from services.common.outbox import new_event
from services.dispatch.service import DispatchService
from tests.integration.conftest import publish_order_created, technician, wait_for

ORDER = "SH-20261120-000031"
TECH = {"role": "technician", "branch": "SH", "technician_id": "IT-V1"}


def _publish(broker, source: str, event: dict, times: int = 1) -> None:
    producer = broker.Producer(serializer="json")
    for _ in range(times):
        producer.publish(event, exchange=event_exchange(source), routing_key=event["type"])


@pytest.fixture
def on_site(start_service, settings, broker, mongo):
    """An order offered to IT-V1, accepted, contacted, booked and checked in."""
    start_service(DispatchService)
    orders = mongo[f"{settings['db_prefix']}_dispatch"].orders
    now = datetime.now(UTC)
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        rpc.dispatch.create_technician(technician("IT-V1"), "SH")
        publish_order_created(broker, ORDER, now)
        wait_for(lambda: orders.find_one({"_id": ORDER, "status": "offered"}))
        for action, payload in (("accept", {}), ("contact", {}), ("appointment", {
                "start": "2099-01-01T10:00:00+08:00", "end": "2099-01-01T12:00:00+08:00"}),
                ("check-in", {})):
            rpc.dispatch.step(ORDER, action, payload, TECH)
    return orders


def test_a_visit_left_unfinished_books_the_order_again_and_keeps_the_first_arrival(
        on_site, settings):
    orders = on_site
    first = orders.find_one({"_id": ORDER})
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        left = rpc.dispatch.step(ORDER, "leave", {"outcome": "customer_absent",
                                                  "note": "客户不在家"}, TECH)
        assert left["status"] == "scheduled"
        assert left["visits"][0]["outcome"] == "customer_absent"
        assert left["visits"][0]["left_at"] is not None
        again = rpc.dispatch.step(ORDER, "check-in", {}, TECH)
    assert [visit["n"] for visit in again["visits"]] == [1, 2]
    assert again["visits"][1]["left_at"] is None
    stored = orders.find_one({"_id": ORDER})
    assert stored["milestones"]["arrival"] == first["milestones"]["arrival"]
    entry = next(e for e in stored["timeline"] if e["step"] == "left")
    assert entry["details"]["cause"] == "customer" and entry["details"]["visit"] == 1


@pytest.mark.parametrize(("actor", "payload", "error"), [
    (TECH, {"outcome": "parts"}, "InvalidInput"),  # parts: the wait-parts step
    (TECH, {"outcome": "customer_absent", "extra": True}, "InvalidInput"),
    ({**TECH, "technician_id": "IT-OTHER"}, {"outcome": "customer_absent"}, "Forbidden"),
    ({"role": "dispatcher", "branch": "SZ"}, {"outcome": "customer_absent"}, "NotFound"),
])
def test_a_refused_leave_changes_nothing(on_site, settings, actor, payload, error):
    orders = on_site
    before = orders.find_one({"_id": ORDER})
    with ClusterRpcProxy(settings, timeout=15) as rpc, pytest.raises(RemoteError) as refused:
        rpc.dispatch.step(ORDER, "leave", payload, actor)
    assert refused.value.exc_type == error
    assert orders.find_one({"_id": ORDER})["version"] == before["version"]


def test_leaving_an_order_no_longer_on_site_is_a_conflict(on_site, settings):
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        rpc.dispatch.step(ORDER, "leave", {"outcome": "special_tool"}, TECH)
        with pytest.raises(RemoteError) as refused:
            rpc.dispatch.step(ORDER, "leave", {"outcome": "special_tool"}, TECH)
    assert refused.value.exc_type == "Conflict"


def test_an_exchange_requested_opens_one_escalation_however_often_it_comes(
        on_site, settings, broker):
    """The event as cannot_fix writes it (the step also asks billing, which this test does
    not run), delivered three times."""
    orders = on_site
    orders.update_one({"_id": ORDER}, {"$set": {"status": "completed"}})
    event = new_event("exchange_requested", "dispatch", "SH", {
        "order_id": ORDER, "technician_id": "IT-V1",
        "completion": {"cannot_fix": True, "remedy": "exchange", "diagnosis": "内胆漏水"}},
        datetime.now(UTC))
    _publish(broker, "dispatch", event, times=3)
    escalated = wait_for(lambda: orders.find_one({"_id": ORDER, "escalation.status": "open"}))
    assert escalated["escalation"]["remedy"] == "exchange"
    assert escalated["escalation"]["event_id"] == event["event_id"]
    eventlet.sleep(1.5)
    timeline = orders.find_one({"_id": ORDER})["timeline"]
    assert [e["step"] for e in timeline].count("exchange_requested") == 1
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        listed = rpc.dispatch.list_orders({"escalation": "open"}, "SH")
        other = rpc.dispatch.list_orders({"escalation": "open"}, "SZ")
    assert [order["order_id"] for order in listed["items"]] == [ORDER]
    assert listed["items"][0]["escalation"]["kind"] == "exchange_or_refund"
    assert other["items"] == []


def test_cannot_fix_publishes_the_exchange_request_its_consumer_turns_into_an_escalation(
        on_site, start_service, settings):
    """The whole path through the outbox: billing runs so the completion's check is
    answered (an in-warranty repair owes nothing)."""
    from services.billing.service import BillingService

    start_service(BillingService)
    orders = on_site
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        done = rpc.dispatch.step(ORDER, "complete", {
            "cannot_fix": True, "remedy": "refund", "diagnosis": "主板烧毁",
            "fault_code": "E9", "warranty": "in_warranty"}, TECH)
    assert done["status"] == "completed" and done["visits"][-1]["outcome"] == "cannot_fix"
    escalated = wait_for(lambda: orders.find_one({"_id": ORDER, "escalation.status": "open"}))
    assert escalated["escalation"]["remedy"] == "refund"
    assert escalated["escalation"]["reason"] == "主板烧毁"
