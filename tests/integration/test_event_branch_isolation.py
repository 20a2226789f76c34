"""Branch isolation on the event paths, with every service running on the real broker and
store: for every subscription, an SH event naming SZ objects is dead-lettered with the
cross-branch reason by every consumer, and nothing is written anywhere. The same event of
the right branch does reach the objects, so the test can see a write when one happens."""

from datetime import UTC, datetime

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.billing.service import BillingService
from services.callbacks.service import CallbacksService
from services.common.messaging import (
    event_exchange,
)
from services.common.outbox import new_event
from services.common.routes import SUBSCRIPTIONS
from services.complaints.service import ComplaintsService
from services.dispatch.service import DispatchService
from services.intake.service import IntakeService
from services.inventory.service import InventoryService
from tests.integration.conftest import drain_dead_letters, wait_for

SERVICES = (IntakeService, DispatchService, InventoryService, BillingService,
            CallbacksService, ComplaintsService)
REFUSED = "跨分支拒绝 / cross-branch refused"
# Fields that timers rewrite on their own (leases, sweep marks, the outbox's sent marks):
# seen changing between two snapshots with no traffic at all.
VOLATILE = {"outbox", "outbox_due", "outbox_lease", "lease_until", "sweep_at", "claimed_by",
            "claimed_until", "ran_at", "holder", "until", "at", "checked_at"}


def _request() -> dict:
    return {"customer": {"name": "陈先生", "phone": "13900002222", "address": "南山区科技园1号",
                         "region_code": "440305"},
            "product": {"category": "gas_water_heater", "serial_number": "GWH-SZ-1",
                        "purchase_date": "2025-05-10"},
            "request_type": "repair", "description": "不出热水", "channel": "hotline"}


def _attack_data(order_id: str, event_type: str) -> dict:
    """What the event would say about the other branch's order: every reference a
    consumer of it reads, each naming SZ objects, valid in every other respect."""
    complaint_id = "CP-SZ-20261202-0001"
    return {"order_id": order_id, "order_ids": [order_id], "complaint_id": complaint_id,
            "task_id": f"CB-{order_id}", "bill_id": f"BILL-{order_id}",
            "branch": "SH" if event_type == "order_created" else None,
            "category": "attitude", "severity": "normal", "level": "hq", "kind": "refund",
            "remedy": "refund", "amount_fen": 100_000_00, "outcome": "not_fixed",
            "satisfaction": 1, "fixed": False, "reached": True,
            "lines": [{"sku": "GWH-VALVE", "quantity": 1}],
            "completion": {"completed_at": datetime.now(UTC).isoformat()},
            "technician_id": "SZ-T01", "total_fen": 100, "paid_fen": 100}


def _snapshot(mongo, prefix: str) -> dict:
    """Every document of every service database, less the fields timers touch."""
    found = {}
    for service in SERVICES:
        db = mongo[f"{prefix}_{service.name}"]
        for collection in db.list_collection_names():
            for doc in db[collection].find():
                kept = {key: value for key, value in doc.items() if key not in VOLATILE}
                found[(service.name, collection, str(doc["_id"]))] = repr(sorted(
                    kept.items(), key=lambda item: item[0]))
    return found


def _quiet_snapshot(mongo, prefix: str) -> dict:
    """A snapshot that stays the same for two seconds: the system has settled."""
    last = _snapshot(mongo, prefix)
    for _ in range(20):
        eventlet.sleep(2)
        now = _snapshot(mongo, prefix)
        if now == last:
            return now
        last = now
    raise AssertionError("the databases never settled")


@pytest.fixture
def system(start_service, settings):
    for service in SERVICES:
        start_service(service)
    with ClusterRpcProxy(settings, timeout=15) as rpc:
        order = rpc.intake.create_request(_request(), None)
    return order["order_id"]


def test_every_consumer_refuses_an_event_naming_another_branchs_objects(
        system, settings, broker, mongo):
    sz_order = system
    assert sz_order.startswith("SZ-")
    prefix = settings["db_prefix"]
    wait_for(lambda: mongo[f"{prefix}_dispatch"].orders.find_one({"_id": sz_order}))
    wait_for(lambda: mongo[f"{prefix}_billing"].orders.find_one({"_id": sz_order}))
    before = _quiet_snapshot(mongo, prefix)
    for service in SERVICES:  # only this test's letters count
        drain_dead_letters(broker, service.name)

    sent: dict[str, str] = {}
    producer = broker.Producer(serializer="json")
    for event_type, source in sorted({(s.event_type, s.source) for s in SUBSCRIPTIONS}):
        event = new_event(event_type, source, "SH", _attack_data(sz_order, event_type),
                          datetime.now(UTC))
        sent[event["event_id"]] = event_type
        producer.publish(event, exchange=event_exchange(source), routing_key=event_type)

    expected = {(s.service, s.event_type) for s in SUBSCRIPTIONS}
    refused: dict[tuple[str, str], str] = {}

    def all_refused() -> bool:
        for service in SERVICES:
            for message in drain_dead_letters(broker, service.name):
                event_type = sent.get(message.payload.get("event_id"))
                if event_type is not None:
                    refused[(service.name, event_type)] = message.headers["x-failure-reason"]
        return expected <= set(refused)

    try:
        wait_for(all_refused, seconds=60)
    except AssertionError:
        pytest.fail(f"not refused: {sorted(expected - set(refused))}")
    for (service, event_type), reason in refused.items():
        assert reason.startswith(REFUSED), (service, event_type, reason)
        assert sz_order in reason
    after = _quiet_snapshot(mongo, prefix)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert not changed, f"written by a refused event: {sorted(changed)}"


def test_an_event_of_a_branch_this_deployment_does_not_serve_is_refused(
        start_service, settings, broker, mongo):
    start_service(DispatchService)
    event = new_event("order_created", "intake", "GZ", {"order_id": "GZ-20261202-000001"},
                      datetime.now(UTC))
    drain_dead_letters(broker, "dispatch")
    broker.Producer(serializer="json").publish(
        event, exchange=event_exchange("intake"), routing_key="order_created")
    letters = wait_for(lambda: drain_dead_letters(broker, "dispatch"))
    assert "GZ is not served here" in letters[0].headers["x-failure-reason"]
    assert mongo[f"{settings['db_prefix']}_dispatch"].orders.count_documents({}) == 0


def test_the_same_event_of_the_right_branch_reaches_the_order(system, settings, broker,
                                                              mongo):
    """The control: were the check missing, the snapshot above would have seen this."""
    sz_order = system
    orders = mongo[f"{settings['db_prefix']}_dispatch"].orders
    wait_for(lambda: orders.find_one({"_id": sz_order}))
    event = new_event("complaint_opened", "complaints", "SZ",
                      {"complaint_id": "CP-SZ-20261202-0001", "order_ids": [sz_order],
                       "category": "attitude"}, datetime.now(UTC))
    broker.Producer(serializer="json").publish(
        event, exchange=event_exchange("complaints"), routing_key="complaint_opened")
    wait_for(lambda: orders.find_one({"_id": sz_order, "timeline.step": "complaint_opened"}))
