"""The customer file, end to end: a first call makes the customer and the unit, the agent
finds them by the first digits of the phone, a second call for the unit shows in its
history, and another branch sees none of it."""

import time
import uuid

from tests.e2e.conftest import request_body


def _phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def _history_says(api, customer_id: str, order_id: str, status: str,
                  seconds: float = 20) -> None:
    """Intake learns of the cancellation from dispatch's event, a moment later."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        detail = api.get(f"/api/v1/customers/{customer_id}", "agent").json()
        if any(h["order_id"] == order_id and h["status"] == status
               for unit in detail["units"] for h in unit["history"]):
            return
        time.sleep(0.3)
    raise AssertionError(f"{order_id} never {status} in the history: {detail}")


def test_a_first_call_makes_the_customer_and_the_agent_finds_them_by_phone(api):
    phone, serial = _phone(), f"SN{uuid.uuid4().hex[:10].upper()}"
    first = api.post("/api/v1/requests", request_body(
        customer__phone=phone, product__serial_number=serial, product__series="F9",
        call_id=f"CALL-{uuid.uuid4().hex[:8]}"), "agent")
    assert first.status_code == 201, first.text
    order_id = first.json()["order_id"]

    found = api.get("/api/v1/customers", "agent", params={"phone": phone[:7]})
    assert found.status_code == 200, found.text
    mine = [c for c in found.json()["items"] if order_id in {
        r["order_id"] for r in c["open_requests"]}]
    assert len(mine) == 1, found.json()
    customer = mine[0]
    assert customer["phones"] == [f"{phone[:3]}****{phone[-4:]}"]  # masked, as lists are
    assert "南京东路100号" not in str(customer)
    assert [(u["serial_number"], u["series"], u["order_ids"]) for u in customer["units"]] == [
        (serial, "F9", [order_id])]

    # The unit's second call (another matter once the first is done): its history.
    cancelled = api.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "客户取消"},
                         "dispatcher")
    assert cancelled.status_code == 200, cancelled.text
    _history_says(api, customer["customer_id"], order_id, "cancelled")
    second = api.post("/api/v1/requests", request_body(
        customer__phone=phone, product__serial_number=serial, request_type="maintenance",
        description="年度保养"), "agent")
    assert second.status_code == 201, second.text
    detail = api.get(f"/api/v1/customers/{customer['customer_id']}", "agent")
    assert detail.status_code == 200, detail.text
    unit = detail.json()["units"][0]
    assert [h["order_id"] for h in unit["history"]] == [second.json()["order_id"], order_id]
    assert unit["history"][0]["description"] == "年度保养"
    assert detail.json()["phones"] == [phone]  # the customer's own resource

    added = api.post(f"/api/v1/customers/{customer['customer_id']}/phones",
                     {"phone": "021-64871234"}, "agent")
    assert added.status_code == 200, added.text
    assert added.json()["phones"] == [phone, "02164871234"]


def test_another_branch_finds_nothing_and_bad_searches_are_422_in_chinese(api):
    phone = _phone()
    assert api.post("/api/v1/requests", request_body(customer__phone=phone),
                    "agent").status_code == 201
    sz = api.get("/api/v1/customers", "demo-agent-sz", params={"phone": phone})
    assert sz.status_code == 200 and sz.json() == {"items": []}
    for typed in ("13912", "abc1234567", '{"$gt": ""}'):
        refused = api.get("/api/v1/customers", "agent", params={"phone": typed})
        assert refused.status_code == 422, (typed, refused.text)
        assert refused.json()["fields"]["phone"]
    missing = api.get("/api/v1/customers", "agent")
    assert missing.status_code == 422 and "请输入" in str(missing.json()["fields"])
    unknown = api.get("/api/v1/customers/CU-SH-20200101-000001", "agent")
    assert unknown.status_code == 404
    foreign = api.get("/api/v1/customers/CU-SZ-20200101-000001", "agent")
    assert foreign.status_code == 404
    technician = api.get("/api/v1/customers", "tech1", params={"phone": phone})
    assert technician.status_code == 403
