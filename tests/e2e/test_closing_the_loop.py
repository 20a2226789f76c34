"""Across every service, through HTTP: a repair is billed, the customer is called back,
and the answer closes the order and releases the service centre's pay — or, when the
customer says they paid more than the bill, opens a complaint and a charge anomaly."""

import time
import uuid
from zoneinfo import ZoneInfo

from tests.e2e.test_billing import _bill, _on_site

SHANGHAI = ZoneInfo("Asia/Shanghai")
FINANCE, AUDITOR = "demo-finance-sh", "demo-hq-auditor-sh"
CALLBACK, HANDLER = "demo-callback-sh", "demo-complaints-sh"


def _until(fetch, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = fetch()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


def _earning(api, centre: str, state: str) -> dict:
    return _until(lambda: api.get("/api/v1/settlement/earnings", FINANCE, params={
        "service_centre_id": centre, "state": state}).json()["items"],
        f"an earning of {centre} in state {state}")[0]


def _callback(api, order_id: str, answers: dict) -> dict:
    task_id = f"CB-{order_id}"
    _until(lambda: api.get(f"/api/v1/callbacks/tasks/{task_id}", CALLBACK).status_code == 200,
           f"the callback task of {order_id}")
    claimed = api.post(f"/api/v1/callbacks/tasks/{task_id}/claim", {}, CALLBACK)
    assert claimed.status_code == 200, claimed.text
    done = api.post(f"/api/v1/callbacks/tasks/{task_id}/call", answers, CALLBACK)
    assert done.status_code == 200, done.text
    return done.json()


def test_satisfied_callback_closes_the_order_and_releases_the_centres_pay(api):
    centre = f"SC-{uuid.uuid4().hex[:6]}"
    order_id = _on_site(api, "2026-06-01", centre)  # in warranty
    done = api.post(f"/api/v1/orders/{order_id}/complete", {
        "diagnosis": "点火器故障", "fault_code": "E1", "repair_done": "调整点火器",
        "cause": "quality_failure", "repair_code": "IGN"})
    assert done.status_code == 200, done.text
    bill = _bill(api, order_id)
    assert bill["total_fen"] == 0 and bill["status"] == "settled"
    assert _earning(api, centre, "pending")["amount_fen"] > 0  # held until verified
    _callback(api, order_id, {"reached": True, "fixed": True, "on_time": True,
                              "attitude": 5, "satisfaction": 5, "paid": "0.00"})
    closed = api.wait_order(order_id, lambda o: o["status"] == "closed")
    assert closed["closure"]["verified"] is True
    released = _earning(api, centre, "released")
    assert released["order_id"] == order_id
    assert api.get("/api/v1/complaints", HANDLER, params={"order_id": order_id}).json()[
        "total"] == 0


def test_customer_paying_more_than_the_bill_opens_a_complaint_and_an_anomaly(api):
    centre = f"SC-{uuid.uuid4().hex[:6]}"
    order_id = _on_site(api, "2020-01-01", centre)  # long out of warranty
    quote = api.post("/api/v1/quotes", {"order_id": order_id, "fault_code": "E1",
                                        "cause": "wear", "repair_code": "IGN"})
    assert quote.status_code == 201, quote.text
    approved = api.post(f"/api/v1/quotes/{quote.json()['quote_id']}/approve",
                        {"approved_by": "王先生", "method": "signature"})
    assert approved.status_code == 200, approved.text
    done = api.post(f"/api/v1/orders/{order_id}/complete", {
        "diagnosis": "点火针老化", "fault_code": "E1", "repair_done": "清理点火针",
        "cause": "wear", "repair_code": "IGN"})
    assert done.status_code == 200, done.text
    bill = _bill(api, order_id)
    paid = api.post(f"/api/v1/bills/{bill['bill_id']}/payments",
                    {"method": "cash", "amount_fen": bill["total_fen"]}, FINANCE)
    assert paid.status_code == 200, paid.text
    overpaid = f"{bill['total_fen'] / 100 + 50:.2f}"  # 50 yuan more than the bill
    _callback(api, order_id, {"reached": True, "fixed": True, "on_time": True,
                              "attitude": 4, "satisfaction": 4, "paid": overpaid})
    complaint = _until(lambda: api.get("/api/v1/complaints", HANDLER, params={
        "order_id": order_id}).json()["items"], "a complaint about the charge")
    assert len(complaint) == 1 and complaint[0]["category"] == "charges"
    anomalies = _until(lambda: api.get("/api/v1/charge-anomalies", AUDITOR, params={
        "order_id": order_id, "rule": "paid_differs"}).json()["items"], "a paid_differs anomaly")
    assert len(anomalies) == 1


def test_dissatisfied_customer_gets_a_linked_complaint_and_the_order_stays_open(api):
    centre = f"SC-{uuid.uuid4().hex[:6]}"
    order_id = _on_site(api, "2026-06-01", centre)
    done = api.post(f"/api/v1/orders/{order_id}/complete", {
        "diagnosis": "点火器故障", "fault_code": "E1", "repair_done": "调整点火器",
        "cause": "quality_failure", "repair_code": "IGN"})
    assert done.status_code == 200, done.text
    _callback(api, order_id, {"reached": True, "fixed": True, "on_time": False,
                              "attitude": 2, "satisfaction": 2, "paid": "0.00"})
    complaint = _until(lambda: api.get("/api/v1/complaints", HANDLER, params={
        "order_id": order_id}).json()["items"], "a complaint from the callback")
    assert len(complaint) == 1 and complaint[0]["channel"] == "callback"
    # The complaint shows on the order, and the order is not closed as verified.
    order = api.wait_order(order_id, lambda o: any(
        e["step"] == "complaint_opened" for e in o["timeline"]))
    assert order["status"] == "completed"
    assert _earning(api, centre, "pending")["order_id"] == order_id  # pay held
