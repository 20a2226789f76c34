"""Dispatch's handling of inventory's parts events against the real store: a shortage
pauses the order, the arrival resumes it first in line with the deadline moved by the
pause, redeliveries and out-of-order news change nothing."""

import uuid
from datetime import UTC, datetime, timedelta

from schemas.orders import CompleteIn
from services.common.clock import as_utc
from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Actor, Dispatcher
from services.dispatch.store import DispatchStore, ensure_indexes

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _dispatcher(db, now):
    uow = UnitOfWork("dispatch", now, now + timedelta(seconds=15))
    return Dispatcher(DispatchStore(db), load_reference("deploy/config/reference.yaml"), uow,
                      timedelta(minutes=15))


def _on_site_order(db) -> str:
    store = DispatchStore(db)
    store.insert_technician({"_id": "IT-P", "branch": "SH", "name": "钱工",
                             "certificates": ["refrigeration"], "zones": ["intensive"],
                             "lat": 31.23, "lon": 121.48, "shift": "always", "cap": 3})
    order_id = "SH-20261120-000077"
    _dispatcher(db, START).create_from_event({
        "order_id": order_id, "branch": "SH", "zone": "intensive", "region_code": "310101",
        "lat": 31.23, "lon": 121.48, "request_type": "repair", "priority": "normal",
        "priority_reasons": [], "received_at": START, "product": {"category":
                                                                   "air_conditioner"},
        "customer": {}, "deadlines": {"resolution": (START + timedelta(hours=24)).isoformat()}})
    for action, payload in (("accept", {}), ("contact", {}),
                            ("check-in", {"confirmed_by_customer": True})):
        _dispatcher(db, START).step(order_id, action, payload, Actor("dispatcher", "SH"))
    return order_id


def test_shortage_pauses_and_arrival_resumes_with_priority(mongo, db_prefix):
    db = mongo[f"{db_prefix}_dispatch"]
    ensure_indexes(db)
    order_id = _on_site_order(db)
    eta = START + timedelta(days=3)
    short = {"order_id": order_id, "shortage_id": "S-2", "eta": eta,
             "parts": [{"sku": "AC-COMP-01", "quantity": 1}], "awaited_from": "supplier"}
    # News of an earlier shortage whose parts came in first: nothing pauses.
    assert _dispatcher(db, START).parts_arrived(uuid.uuid4().hex, {**short,
                                                                   "shortage_id": "S-1"})
    assert _dispatcher(db, START).parts_short(uuid.uuid4().hex, {**short, "shortage_id": "S-1"})
    assert db.orders.find_one({"_id": order_id})["status"] == "on_site"

    event_id = uuid.uuid4().hex
    assert _dispatcher(db, START).parts_short(event_id, short)
    assert not _dispatcher(db, START).parts_short(event_id, short)  # redelivered
    order = db.orders.find_one({"_id": order_id})
    assert order["status"] == "waiting_parts" and as_utc(order["waiting_for"]["expected_at"]) \
        == eta
    assert "resolution" not in order.get("sweep_at", {})  # the clock is paused

    later = START + timedelta(hours=30)
    arrived = uuid.uuid4().hex
    assert _dispatcher(db, later).parts_arrived(arrived, short)
    assert not _dispatcher(db, later).parts_arrived(arrived, short)
    order = db.orders.find_one({"_id": order_id})
    assert order["status"] == "scheduled" and order["priority"] == "high"
    assert as_utc(order["deadlines"]["resolution"]) == START + timedelta(hours=24 + 30)
    assert order["paused_seconds"] == 30 * 3600
    assert [e["step"] for e in order["timeline"]].count("parts_short") == 2

    # Completed an hour after the parts came in: the resolution's parts time is the
    # supplier's (the shortage's slowest line was a backorder).
    done = START + timedelta(hours=31)
    for action, payload in (("check-in", {"confirmed_by_customer": True}),
                            ("complete", CompleteIn().load({
                                "diagnosis": "压缩机损坏", "fault_code": "E5",
                                "repair_done": "更换压缩机", "warranty": "in_warranty"}))):
        _dispatcher(db, done).step(order_id, action, payload, Actor("dispatcher", "SH"))
    resolution = db.orders.find_one({"_id": order_id})["milestones"]["resolution"]
    assert resolution["parts_from"] == {"supplier": 30 * 3600.0}
    assert resolution["ledger"]["parts"] == 30 * 3600.0
