"""Who may see and do what, and bad input turned into clear errors that change nothing."""

import concurrent.futures
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import request_body


def _order_count(api, token="dispatcher") -> int:
    return api.get("/api/v1/orders", token, params={"page_size": 1}).json()["total"]


def _ensure_sh_t01(api) -> None:
    body = {"technician_id": "SH-T01", "name": "张伟", "certificates": ["refrigeration"],
            "zones": ["intensive", "standard"], "lat": 31.23, "lon": 121.47,
            "shift": "always", "cap": 3}
    created = api.post("/api/v1/technicians", body)
    if created.status_code == 409:
        patched = api.call("PATCH", "/api/v1/technicians/SH-T01", json={"active": True})
        assert patched.status_code == 200, patched.text
    else:
        assert created.status_code == 201, created.text


def test_technician_acts_and_sees_only_own_orders(api):
    _ensure_sh_t01(api)
    order_id = api.post("/api/v1/requests", request_body(), "agent").json()["order_id"]
    api.wait_order(order_id, lambda o: (o.get("offer") or {}).get("technician_id") == "SH-T01")
    other = api.post(f"/api/v1/orders/{order_id}/accept", {}, "tech2")
    assert other.status_code == 403
    assert api.get(f"/api/v1/orders/{order_id}", "tech2").status_code == 404
    own = api.post(f"/api/v1/orders/{order_id}/accept", {}, "tech1")
    assert own.status_code == 200 and own.json()["status"] == "accepted"
    mine = api.get("/api/v1/orders", "tech1").json()["items"]
    assert mine and all(o["technician_id"] == "SH-T01" for o in mine)
    assert api.post(f"/api/v1/orders/{order_id}/assign", {"technician_id": "SH-T02"},
                    "tech1").status_code == 403


def test_branch_token_never_sees_another_branch(api):
    order_id = api.post("/api/v1/requests", request_body(), "agent").json()["order_id"]
    assert api.get(f"/api/v1/orders/{order_id}", "dispatcher_sz").status_code == 404
    sz_ids = {o["order_id"] for o in api.get("/api/v1/orders", "dispatcher_sz",
                                              params={"page_size": 100}).json()["items"]}
    assert order_id not in sz_ids
    cancel = api.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "x"}, "dispatcher_sz")
    assert cancel.status_code == 404
    # An SZ agent cannot file a request for a Shanghai region.
    wrong = api.post("/api/v1/requests", request_body(), "agent_sz")
    assert wrong.status_code == 422
    assert "customer" in wrong.json()["fields"]


def test_lists_mask_phone_and_address(api):
    body = request_body(customer__phone="13912345678")
    order_id = api.post("/api/v1/requests", body, "agent").json()["order_id"]
    listed = api.wait_listed(order_id)
    assert listed["customer"]["phone"] == "139****5678"
    assert "南京东路" not in listed["customer"]["address"]
    assert api.order(order_id)["customer"]["phone"] == "13912345678"  # the detail view


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
    {"Authorization": "Bearer"},
])
def test_missing_or_bad_token_is_401(api, headers):
    response = api.call("GET", "/api/v1/orders", None, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


BAD_BODIES = [
    ("unknown field", request_body(extra="x"), 422, "extra"),
    ("mongo operator key", {**request_body(), "$where": "1"}, 422, "$where"),
    ("operator as a value", request_body(customer__region_code={"$gt": ""}), 422, "customer"),
    ("bad phone", request_body(customer__phone="12345"), 422, "customer"),
    ("uncovered region", request_body(customer__region_code="110101"), 422, "customer"),
    ("unknown category", request_body(product__category="toaster"), 422, "product"),
    ("unknown channel", request_body(channel="pigeon"), 422, "channel"),
    ("future received_at", request_body(received_at="2999-01-01T00:00:00+08:00"), 422,
     "received_at"),
    ("naive received_at", request_body(received_at="2026-01-01T00:00:00"), 422,
     "received_at"),
    ("future purchase", request_body(product__purchase_date="2999-01-01"), 422, "product"),
    ("installed before bought", request_body(product__installation_date="2020-01-01"), 422,
     "product"),
    ("missing description", request_body(description=None), 422, "description"),
    ("empty description", request_body(description="   "), 422, "description"),
]


@pytest.mark.parametrize("case,body,status,field", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_request_bodies_are_clear_errors_and_store_nothing(api, case, body, status, field):
    if body.get("description") is None:
        body.pop("description", None)
    before = _order_count(api)
    response = api.post("/api/v1/requests", body, "agent")
    assert response.status_code == status, response.text
    assert field in response.json()["fields"], response.json()
    assert _order_count(api) == before


def _shanghai_tomorrow() -> str:
    return str(datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1))


def _with_key(body: dict, where: str | None, key: str) -> dict:
    (body[where] if where else body)[key] = "x"
    return body


# Input that used to be stored, or to fail inside a service (a lone surrogate cannot be
# written to the database), each with the path of the field-level message.
INVALID_INPUT = [
    ("surrogate in the name", request_body(customer__name="\ud800"), "customer.name"),
    ("surrogate after text", request_body(customer__name="王\udfff"), "customer.name"),
    ("surrogate in the address", request_body(customer__address="南京东路\udc00号"),
     "customer.address"),
    ("surrogate in the description", request_body(description="漏水\ud83d"), "description"),
    ("surrogate in the model", request_body(product__model="\ude00\ud83d"), "product.model"),
    ("surrogate as a key", _with_key(request_body(), None, "\ud800"), "\\ud800"),
    ("surrogate in a nested key", _with_key(request_body(), "product", "mo\udc00del"),
     "product.mo\\udc00del"),
    ("NUL in the name", request_body(customer__name="王\x00先生"), "customer.name"),
    ("C1 control in the address", request_body(customer__address="南京东路\x9b1号"),
     "customer.address"),
    ("newline in the name", request_body(customer__name="王\n先生"), "customer.name"),
    *[(f"name of U+{ord(ch):04X} only", request_body(customer__name=ch * 2), "customer.name")
      for ch in "\u200b\u200c\u200d\ufeff\u2060"],
    ("zero widths and spaces", request_body(customer__name=" \u200b\u3000\u2060 "),
     "customer.name"),
    ("combining marks alone", request_body(customer__name="\u0301\u0308"), "customer.name"),
    ("zero-width description", request_body(description="\u200b\u200b"), "description"),
    ("purchase in year 1", request_body(product__purchase_date="0001-01-01"),
     "product.purchase_date"),
    ("purchase in 1979", request_body(product__purchase_date="1979-12-31"),
     "product.purchase_date"),
    ("installation in 1900", request_body(product__installation_date="1900-01-01",
                                          product__purchase_date=None),
     "product.installation_date"),
    ("purchase tomorrow", request_body(product__purchase_date=_shanghai_tomorrow()),
     "product.purchase_date"),
]


def _message_at(fields: dict, path: str) -> str:
    node = fields
    for key in path.split("."):
        assert key in node, (path, fields)
        node = node[key]
    return " ".join(node)


@pytest.mark.parametrize("case,body,path", INVALID_INPUT, ids=[c[0] for c in INVALID_INPUT])
def test_invalid_text_and_dates_are_a_field_level_422_and_store_nothing(api, case, body,
                                                                       path):
    before = _order_count(api)
    response = api.post("/api/v1/requests", body, "agent")
    assert response.status_code == 422, response.text
    message = _message_at(response.json()["fields"], path)
    assert "\u4e00" <= message[0] <= "\u9fff", message  # Chinese first, English second
    assert _order_count(api) == before


@pytest.mark.parametrize("name", ["\ud800", "\u200b\u200d", "\u0301"])
def test_technician_names_need_a_visible_valid_character(api, name):
    body = {"technician_id": "E2E-NONAME", "name": name, "certificates": ["gas"],
            "zones": ["standard"], "lat": 31.2, "lon": 121.4, "shift": "always", "cap": 1}
    response = api.post("/api/v1/technicians", body)
    assert response.status_code == 422, response.text
    assert "name" in response.json()["fields"]
    assert api.get("/api/v1/technicians/E2E-NONAME").status_code == 404


@pytest.mark.parametrize("data,content_type,status", [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe\xfa", "application/json", 400),
    (b'{"a": 1}', "text/plain", 415),
    (b"[1, 2]", "application/json", 400),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b'{"x": "' + b"a" * 70000 + b'"}', "application/json", 413),
])
def test_malformed_bodies_are_4xx(api, data, content_type, status):
    before = _order_count(api)
    response = api.call("POST", "/api/v1/requests", "agent", data=data,
                        headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert _order_count(api) == before


def test_bad_steps_and_queries(api):
    order_id = api.post("/api/v1/requests", request_body(), "agent").json()["order_id"]
    api.wait_listed(order_id)
    assert api.post(f"/api/v1/orders/{order_id}/teleport", {}).status_code == 404
    assert api.post(f"/api/v1/orders/{order_id}/contact", {}).status_code == 409
    assert api.post(f"/api/v1/orders/{order_id}/reject", {}).status_code in (409, 422)
    assert api.post("/api/v1/orders/SH-20200101-000001/cancel",
                    {"reason": "x"}).status_code == 404
    appointment = api.post(f"/api/v1/orders/{order_id}/appointment",
                           {"start": "2026-01-01T10:00:00+08:00",
                            "end": "2026-01-01T09:00:00+08:00"})
    assert appointment.status_code == 422
    for params in ({"status": "bogus"}, {"page": "0"}, {"status[$ne]": "x"},
                   {"priority": '{"$gt": ""}'}):
        assert api.get("/api/v1/orders", params=params).status_code == 422, params
    assert api.order(order_id)["status"] in ("new", "offered")


def test_concurrent_requests_get_unique_order_numbers(api):
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: api.post("/api/v1/requests", request_body(),
                                                     "agent"), range(40)))
    assert all(r.status_code == 201 for r in responses)
    assert len({r.json()["order_id"] for r in responses}) == 40


def test_openapi_and_health(api):
    assert api.get("/health", None).json() == {"status": "ok"}
    spec = api.get("/api/v1/openapi.json", None).json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/requests" in spec["paths"]
    assert "ServiceRequest" in spec["components"]["schemas"]


def test_field_messages_are_in_the_callers_language(api):
    """The validation's own messages read in Chinese by default, as written in English
    when English is asked for; nothing is created either way."""
    body = request_body(customer__phone=None, channel="pigeon")
    before = _order_count(api)
    chinese = api.post("/api/v1/requests", body, "agent").json()["fields"]
    assert chinese["customer"]["phone"] == ["必填字段缺失。"]
    assert chinese["channel"][0].startswith("只能是以下之一：")
    english = api.post("/api/v1/requests", body, "agent",
                       headers={"Accept-Language": "en"}).json()["fields"]
    assert english["customer"]["phone"] == ["Missing data for required field."]
    assert _order_count(api) == before
