"""Money through HTTP: a covered repair costs nothing and is claimed, a chargeable one
is quoted, approved, billed from the schedule and paid once; no approval, no completion."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import request_body

SHANGHAI = ZoneInfo("Asia/Shanghai")
FINANCE, FINANCE_SZ, AUDITOR = "demo-finance-sh", "demo-finance-sz", "demo-hq-auditor-sh"


def _on_site(api, purchase_date: str, centre: str | None = None) -> str:
    """A gas water heater order, with a technician (of service centre ``centre``) on site:
    this test's own, assigned by the dispatcher when the offer went to a free technician
    another test registered nearby (the centre's pay is checked on it)."""
    tech_id = api.technician(["gas"], lat=31.2317, lon=121.4846, service_centre_id=centre)
    body = request_body(product__category="gas_water_heater", product__model="JSQ25",
                        product__purchase_date=purchase_date, description="不点火 no ignition")
    order_id = api.post("/api/v1/requests", body, "agent").json()["order_id"]
    offered = api.wait_order(order_id, lambda o: o["status"] == "offered")
    taken = ("accept", {}) if offered["offer"]["technician_id"] == tech_id else (
        "assign", {"technician_id": tech_id})
    now = datetime.now(SHANGHAI)
    for action, payload in (taken, ("contact", {}),
                            ("appointment", {"start": now.isoformat(),
                                             "end": (now + timedelta(hours=1)).isoformat()}),
                            ("check-in", {})):
        response = api.post(f"/api/v1/orders/{order_id}/{action}", payload)
        assert response.status_code == 200, (action, response.text)
    return order_id


def _bill(api, order_id: str, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = api.get("/api/v1/bills", FINANCE, params={"order_id": order_id}).json()["items"]
        if items:
            return items[0]
        time.sleep(0.2)
    raise AssertionError(f"no bill for {order_id}")


def test_gas_water_heater_in_warranty_with_a_quality_failure_costs_nothing(api):
    order_id = _on_site(api, "2026-06-01")
    done = api.post(f"/api/v1/orders/{order_id}/complete", {
        "diagnosis": "热交换器漏水", "fault_code": "E5", "repair_done": "更换热交换器",
        "cause": "quality_failure", "repair_code": "HEX",
        "parts_used": [{"sku": "GWH-HEX-01", "quantity": 1}]})
    assert done.status_code == 200, done.text
    bill = _bill(api, order_id)
    assert bill["total_fen"] == 0 and bill["coverage"] == "full" and bill["status"] == "settled"
    assert bill["warranty_claim"] == {"amount_fen": 15000 + 42000, "status": "open"}
    assert {line["coverage"] for line in bill["lines"]} == {"warranty"}
    claims = api.get("/api/v1/bills", AUDITOR, params={"claims": "true"}).json()["items"]
    assert order_id in {b["order_id"] for b in claims}
    assert api.get(f"/api/v1/bills/{bill['bill_id']}", FINANCE_SZ).status_code == 404


def test_out_of_warranty_is_quoted_approved_billed_from_the_schedule_and_paid_once(api):
    order_id = _on_site(api, "2020-01-01")
    # The part comes from stock, reserved for the job, so the bill and the inventory agree
    # (a part billed but never taken from stock would be an anomaly).
    received = api.post("/api/v1/stock/receipts", {"location": "SH-WH", "sku": "GWH-IGN-01",
                                                   "accepted": 1}, "demo-warehouse-sh")
    assert received.status_code == 201, received.text
    asked = api.post(f"/api/v1/orders/{order_id}/parts-request",
                     {"parts": [{"sku": "GWH-IGN-01", "quantity": 1}]})
    assert asked.status_code == 200 and asked.json()["lines"][0]["state"] == "reserved", \
        asked.text
    completion = {"diagnosis": "点火针老化", "fault_code": "E1", "repair_done": "更换点火针",
                  "cause": "wear", "repair_code": "IGN", "distance_km": 65,
                  "parts_used": [{"sku": "GWH-IGN-01", "quantity": 1}]}
    refused = api.post(f"/api/v1/orders/{order_id}/complete", completion)
    assert refused.status_code == 409, refused.text
    assert api.order(order_id)["status"] == "on_site"
    priced = api.post("/api/v1/quotes", {"order_id": order_id, "fault_code": "E1",
                                         "cause": "wear", "repair_code": "IGN",
                                         "unit_price": 1, "distance_km": 65})
    assert priced.status_code == 422 and "unit_price" in priced.json()["fields"]
    unknown = api.post("/api/v1/quotes", {"order_id": order_id, "fault_code": "E1",
                                          "cause": "wear", "parts": [{"sku": "NO-SUCH",
                                                                      "quantity": 1}]})
    assert unknown.status_code == 422 and "parts" in unknown.json()["fields"]
    quote = api.post("/api/v1/quotes", {"order_id": order_id, "fault_code": "E1",
                                        "cause": "wear", "repair_code": "IGN",
                                        "parts": [{"sku": "GWH-IGN-01", "quantity": 1}],
                                        "distance_km": 65})
    assert quote.status_code == 201, quote.text
    quote = quote.json()
    # Labour (tier-1 city) + the part at cost price (2026.2: 只收成本费) + 35 km beyond
    # the 30 km free radius.
    assert {line["item"]: line["amount_fen"] for line in quote["lines"]} == {
        "labour": 7000, "part": 1250, "remote": 35 * 200}
    approved = api.post(f"/api/v1/quotes/{quote['quote_id']}/approve",
                        {"approved_by": "王先生", "method": "signature"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    more = dict(completion, parts_used=[{"sku": "GWH-IGN-01", "quantity": 2}])
    assert api.post(f"/api/v1/orders/{order_id}/complete", more).status_code == 409
    done = api.post(f"/api/v1/orders/{order_id}/complete", completion)
    assert done.status_code == 200, done.text
    bill = _bill(api, order_id)
    assert bill["total_fen"] == 15250 and bill["quote_id"] == quote["quote_id"]
    assert bill["schedule_version"] == "2026.2" and bill["status"] == "open"
    pay = f"/api/v1/bills/{bill['bill_id']}/payments"
    assert api.post(pay, {"method": "cash", "amount_fen": 15000}, FINANCE).status_code == 422
    assert api.post(pay, {"method": "cash", "amount_fen": 15250}, FINANCE).status_code == 200
    assert api.post(pay, {"method": "cash", "amount_fen": 15250}, FINANCE).status_code == 409
    assert api.get("/api/v1/charge-anomalies", "tech1").status_code == 403
    flagged = api.get("/api/v1/charge-anomalies", AUDITOR,
                      params={"order_id": order_id}).json()
    assert flagged["total"] == 0, flagged
    assert "aftersales_bills_total" in api.scrape("billing")
