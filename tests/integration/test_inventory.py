"""Inventory on the real broker and store: the reservation race with two replicas,
consumption on completion (once, whatever the redeliveries), bad input refused with the
ledger unchanged."""

import uuid
from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from kombu import Exchange
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.outbox import new_event
from services.inventory.keeper import read_gauges
from services.inventory.service import InventoryService
from services.inventory.settings import load_catalogue
from services.inventory.store import InventoryStore
from tests.conftest import free_port
from tests.integration.conftest import wait_for

DISPATCH_EVENTS = Exchange("dispatch.events", type="topic", durable=True)


def _replica(start_service):
    return start_service(InventoryService, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")


def _order_id() -> str:
    return f"SH-20261120-{uuid.uuid4().int % 10**6:06d}"


def _stock_doc(mongo, settings, location, sku):
    return mongo[f"{settings['db_prefix']}_inventory"].stock.find_one(
        {"_id": f"{location}|{sku}"})


def _assert_ledger_matches(doc):
    """The counters equal the sum of the ledger's entries."""
    assert doc["on_hand"] == sum(e["on_hand"] for e in doc["ledger"])
    assert doc["reserved"] == sum(e["reserved"] for e in doc["ledger"])
    assert doc["available"] == doc["on_hand"] - doc["reserved"] >= 0


def test_hundred_reservations_for_ten_parts_on_two_replicas(start_service, settings, mongo):
    _replica(start_service)
    _replica(start_service)
    with ClusterRpcProxy(settings, timeout=30) as rpc:
        rpc.inventory.stock_command("receive", {"location": "SH-WH", "sku": "RH-MOT-01",
                                                "accepted": 10}, "SH", "warehouse@SH")

        replies = [rpc.inventory.stock_command.call_async("reserve", {
            "location": "SH-WH", "sku": "RH-MOT-01", "quantity": 1,
            "order_id": _order_id()}, "SH", "dispatcher@SH") for _ in range(100)]
        outcomes = []
        for reply in replies:  # all 100 are in flight at once, spread over both replicas
            try:
                outcomes.append(reply.result()["reserved"] >= 1)
            except RemoteError as exc:
                assert exc.exc_type == "Conflict", exc
                outcomes.append(False)
    assert outcomes.count(True) == 10
    doc = _stock_doc(mongo, settings, "SH-WH", "RH-MOT-01")
    assert (doc["on_hand"], doc["reserved"], doc["available"]) == (10, 10, 0)
    assert sum(e["kind"] == "reserve" for e in doc["ledger"]) == 10
    _assert_ledger_matches(doc)


def _publish_completion(broker, order_id, parts_used, returned, event_id=None):
    event = new_event("order_completed", "dispatch", "SH", {
        "order_id": order_id, "technician_id": "SH-T01", "serial_number": "GWH-9",
        "completion": {"diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "换点火针",
                       "parts_used": parts_used, "old_parts_returned": returned,
                       "cannot_fix": False, "completed_at": "2026-11-20T10:00:00+00:00"}},
        datetime.now(UTC))
    if event_id:
        event["event_id"] = event_id
    broker.Producer().publish(event, exchange=DISPATCH_EVENTS, routing_key="order_completed",
                              serializer="json", declare=[DISPATCH_EVENTS])
    return event


def test_completion_consumes_what_it_reports_once_and_tracks_old_parts(
        start_service, settings, mongo, broker):
    _replica(start_service)
    order_id = _order_id()
    db = mongo[f"{settings['db_prefix']}_inventory"]
    with ClusterRpcProxy(settings, timeout=30) as rpc:
        rpc.inventory.stock_command("receive", {"location": "SH-VAN-T01", "sku": "GWH-IGN-01",
                                                "accepted": 3}, "SH", "warehouse@SH")
        job = rpc.inventory.request_parts(
            {"order_id": order_id, "branch": "SH", "status": "on_site",
             "technician_id": "SH-T01", "product": {"category": "gas_water_heater"}},
            {"parts": [{"sku": "GWH-IGN-01", "quantity": 2}]}, "SH-T01")
        assert [line["state"] for line in job["lines"]] == ["reserved"]
        event = _publish_completion(broker, order_id, [{"sku": "GWH-IGN-01", "quantity": 1}],
                                    [])
        _publish_completion(broker, order_id, [{"sku": "GWH-IGN-01", "quantity": 1}], [],
                            event_id=event["event_id"])  # a redelivery
        wait_for(lambda: (db.jobs.find_one({"_id": order_id}) or {}).get("consumption"))
        eventlet.sleep(0.5)  # let the duplicate arrive too
        job = rpc.inventory.job(order_id, "SH")
        assert job["consumption"]["lines"] == [{"sku": "GWH-IGN-01", "quantity": 1}]
        assert job["consumption"]["released"][0]["quantity"] == 1  # held 2, used 1
        doc = _stock_doc(mongo, settings, "SH-VAN-T01", "GWH-IGN-01")
        assert (doc["on_hand"], doc["reserved"]) == (2, 0)
        _assert_ledger_matches(doc)
        writeoffs = rpc.inventory.listing("writeoffs", {"status": "open"}, "SH")["items"]
        assert [w["order_id"] for w in writeoffs] == [order_id]  # no old part yet: open
        with pytest.raises(RemoteError) as over:
            rpc.inventory.return_old_part(order_id, {"sku": "GWH-IGN-01", "quantity": 2},
                                          "SH", "SH-T01")
        assert over.value.exc_type == "InvalidInput"
        month_later = datetime.now(UTC) + timedelta(days=31)
        store = InventoryStore(db)
        assert read_gauges(store, load_catalogue({}), ["SH"], month_later).writeoffs_overdue \
            == {"SH": 1}
        done = rpc.inventory.return_old_part(order_id, {"sku": "GWH-IGN-01", "quantity": 1},
                                             "SH", "SH-T01")
        assert done["status"] == "written_off" and done["outstanding"] == 0
        assert read_gauges(store, load_catalogue({}), ["SH"], month_later).writeoffs_overdue \
            == {"SH": 0}


def test_part_from_the_warehouse_travels_to_the_van_then_the_job_has_it(start_service,
                                                                          settings, mongo):
    _replica(start_service)
    order_id = _order_id()
    order = {"order_id": order_id, "branch": "SH", "status": "on_site",
             "technician_id": "SH-T02", "product": {"category": "gas_water_heater"}}
    with ClusterRpcProxy(settings, timeout=30) as rpc:
        assert rpc.inventory.load_opening_stock("SH") > 0
        assert rpc.inventory.load_opening_stock("SH") == 0  # received once only
        job = rpc.inventory.request_parts(order, {"parts": [
            {"sku": "GWH-VLV-01", "quantity": 1}]}, "SH-T02")
        line = job["lines"][0]
        assert (line["state"], line["location"]) == ("in_transfer", "SH-WH")
        assert [s["open"] for s in job["shortages"].values()] == [True]
        rpc.inventory.transfer_step(line["transfer_id"], "send", "SH", "warehouse@SH")
        rpc.inventory.transfer_step(line["transfer_id"], "receive", "SH", "SH-T02")
        job = rpc.inventory.job(order_id, "SH")
        with pytest.raises(RemoteError) as twice:
            rpc.inventory.transfer_step(line["transfer_id"], "receive", "SH", "SH-T02")
    assert twice.value.exc_type == "Conflict"
    assert (job["lines"][0]["state"], job["lines"][0]["location"]) == ("reserved",
                                                                       "SH-VAN-T02")
    assert [s["open"] for s in job["shortages"].values()] == [False]
    warehouse = _stock_doc(mongo, settings, "SH-WH", "GWH-VLV-01")
    van = _stock_doc(mongo, settings, "SH-VAN-T02", "GWH-VLV-01")
    assert (warehouse["on_hand"], warehouse["reserved"]) == (11, 0)
    assert (van["on_hand"], van["reserved"], van["res"][order_id]) == (1, 1, 1)
    for doc in (warehouse, van):
        _assert_ledger_matches(doc)


BAD_INPUT = [
    ("receive", {"location": "SH-WH", "sku": "RC-01", "accepted": -3}, "accepted"),
    ("receive", {"location": "SH-WH", "sku": "NOPE-1", "accepted": 3}, "sku"),
    ("receive", {"location": "SH-WH", "sku": "RC-01", "accepted": 3, "price": "1.00"},
     "price"),
    ("reserve", {"location": "SH-WH", "sku": "RC-01", "quantity": 0,
                 "order_id": "SH-20261120-000001"}, "quantity"),
    ("request", {"kind": "scrap", "location": "SH-WH", "sku": "RC-01", "quantity": 1.5,
                 "reason": "坏"}, "quantity"),
]


def test_bad_input_is_refused_and_the_ledger_is_unchanged(start_service, settings, mongo):
    _replica(start_service)
    with ClusterRpcProxy(settings, timeout=30) as rpc:
        rpc.inventory.stock_command("receive", {"location": "SH-WH", "sku": "RC-01",
                                                "accepted": 4}, "SH", "warehouse@SH")
        before = _stock_doc(mongo, settings, "SH-WH", "RC-01")
        for command, payload, field in BAD_INPUT:
            with pytest.raises(RemoteError) as bad:
                rpc.inventory.stock_command(command, payload, "SH", "warehouse@SH")
            assert bad.value.exc_type == "InvalidInput" and field in bad.value.value
        with pytest.raises(RemoteError) as other_branch:
            rpc.inventory.stock_command("receive", {"location": "SZ-WH", "sku": "RC-01",
                                                    "accepted": 1}, "SH", "warehouse@SH")
        with pytest.raises(RemoteError) as too_many:
            rpc.inventory.stock_command("reserve", {"location": "SH-WH", "sku": "RC-01",
                                                    "quantity": 5,
                                                    "order_id": "SH-20261120-000001"},
                                        "SH", "warehouse@SH")
    assert other_branch.value.exc_type == "NotFound"
    assert too_many.value.exc_type == "Conflict"
    assert _stock_doc(mongo, settings, "SH-WH", "RC-01") == before
