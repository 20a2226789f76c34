"""The callbacks service alone (and dispatch's closing handler) on the real broker and
store: tasks and consequences once under redelivery, atomic claims, the attempt ladder,
the commitment sweeper, HQ sampling, and schedules run once with two replicas."""

from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.callbacks.desk import CallbackDesk, Policy
from services.callbacks.service import CallbacksService
from services.callbacks.store import CallbackStore, ensure_indexes
from services.common.config import load_settings
from services.common.messaging import event_exchange, subscription_queue
from services.common.outbox import new_event
from services.common.reference import load_reference
from services.common.routes import SUBSCRIPTIONS
from services.common.unit_of_work import UnitOfWork
from services.dispatch.service import DispatchService
from tests.conftest import free_port
from tests.integration.conftest import wait_for
from tests.integration.test_services import _set_clock, _waiting

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DONE_FOR_DISPATCH = next(s for s in SUBSCRIPTIONS if s.event_type == "callback_done"
                         and s.service == "dispatch")


def _start(start_service, settings, **overrides):
    """A callbacks container that sweeps and refreshes its gauges every second."""
    fast = {**settings["callbacks"], "sweep_seconds": 1, "gauge_seconds": 1}
    return start_service(CallbacksService, callbacks=fast, **overrides)


def _completed(order_id: str, at: datetime = T0, **extra) -> dict:
    return {"order_id": order_id, "technician_id": "SH-T01", "serial_number": f"SN-{order_id}",
            "zone": "intensive", "request_type": "repair", "priority": "normal",
            "customer": {"name": "王先生", "phone": "13812345678", "address": "黄浦区南京东路1号",
                         "region_code": "310101"},
            "product": {"category": "air_conditioner", "serial_number": f"SN-{order_id}"},
            "completion": {"diagnosis": "缺氟", "fault_code": "E1", "repair_done": "加氟",
                           "completed_at": at.isoformat(), "cannot_fix": False}, **extra}


def _publish(broker, source: str, kind: str, data: dict, times: int = 2) -> dict:
    event = new_event(kind, source, "SH", data, T0)
    producer = broker.Producer(serializer="json")
    for _ in range(times):  # the same event again: a redelivery must change nothing
        producer.publish(event, exchange=event_exchange(source), routing_key=kind)
    return event


@pytest.fixture
def tasks(mongo, settings):
    return mongo[f"{settings['db_prefix']}_callbacks"].tasks


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_callbacks_consequences_attempts_and_commitment(start_service, settings, broker,
                                                        tasks):
    container = _start(start_service, settings)
    _consequences_once_under_redelivery(container, settings, broker, tasks)
    _unreachable_three_times_and_the_breach_counted_once(container, settings, broker, tasks)


def _consequences_once_under_redelivery(container, settings, broker, tasks):
    _set_clock(container, T0 + timedelta(hours=5))
    _publish(broker, "dispatch", "order_completed", _completed("SH-20261120-000001"))
    _publish(broker, "billing", "bill_settled", {"order_id": "SH-20261120-000001",
                                                 "bill_id": "B-1", "total_fen": 15000})
    task = wait_for(lambda: tasks.find_one({"_id": "CB-SH-20261120-000001"}))
    assert task["due_at"] == T0 + timedelta(hours=4)  # 4 h after completion
    assert task["deadline"] == T0 + timedelta(hours=72)  # the 72 h commitment
    db = tasks.database
    wait_for(lambda: db.bills.find_one({"_id": "SH-20261120-000001"}))
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        claimed = rpc.callbacks.claim_next("SH", "SH-CB01")
        assert claimed["task_id"] == task["_id"] and claimed["customer"]["phone"]
        with pytest.raises(RemoteError) as incomplete:
            rpc.callbacks.record_call(task["_id"], {"reached": True, "fixed": True}, "SH",
                                      "SH-CB01")
        assert incomplete.value.exc_type == "InvalidInput"
        done = rpc.callbacks.record_call(task["_id"], {
            "reached": True, "fixed": True, "on_time": True, "attitude": 5,
            "satisfaction": 2, "paid": "200.00", "comment": "多收了钱"}, "SH", "SH-CB01")
        with pytest.raises(RemoteError) as again:
            rpc.callbacks.record_call(task["_id"], {"reached": False}, "SH", "SH-CB01")
    assert again.value.exc_type == "Conflict"
    assert done["outcome"] == "dissatisfied" and done["paid_differs"]
    assert (done["paid"], done["billed"]) == ("200.00", "150.00")
    assert done["milestone"]["outcome"] == "met"
    _publish(broker, "dispatch", "order_completed", _completed("SH-20261120-000001"))
    events = wait_for(lambda: _waiting(broker, subscription_queue(DONE_FOR_DISPATCH)))
    eventlet.sleep(1.5)  # anything more would have been relayed by now
    events += _waiting(broker, subscription_queue(DONE_FOR_DISPATCH))
    assert len(events) == 1
    data = events[0]["data"]
    assert (data["outcome"], data["paid_fen"], data["billed_fen"], data["paid_differs"]) == \
        ("dissatisfied", 20000, 15000, True)
    assert tasks.count_documents({}) == 1 and tasks.find_one()["outbox"] == []
    # A complaint about the order: a second follow-up 7 days after the first, once.
    _publish(broker, "complaints", "complaint_opened", {
        "complaint_id": "CP-1", "order_ids": ["SH-20261120-000001"], "category": "charges"})
    second = wait_for(lambda: tasks.find_one({"_id": "CB2-SH-20261120-000001"}))
    assert second["status"] == "open" and second["reasons"] == ["complaint:CP-1"]
    assert second["due_at"] == T0 + timedelta(hours=5, days=7)
    metrics = next(d for d in container.dependencies if d.__class__.__name__ == "Metrics")
    wait_for(lambda: 'aftersales_callback_satisfaction_ratio{branch="SH"} 0.0' in
          metrics.handle.exposition()[2])


def _unreachable_three_times_and_the_breach_counted_once(container, settings, broker, tasks):
    clock = _set_clock(container, T0 + timedelta(hours=4))
    _publish(broker, "dispatch", "order_completed", _completed("SH-20261120-000002"))
    _publish(broker, "dispatch", "order_completed", _completed("SH-20261120-000003"))
    wait_for(lambda: tasks.count_documents({}) == 4)
    seen = []
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        for hours in (4, 24, 48):  # the planned calls: +4 h, next day, the day after
            clock.set(T0 + timedelta(hours=hours))
            task = rpc.callbacks.claim("CB-SH-20261120-000002", "SH", "SH-CB01")
            seen.append(rpc.callbacks.record_call(task["task_id"], {"reached": False}, "SH",
                                                  "SH-CB01"))
        clock.set(T0 + timedelta(hours=73))  # past the other task's deadline
        wait_for(lambda: tasks.find_one({"_id": "CB-SH-20261120-000003",
                                      "milestone.outcome": "breached"}))
        eventlet.sleep(2.5)  # another sweep: the breach must not be counted again
        late = rpc.callbacks.claim("CB-SH-20261120-000003", "SH", "SH-CB02")
        rpc.callbacks.record_call(late["task_id"], {
            "reached": True, "fixed": False, "on_time": False, "attitude": 3,
            "satisfaction": 3, "paid": "0"}, "SH", "SH-CB02")
    assert [t["status"] for t in seen] == ["open", "open", "done"]
    assert seen[0]["due_at"].startswith("2026-11-21T10:00")  # next day (+08:00)
    assert seen[-1]["outcome"] == "unreachable" and len(seen[-1]["attempts"]) == 3
    metrics = next(d for d in container.dependencies if d.__class__.__name__ == "Metrics")
    exposition = metrics.handle.exposition()[2]
    assert _metric(exposition, 'aftersales_milestone_breached_total{branch="SH"') == 1
    assert _metric(exposition, 'aftersales_milestone_met_total{branch="SH"') == 2
    assert _metric(exposition, 'aftersales_callbacks_completed_total{branch="SH",'
                                     'outcome="unreachable"}') == 1
    # The repeat repair asked for a second follow-up, 7 days after the first callback.
    second = wait_for(lambda: tasks.find_one({"_id": "CB2-SH-20261120-000003"}))
    assert second["status"] == "open" and second["reasons"] == ["repeat_repair"]
    assert second["due_at"] == T0 + timedelta(hours=73, days=7)


def _two_staff_never_get_the_same_task(settings, broker, tasks):
    """Three staff claim at once, through two replicas."""
    for n in range(6):
        _publish(broker, "dispatch", "order_completed",
                 _completed(f"SH-20261120-0001{n:02d}"), times=1)
    wait_for(lambda: tasks.count_documents({"kind": "first"}) == 6)

    def claim_all(staff: str) -> list[str]:
        got = []
        with ClusterRpcProxy(settings, timeout=20) as rpc:
            while (task := rpc.callbacks.claim_next("SH", staff)) is not None:
                got.append(task["task_id"])
        return got

    pool = eventlet.GreenPool()
    results = list(pool.imap(claim_all, ["SH-CB01", "SH-CB02", "SH-CB03"]))
    claimed = [task_id for got in results for task_id in got]
    due = [t["_id"] for t in tasks.find({"kind": "first", "due_at": {"$lte": datetime.now(UTC)}})]
    assert len(due) == 6 and sorted(claimed) == sorted(due)  # each exactly once
    holders = {t["_id"]: t["claim"]["by"] for t in tasks.find({"kind": "first"})}
    for staff, got in zip(["SH-CB01", "SH-CB02", "SH-CB03"], results, strict=True):
        assert all(holders[task_id] == staff for task_id in got)


def test_two_replicas_run_a_campaign_once_and_never_share_a_claim(start_service, settings,
                                                                 broker, tasks):
    _start(start_service, settings)
    _start(start_service, settings, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
    _two_staff_never_get_the_same_task(settings, broker, tasks)
    for n in range(4):
        _publish(broker, "dispatch", "order_completed",
                 _completed(f"SH-20261120-0002{n:02d}"), times=1)
    wait_for(lambda: tasks.database.units.count_documents({}) == 10)
    run_at = datetime.now(UTC) - timedelta(minutes=1)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.callbacks.create_schedule({
            "schedule_id": "AC-PRESUMMER", "kind": "campaign", "category": "air_conditioner",
            "first_run_at": run_at.isoformat(), "note": "夏季前空调检查"}, "SH")
        rpc.callbacks.create_schedule({
            "schedule_id": "MC-1", "kind": "maintenance_visit",
            "first_run_at": run_at.isoformat(),
            "customer": {"name": "李女士", "phone": "13700001111", "address": "徐汇区漕溪路1号"},
            "product": {"category": "gas_water_heater", "serial_number": "GWH-9"}}, "SH")
        with pytest.raises(RemoteError) as twice:
            rpc.callbacks.create_schedule({
                "schedule_id": "MC-1", "kind": "campaign", "category": "air_conditioner",
                "first_run_at": run_at.isoformat()}, "SH")
    assert twice.value.exc_type == "Conflict"
    schedules = tasks.database.schedules
    wait_for(lambda: schedules.count_documents({"runs": {"$gte": 1}}) == 2)
    eventlet.sleep(2.5)  # both replicas' timers have run again
    campaign = list(tasks.find({"schedule_id": "AC-PRESUMMER"}))
    assert len(campaign) == 10 and {t["kind"] for t in campaign} == {"campaign"}
    visits = list(tasks.find({"schedule_id": "MC-1"}))
    assert len(visits) == 1
    assert schedules.find_one({"_id": "AC-PRESUMMER"})["runs"] == 1
    monthly = schedules.find_one({"_id": "MC-1"})
    assert monthly["runs"] == 1 and monthly["next_run"].month == run_at.month % 12 + 1


def test_hq_sampling_rate_on_the_real_store(mongo, mongo_uri, db_prefix):
    """100 reached callbacks recorded through the desk: exactly 10 % sampled; HQ's
    contradicting answer is listed as a discrepancy. (No broker: the desk alone.)"""
    settings = load_settings(environ={"MONGO_URI": mongo_uri, "DB_PREFIX": db_prefix})
    db = mongo[f"{db_prefix}_callbacks"]
    ensure_indexes(db)
    reference = load_reference(settings["reference_data"])
    policy = Policy.from_settings(settings, reference.calendars["24x7"])
    now = T0 + timedelta(hours=5)
    desk = CallbackDesk(CallbackStore(db), reference, policy,
                        UnitOfWork("callbacks", now, now))
    for n in range(100):
        order_id = f"SH-20261120-0003{n:02d}"
        desk.task_from_completion({**_completed(order_id), "branch": "SH"})
        desk.claim(f"CB-{order_id}", "SH", "SH-CB01")
        desk.record(f"CB-{order_id}", "SH", "SH-CB01", {
            "reached": True, "fixed": True, "on_time": True, "attitude": 5,
            "satisfaction": 5, "paid": 0})
    sampled = list(db.tasks.find({"audit.state": "pending"}))
    assert len(sampled) == 10
    audited = desk.audit(sampled[0]["_id"], "SH", "HQ-A01", {
        "reached": True, "fixed": False, "on_time": True, "attitude": 5, "satisfaction": 1,
        "paid": 0})
    assert audited["audit"]["discrepancies"] == ["fixed", "satisfaction"]
    _, rates = desk.month_rates("SH")
    assert (rates.done, rates.audited, rates.audit_discrepancy) == (100, 1, 1.0)
    # The customer asks to be called tomorrow evening: that costs no attempt.
    desk.task_from_completion({**_completed("SH-20261120-000499"), "branch": "SH"})
    desk.claim("CB-SH-20261120-000499", "SH", "SH-CB01")
    evening = now + timedelta(hours=30)
    moved = desk.reschedule("CB-SH-20261120-000499", "SH", "SH-CB01", evening, "下班后再打")
    assert moved["due_at"] == evening and moved["attempts"] == []
    desk.claim("CB-SH-20261120-000499", "SH", "SH-CB01")
    tried = desk.record("CB-SH-20261120-000499", "SH", "SH-CB01", {"reached": False})
    assert tried["status"] == "open" and tried["due_at"] == evening + timedelta(hours=20)


def test_dispatch_closes_a_completed_order_once(start_service, settings, broker, mongo):
    start_service(DispatchService)
    orders = mongo[f"{settings['db_prefix']}_dispatch"].orders
    for order_id in ("SH-20261120-000401", "SH-20261120-000402", "SH-20261120-000403"):
        orders.insert_one({"_id": order_id, "branch": "SH", "status": "completed",
                           "version": 3, "timeline": [], "outbox": []})
    for order_id, outcome in (("SH-20261120-000401", "satisfied"),
                              ("SH-20261120-000402", "unreachable"),
                              ("SH-20261120-000403", "not_fixed")):
        _publish(broker, "callbacks", "callback_done", {
            "order_id": order_id, "task_id": f"CB-{order_id}", "outcome": outcome,
            "reached": outcome != "unreachable", "fixed": outcome == "satisfied"})
    wait_for(lambda: orders.count_documents({"timeline.step": {"$in": ["closed", "callback"]}})
          == 3)
    eventlet.sleep(1.5)  # the second copies have been consumed by now
    verified = orders.find_one({"_id": "SH-20261120-000401"})
    unverified = orders.find_one({"_id": "SH-20261120-000402"})
    stays = orders.find_one({"_id": "SH-20261120-000403"})
    assert verified["status"] == "closed" and verified["closure"]["verified"] is True
    assert unverified["status"] == "closed" and unverified["closure"]["verified"] is False
    assert stays["status"] == "completed"
    for order in (verified, unverified, stays):
        assert len(order["timeline"]) == 1 and order["version"] == 4
