"""Billing alone on the real broker and store: bills from completion events, every
abnormal-charge rule on a crafted case and not on a clean one, and the races (two
payments for one bill, two settlement runs for one month) across two replicas."""

import time
from datetime import UTC, datetime

import eventlet
import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.billing.domain.schedule import LOCAL_TZ
from services.billing.service import BillingService
from services.billing.store import BillingStore
from services.common.base import ClockProvider
from services.common.clock import FixedClock
from services.common.messaging import event_exchange
from services.common.outbox import new_event
from tests.conftest import free_port

SH = "SH"
TECH = {"role": "technician", "branch": SH, "technician_id": "SH-T05"}


def _clock(container, at: datetime) -> FixedClock:
    provider = next(d for d in container.dependencies if isinstance(d, ClockProvider))
    provider.clock = FixedClock(at)
    return provider.clock


class Feed:
    """Publishes other services' events as they would arrive."""

    def __init__(self, broker):
        self.producer = broker.Producer(serializer="json")

    def send(self, source: str, kind: str, data: dict, at: datetime | None = None) -> dict:
        event = new_event(kind, source, SH, data, at or datetime.now(UTC))
        self.resend(event)
        return event

    def resend(self, event: dict) -> None:
        self.producer.publish(event, exchange=event_exchange(event["source"]),
                              routing_key=event["type"])

    def order(self, order_id: str, warranty: str, category: str = "gas_water_heater") -> None:
        now = datetime.now(UTC)
        self.send("intake", "order_created", {
            "order_id": order_id, "branch": SH, "zone": "intensive", "region_code": "310101",
            "lat": 31.23, "lon": 121.48, "request_type": "repair", "priority": "normal",
            "received_at": now.isoformat(), "deadlines": {},
            "product": {"category": category, "serial_number": f"SN-{order_id}"},
            "customer": {"name": "x"}, "warranty": {"status": warranty}})

    def completed(self, order_id: str, warranty: str, cause: str = "quality_failure",
                  parts=(("GWH-IGN-01", 1),), distance="0.0", centre=None,
                  at: datetime | None = None) -> dict:
        at = at or datetime.now(UTC)
        parts_used = [{"sku": sku, "quantity": qty} for sku, qty in parts]
        facts = {"category": "gas_water_heater", "region_code": "310101", "zone": "intensive",
                 "request_type": "repair", "warranty": warranty, "cause": cause,
                 "repair_code": "IGN", "cannot_fix": False, "parts_used": parts_used,
                 "distance_km": distance, "fault_code": "E1",
                 "serial_number": f"SN-{order_id}"}
        return self.send("dispatch", "order_completed", {
            "order_id": order_id, "technician_id": "SH-T05", "service_centre_id": centre,
            "completion": {"completed_at": at.isoformat(), "parts_used": parts_used},
            "billing": facts})


def _until(probe, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        eventlet.sleep(0.1)
    raise AssertionError("condition never met")


@pytest.fixture
def billing(start_service, settings, broker, mongo):
    container = start_service(BillingService)
    db = mongo[f"{settings['db_prefix']}_billing"]
    return container, db, Feed(broker)


def _status(result) -> str:
    """An error's type, or the resource's status."""
    return result if isinstance(result, str) else result["status"]


def _quote(rpc, order_id: str, **extra) -> dict:
    body = {"order_id": order_id, "fault_code": "E1", "cause": "wear", "repair_code": "IGN",
            "parts": [{"sku": "GWH-IGN-01", "quantity": 1}], **extra}
    quote = rpc.billing.create_quote(body, SH, TECH)
    return rpc.billing.approve_quote(quote["quote_id"], {"approved_by": "王先生",
                                                         "method": "signature"}, SH, TECH)


def test_each_anomaly_rule_fires_on_a_crafted_case_and_not_on_a_clean_one(billing, settings):
    container, db, feed = billing
    clock = _clock(container, datetime(2025, 12, 20, 2, 0, tzinfo=UTC))
    for order_id, warranty in (("SH-20251220-000001", "out_of_warranty"),
                               ("SH-20251220-000002", "in_warranty"),
                               ("SH-20251220-000003", "out_of_warranty"),
                               ("SH-20251220-000004", "out_of_warranty")):
        feed.order(order_id, warranty)
    clean, covered, crafted, old = (f"SH-20251220-00000{n}" for n in range(1, 5))
    _until(lambda: db.orders.count_documents({}) == 4)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        old_quote = _quote(rpc, old, distance_km=65)   # priced under the 2025.1 schedule
        assert old_quote["schedule_version"] == "2025.1"
        january = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)   # completed under 2026.1 too
        clock.set(january)
        quote = _quote(rpc, clean, distance_km=65)
        assert quote["schedule_version"] == "2026.1" and quote["total_fen"] == 17500
        _quote(rpc, covered, cause="customer_damage")  # the customer agreed to pay...
        first = feed.completed(clean, "out_of_warranty", cause="wear", distance="65.0",
                               at=january)
        feed.resend(first)                             # a redelivery changes nothing
        feed.completed(covered, "in_warranty", at=january)  # ...for work the rules cover
        for _ in range(2):                             # never approved, and billed again
            feed.completed(crafted, "out_of_warranty", cause="wear", at=january)
        feed.completed(old, "out_of_warranty", cause="wear", distance="65.0", at=january)
        _until(lambda: db.bills.count_documents({}) == 4)
        feed.send("inventory", "parts_consumed", {"order_id": clean, "lines": [
            {"sku": "GWH-IGN-01", "quantity": 1}]})
        feed.send("inventory", "parts_consumed", {"order_id": crafted, "lines": [
            {"sku": "THERM-01", "quantity": 1}]})
        bill = rpc.billing.get_bill(f"BILL-{clean}", SH, TECH)
        assert bill["total_fen"] == 17500 and bill["quote_id"] == quote["quote_id"]
        paid = rpc.billing.pay_bill(bill["bill_id"], {"method": "mobile",
                                                      "amount_fen": 17500}, SH, TECH)
        assert paid["status"] == "paid" and paid["payment"]["receipt_no"]
        feed.send("callbacks", "callback_done", {"order_id": clean, "fixed": True,
                                                 "satisfaction": 5, "paid_fen": 17500,
                                                 "paid_differs": False})
        feed.send("callbacks", "callback_done", {"order_id": crafted, "fixed": True,
                                                 "satisfaction": 5, "paid_fen": 30000,
                                                 "paid_differs": True})
    expected = {covered: {"charge_on_covered"},
                crafted: {"no_approval", "duplicate_bill", "parts_not_consumed",
                          "consumed_not_billed", "paid_differs"},
                old: {"off_schedule", "no_approval"}}

    def found():
        rules: dict[str, set] = {}
        for doc in db.anomalies.find():
            rules.setdefault(doc["order_id"], set()).add(doc["rule"])
        return rules if rules == expected else None

    _until(found)
    eventlet.sleep(0.5)  # the clean order's callback and consumption were handled too
    assert found() == expected and db.bills.count_documents({"order_id": clean}) == 1
    assert db.bills.find_one({"order_id": clean})["callback"]["paid_fen"] == 17500
    assert db.bills.find_one({"order_id": covered})["warranty_claim"]["amount_fen"] == 10500
    metrics = requests.get(f"http://{settings['WEB_SERVER_ADDRESS']}/metrics", timeout=5).text
    assert 'aftersales_charge_anomalies_total{branch="SH",rule="no_approval"} 2.0' in metrics
    assert 'aftersales_bills_total{branch="SH",coverage="full"} 1.0' in metrics


def test_races_two_payments_one_bill_and_two_settlement_runs_one_month(start_service,
                                                                        settings, broker,
                                                                        mongo):
    replicas = [start_service(BillingService),
                start_service(BillingService, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")]
    db = mongo[f"{settings['db_prefix']}_billing"]
    feed = Feed(broker)
    orders = [f"SH-20261101-00000{n}" for n in range(1, 4)]
    for order_id in orders:
        feed.order(order_id, "in_warranty")
    _until(lambda: db.orders.count_documents({}) == 3)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        _quote(rpc, orders[0], cause="customer_damage")
    feed.completed(orders[0], "in_warranty", cause="customer_damage")
    for order_id in orders[1:]:  # covered work of a service centre: earnings
        feed.completed(order_id, "in_warranty", centre="SC-SH-01",
                       at=datetime(2026, 11, 10, tzinfo=UTC))
    _until(lambda: db.earnings.count_documents({}) == 2)
    for order_id in orders[1:]:
        feed.send("callbacks", "callback_done", {"order_id": order_id, "fixed": True,
                                                 "satisfaction": 5, "paid_fen": 0})
    _until(lambda: db.earnings.count_documents({"state": "released"}) == 2)
    for replica in replicas:  # released in November (UTC+8)
        _clock(replica, datetime(2026, 11, 20, tzinfo=UTC))
    db.earnings.update_many({}, {"$set": {"released_at": datetime(2026, 11, 20, tzinfo=UTC)}})
    bill_id = f"BILL-{orders[0]}"
    total = db.bills.find_one({"_id": bill_id})["total_fen"]

    def attempt(call, *args):
        with ClusterRpcProxy(settings, timeout=10) as rpc:
            try:
                return getattr(rpc.billing, call)(*args)
            except RemoteError as exc:
                return exc.exc_type

    pool = eventlet.GreenPool()
    pays = [pool.spawn(attempt, "pay_bill", bill_id, {"method": "cash", "amount_fen": total},
                       SH, TECH) for _ in range(2)]
    runs = [pool.spawn(attempt, "run_settlement", {"month": "2026-11"}, SH) for _ in range(2)]
    pool.waitall()
    assert sorted(_status(p.wait()) for p in pays) == ["Conflict", "paid"]
    assert [[s["statement_id"] for s in r.wait()["items"]] for r in runs] == [
        ["ST-SH-SC-SH-01-2026-11"]] * 2
    assert db.bills.find_one({"_id": bill_id})["payment"]["amount_fen"] == total
    assert db.statements.count_documents({}) == 1
    statement = db.statements.find_one()
    assert statement["status"] == "issued" and statement["orders"] == 2
    assert statement["total_fen"] == 2 * 7000  # scheduled IGN labour, tier 1, 2026.1
    assert db.earnings.count_documents({"statement_id": statement["_id"]}) == 2
    again = attempt("run_settlement", {"month": "2026-11"}, SH)
    assert [s["total_fen"] for s in again["items"]] == [14000]
    paid = [pool.spawn(attempt, "pay_statement", statement["_id"], SH) for _ in range(2)]
    pool.waitall()
    assert sorted(_status(p.wait()) for p in paid) == ["Conflict", "paid"]
    assert db.earnings.count_documents({"state": "paid"}) == 2
    assert attempt("pay_bill", bill_id, {"method": "cash", "amount_fen": 1}, SH,
                   TECH) == "InvalidInput"
    # Inventory never reported consuming the parts billed on the November orders: once
    # the grace period is over, the sweeper of one replica flags each of them once.
    _until(lambda: db.anomalies.count_documents({"rule": "parts_not_consumed"}) == 2)
    assert {a["order_id"] for a in db.anomalies.find()} == set(orders[1:])


def test_a_repeat_fault_is_read_from_the_branchs_own_bills(mongo, db_prefix):
    """Free labour for a repeat of the same fault on the same unit: another branch's bill
    for a unit of the same serial neither counts nor shows through the price."""
    store = BillingStore(mongo[f"{db_prefix}_billing"])
    done = datetime(2026, 11, 10, tzinfo=UTC)
    store.bills.insert_one({"_id": "BILL-SZ-20261101-000001", "branch": "SZ",
                            "order_id": "SZ-20261101-000001", "serial_number": "GWH-77",
                            "fault_code": "E1", "completed_at": done})
    since = done.replace(day=1)
    assert store.recent_same_fault("GWH-77", "E1", since, "SZ-20261120-000002", "SZ")
    assert not store.recent_same_fault("GWH-77", "E1", since, "SH-20261120-000002", "SH")


def test_a_reviewer_decides_an_earning_held_after_its_callback(billing, settings):
    """Held after an unreachable callback: a refused decision changes nothing, another
    branch sees no earning, the decision is kept with who, when and why, made once
    however often it is asked (or raced), and the statement pays what was decided."""
    container, db, feed = billing
    orders = [f"SH-20261202-00070{n}" for n in range(1, 5)]
    for order_id in orders:
        feed.order(order_id, "in_warranty")
    _until(lambda: db.orders.count_documents({}) == 4)
    for order_id in orders:
        feed.completed(order_id, "in_warranty", centre="SC-SH-01")
    _until(lambda: db.earnings.count_documents({}) == 4)
    reduced, withheld, raced, unverified = orders
    for order_id, outcome in ((reduced, "unreachable"), (withheld, "neutral"),
                              (raced, "unreachable")):
        feed.send("callbacks", "callback_done", {"order_id": order_id, "outcome": outcome,
                                                 "reached": outcome != "unreachable",
                                                 "fixed": None, "satisfaction": 3})
    _until(lambda: db.earnings.count_documents({"review": {"$nin": [None, ""]}}) == 3)
    finance = {"role": "finance", "branch": SH}
    supervisor = {"role": "supervisor", "branch": SH}
    held = db.earnings.find_one({"_id": reduced})
    assert held["state"] == "pending" and held["amount_fen"] == 7000  # IGN labour, tier 1

    def review(order_id: str, body: dict, actor: dict, branch: str = SH):
        with ClusterRpcProxy(settings, timeout=10) as rpc:
            try:
                return rpc.billing.review_earning(order_id, body, branch, actor)
            except RemoteError as exc:
                return exc.exc_type

    with ClusterRpcProxy(settings, timeout=10) as rpc:
        listed = rpc.billing.list_earnings({"held": "true"}, SH)
    assert sorted(e["order_id"] for e in listed["items"]) == sorted(orders[:3])
    before = list(db.earnings.find(sort=[("_id", 1)]))
    assert review(reduced, {"action": "reduce", "amount_fen": 7001, "reason": "超出"},
                  finance) == "InvalidInput"
    assert review(reduced, {"action": "release"}, finance) == "InvalidInput"   # no reason
    assert review(unverified, {"action": "release", "reason": "未回访"},
                  finance) == "Conflict"                                       # not held
    assert review(reduced, {"action": "release", "reason": "x1"}, {"role": "finance",
                  "branch": "SZ"}, "SZ") == "NotFound"                          # SZ's view
    assert list(db.earnings.find(sort=[("_id", 1)])) == before                  # unchanged

    body = {"action": "reduce", "amount_fen": 3500, "reason": "照片只显示清洁 / cleaning only"}
    first = review(reduced, body, finance)
    assert first["state"] == "released" and first["amount_fen"] == 3500
    assert first["decision"]["by"] == "finance@SH" and first["decision"]["held_fen"] == 7000
    assert first["decision"]["reason"] == body["reason"] and first["decision"]["at"]
    assert review(reduced, body, finance) == first                              # idempotent
    assert review(reduced, {"action": "withhold", "reason": "改判"}, supervisor) == "Conflict"
    assert db.earnings.find_one({"_id": reduced})["amount_fen"] == 3500

    assert review(withheld, {"action": "withhold", "reason": "客户不满意，返修"},
                  supervisor)["state"] == "withheld"

    pool = eventlet.GreenPool()
    racing = [pool.spawn(review, raced, {"action": action, "reason": "并发"}, who)
              for action, who in (("release", finance), ("withhold", supervisor))]
    pool.waitall()
    outcomes = sorted(r.wait() if isinstance(r.wait(), str) else r.wait()["state"]
                      for r in racing)
    assert outcomes in (["Conflict", "released"], ["Conflict", "withheld"])
    decided = db.earnings.find_one({"_id": raced})
    assert decided["decision"]["action"] in ("release", "withhold")

    with ClusterRpcProxy(settings, timeout=10) as rpc:
        assert rpc.billing.list_earnings({"held": "true"}, SH)["total"] == 0
    month = datetime.now(UTC).astimezone(LOCAL_TZ).strftime("%Y-%m")
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        statements = rpc.billing.run_settlement({"month": month}, SH)["items"]
    expected = 3500 + (7000 if decided["state"] == "released" else 0)
    assert [s["total_fen"] for s in statements] == [expected]
    assert db.earnings.find_one({"_id": withheld})["state"] == "withheld"
    metrics = requests.get(f"http://{settings['WEB_SERVER_ADDRESS']}/metrics", timeout=5).text
    assert 'aftersales_settlement_amount_fen_total{branch="SH",state="withheld"}' in metrics
