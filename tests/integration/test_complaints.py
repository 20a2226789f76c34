"""The complaints service alone, on the real broker and store: complaints opened from
callbacks and intake (linked, once), deadlines swept up the escalation ladder with each
breach counted once, repeats, penalties, resolutions, reopening and the report. Every
triggering event is delivered twice."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.messaging import event_exchange, subscription_queue
from services.common.outbox import new_event
from services.common.routes import SUBSCRIPTIONS, Subscription
from services.complaints.service import ComplaintsService
from tests.conftest import free_port
from tests.integration.conftest import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)
ORDER = "SH-20261118-000007"
# Consumers of events nobody in this tree consumes yet (billing takes refund requests in
# its own branch): probes, so the test sees what the service publishes.
PROBES = [Subscription("complaints", kind, "probe", f"on_{kind}")
          for kind in ("complaint_opened", "complaint_escalated", "refund_requested")]
RESERVICE = next(s for s in SUBSCRIPTIONS if s.event_type == "reservice_requested")


class Clocks:
    """The fixed clocks of every replica, moved together."""

    def __init__(self, containers) -> None:
        self.clocks = []
        for container in containers:
            provider = next(d for d in container.dependencies
                            if isinstance(d, ClockProvider))
            provider.clock = FixedClock(FRIDAY)
            self.clocks.append(provider.clock)

    def set(self, at: datetime) -> None:
        for clock in self.clocks:
            clock.set(at)


@pytest.fixture
def complaints(start_service, settings):
    """Two replicas of the service (their sweepers race for the same deadlines)."""
    SUBSCRIPTIONS.extend(PROBES)
    try:
        containers = [start_service(ComplaintsService),
                      start_service(ComplaintsService,
                                    WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")]
        settings["replica_addresses"] = [c.config["WEB_SERVER_ADDRESS"] for c in containers]
        yield containers, Clocks(containers)
    finally:
        for probe in PROBES:
            SUBSCRIPTIONS.remove(probe)


def _publish_twice(broker, source: str, kind: str, data: dict) -> None:
    event = new_event(kind, source, "SH", data, FRIDAY - timedelta(hours=1))
    producer = broker.Producer(serializer="json")
    for _ in range(2):  # a redelivery must change nothing
        producer.publish(event, exchange=event_exchange(source), routing_key=kind)


def _relayed(db, complaint_id: str) -> None:
    """Every event of the complaint is published and marked sent: nothing more can come."""
    wait_for(lambda: db.complaints.find_one({"_id": complaint_id, "outbox": []}))


def _drain(broker, sub: Subscription) -> list[dict]:
    """The distinct events waiting in a consumer's queue. Publishing is at least once (an
    event whose sent mark was not written is sent again after its lease, and consumers
    drop it by id), so "once" means one event id."""
    queue = subscription_queue(sub)(broker.default_channel)
    found: dict[str, dict] = {}
    while (message := queue.get(no_ack=True)) is not None:
        found.setdefault(message.payload["event_id"], message.payload)
    return list(found.values())


def _metric(settings, name: str, **labels) -> float:
    """The sum over both replicas."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for address in settings["replica_addresses"]:
        text = requests.get(f"http://{address}/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + "{") and all(label in line for label in wanted):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_unhappy_callback_opens_one_linked_complaint_and_missed_deadlines_escalate(
        complaints, settings, broker, mongo):
    """Two replicas consume and sweep; each consequence still happens once."""
    _, clocks = complaints
    db = mongo[f"{settings['db_prefix']}_complaints"]
    _publish_twice(broker, "dispatch", "order_completed", {
        "order_id": ORDER, "technician_id": "SH-T01", "serial_number": "GWH-9",
        "completion": {"completed_at": (FRIDAY - timedelta(days=2)).isoformat()}})
    wait_for(lambda: db.completions.find_one({"_id": ORDER}))
    _publish_twice(broker, "callbacks", "callback_done", {
        "order_id": ORDER, "task_id": "CB-OK", "outcome": "satisfied", "satisfaction": 5})
    _publish_twice(broker, "callbacks", "callback_done", {
        "order_id": ORDER, "task_id": "CB-1", "outcome": "dissatisfied", "reached": True,
        "fixed": True, "on_time": True, "attitude": 1, "satisfaction": 2})
    case = wait_for(lambda: db.complaints.find_one({"source_refs": "callback:CB-1"}))
    assert case["order_ids"] == [ORDER] and case["technician_id"] == "SH-T01"
    assert case["category"] == "attitude" and case["channel"] == "callback"
    assert case["deadlines"]["complaint_ack"] == FRIDAY + timedelta(hours=24)
    assert case["deadlines"]["complaint_investigation"] == datetime(2026, 11, 25, 16, 0,
                                                                    tzinfo=SHANGHAI)
    # The customer also calls intake about the same unit: linked to the case, not new.
    _publish_twice(broker, "intake", "complaint_received", {
        "order_id": "SH-20261120-000011", "channel": "hotline", "description": "师傅态度差",
        "customer": {"name": "周女士", "phone": "13911112222", "address": "徐汇区1号"},
        "product": {"category": "gas_water_heater", "serial_number": "GWH-9"}})
    wait_for(lambda: db.received.find_one({"complaint_id": case["_id"]}))
    assert db.complaints.count_documents({}) == 1

    clocks.set(FRIDAY + timedelta(hours=24, minutes=1))  # acknowledgement missed
    wait_for(lambda: db.complaints.find_one({"_id": case["_id"],
                                          "escalation_level": "supervisor"}))
    clocks.set(datetime(2026, 11, 25, 16, 1, tzinfo=SHANGHAI))  # investigation missed
    done = wait_for(lambda: db.complaints.find_one({"_id": case["_id"],
                                                 "escalation_level": "hq"}))
    assert [e["level"] for e in done["escalations"]] == ["supervisor", "hq"]
    assert done["milestones"]["complaint_ack"]["outcome"] == "breached"
    assert done["severity"] == "high" and len(done["repeats"]) == 1  # the intake call, once
    assert sorted(done["source_refs"]) == ["callback:CB-1", "intake:SH-20261120-000011"]
    _relayed(db, case["_id"])
    opened = _drain(broker, PROBES[0])
    escalated = _drain(broker, PROBES[1])
    assert [e["data"]["complaint_id"] for e in opened] == [case["_id"]]
    assert opened[0]["data"]["order_ids"] == [ORDER]
    assert [e["data"]["level"] for e in escalated] == ["supervisor", "hq"]
    for milestone in ("complaint_ack", "complaint_investigation"):
        assert _metric(settings, "aftersales_milestone_breached_total",
                       milestone=milestone) == 1
    assert _metric(settings, "aftersales_complaint_escalations_total", level="hq") == 1
    assert _metric(settings, "aftersales_complaints_opened_total", channel="callback") == 1
    # Late acknowledgement: the breach was counted at the deadline, not again now.
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.complaints.step(case["_id"], "acknowledge", {}, {"role": "supervisor",
                                                            "branch": "SH"})
    assert _metric(settings, "aftersales_milestone_breached_total",
                   milestone="complaint_ack") == 1
    assert _metric(settings, "aftersales_milestone_met_total", milestone="complaint_ack") == 0


def _customer() -> dict:
    return {"name": "陈先生", "phone": "13800001234", "address": "黄浦区南京东路1号"}


def test_handler_flow_repeat_penalty_resolutions_reopen_and_report(
        complaints, settings, broker, mongo):
    _, clocks = complaints
    db = mongo[f"{settings['db_prefix']}_complaints"]
    _publish_twice(broker, "dispatch", "order_completed", {
        "order_id": ORDER, "technician_id": "SH-T02", "serial_number": "AC-1",
        "completion": {"completed_at": FRIDAY.isoformat()}})
    wait_for(lambda: db.completions.find_one({"_id": ORDER}))
    handler = {"role": "complaint_handler", "branch": "SH"}
    body = {"channel": "hotline", "category": "repair_quality", "description": "修了又坏",
            "customer": _customer(), "order_ids": [ORDER], "reference": "call-1"}
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        first = rpc.complaints.open_complaint(body, "SH")
        again = rpc.complaints.open_complaint(body, "SH")  # a retried call
        repeat = rpc.complaints.open_complaint(
            {**body, "channel": "12315", "above_branch": True, "reference": "call-2"}, "SH")
        with pytest.raises(RemoteError) as bad:
            rpc.complaints.open_complaint({**body, "category": "rudeness"}, "SH")
        with pytest.raises(RemoteError) as elsewhere:
            rpc.complaints.get_complaint(first["complaint_id"], "SZ")
        cid = first["complaint_id"]
        step = rpc.complaints.step
        step(cid, "acknowledge", {"note": "已致电客户"}, handler)
        concluded = step(cid, "conclude", {"findings": "漏装密封圈",
                                           "responsibility": "technician"}, handler)
        resolved = step(cid, "resolve", {"kind": "reservice"}, handler)
        with pytest.raises(RemoteError) as illegal:
            step(cid, "resolve", {"kind": "reservice"}, handler)
        reopened = step(cid, "confirm", {"satisfied": False, "comment": "还是漏水"}, handler)
        step(cid, "conclude", {"findings": "配件质量", "responsibility": "technician"},
             handler)
        refund = step(cid, "resolve", {"kind": "refund", "amount": "199.995"}, handler)
        closed = step(cid, "confirm", {"satisfied": True}, handler)
        report = rpc.complaints.report({"month": "2026-11"}, "SH")
    assert first["created"] and not again["created"] and not repeat["created"]
    assert first["complaint_id"] == again["complaint_id"] == repeat["complaint_id"]
    assert first["technician_id"] == "SH-T02" and first["severity"] == "medium"
    assert repeat["severity"] == "high" and len(repeat["repeats"]) == 1
    assert repeat["escalation_level"] == "hq" and repeat["above_branch"]
    assert bad.value.exc_type == "InvalidInput" and elsewhere.value.exc_type == "NotFound"
    assert illegal.value.exc_type == "Conflict"
    assert concluded["penalties"][0] | {"at": None} == {
        "party": "technician", "party_id": "SH-T02", "points": 3, "at": None}
    assert resolved["resolution"]["order_id"] == ORDER
    assert reopened["status"] == "acknowledged" and reopened["reopened"] == 1
    assert reopened["history"][0]["investigation"]["findings"] == "漏装密封圈"
    assert refund["resolution"]["amount_fen"] == 20000
    assert closed["status"] == "closed" and len(closed["penalties"]) == 1
    assert report["completed_orders"] == 1 and report["service_responsibility_complaints"] == 1
    assert report["complaint_rate"] == 1.0 and not report["meets_target"]
    assert report["by_category"] == {"repair_quality": 1}
    assert report["penalty_points"] == {"technician": 3}
    clocks.set(FRIDAY + timedelta(minutes=1))  # past the writers' relay leases
    _relayed(db, cid)
    reservice = _drain(broker, RESERVICE)
    assert [(e["data"]["complaint_id"], e["data"]["order_id"]) for e in reservice] == [
        (cid, ORDER)]
    refunds = _drain(broker, PROBES[2])
    assert [(e["data"]["remedy"], e["data"]["amount_fen"]) for e in refunds] == [
        ("refund", 20000)]
    assert [e["data"]["reason"] for e in _drain(broker, PROBES[1])] == ["customer"]
    assert _metric(settings, "aftersales_complaint_penalty_points_total",
                   party="technician") == 3
    assert _metric(settings, "aftersales_milestone_met_total",
                   milestone="complaint_investigation") == 2
    # Closed: the matter is free again, a new complaint about it is a new case.
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        later = rpc.complaints.open_complaint({**body, "reference": "call-3"}, "SH")
    assert later["created"] and later["complaint_id"] != cid


def test_a_client_reference_is_unique_within_its_branch_only(complaints, settings):
    """Two branches' call centres may pick the same reference: each opens its own case,
    and a retry in either finds its own."""
    body = {"channel": "hotline", "category": "charges", "description": "多收费",
            "customer": _customer(), "reference": "ticket-0001"}
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        sh = rpc.complaints.open_complaint({**body, "order_ids": [ORDER]}, "SH")
        sz = rpc.complaints.open_complaint(
            {**body, "order_ids": ["SZ-20261118-000007"]}, "SZ")
        sz_again = rpc.complaints.open_complaint(
            {**body, "order_ids": ["SZ-20261118-000007"]}, "SZ")
    assert sh["created"] and sz["created"] and not sz_again["created"]
    assert (sh["branch"], sz["branch"]) == ("SH", "SZ")
    assert sz_again["complaint_id"] == sz["complaint_id"] != sh["complaint_id"]
