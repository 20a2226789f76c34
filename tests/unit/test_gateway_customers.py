"""The customer file's routes alone, intake mocked: who may look customers up, the
caller's branch passed on, the list masked, errors mapped."""

from __future__ import annotations

import json

from tests.unit.test_gateway_mocked import _answers, _fails, _gateway, _json, _request

CUSTOMER = "CU-SH-20261203-000001"
FOUND = {"items": [{"customer_id": CUSTOMER, "branch": "SH", "name": "王先生",
                    "phones": ["13812345678"],
                    "addresses": [{"address": "黄浦区南京东路100号3室", "region_code": "310101"}],
                    "units": [{"unit_id": "SH|sn:GWH-0001", "serial_number": "GWH-0001"}],
                    "open_requests": [{"order_id": "SH-20261203-000001",
                                       "description": "回电 13812345678"}]}]}


def test_the_agent_finds_a_customer_by_phone_masked_as_lists_are():
    gateway = _gateway()
    _answers(gateway.intake.find_customers, FOUND)
    response = gateway.find_customers(_request("GET", "/api/v1/customers?phone=1381234",
                                               "demo-agent-sh"))
    assert response.status_code == 200
    gateway.intake.find_customers.call_async.assert_called_once_with({"phone": "1381234"},
                                                                     "SH")
    found = _json(response)["items"][0]
    assert found["phones"] == ["138****5678"]
    assert found["addresses"][0]["address"] == "黄浦区南****"
    assert found["open_requests"][0]["description"] == "回电 138****5678"
    assert found["units"][0]["serial_number"] == "GWH-0001"


def test_roles_outside_the_call_centre_and_staff_are_refused_before_any_call():
    for token in ("demo-tech-sh-01", "demo-warehouse-sh", "demo-finance-sh", "demo-board-sh"):
        gateway = _gateway()
        response = gateway.find_customers(_request("GET", "/api/v1/customers?phone=1381234",
                                                   token))
        assert response.status_code == 403, token
        gateway.intake.find_customers.call_async.assert_not_called()


def test_a_phone_is_added_for_the_callers_branch_and_a_taken_one_is_a_409():
    gateway = _gateway()
    _answers(gateway.intake.add_customer_phone, {"customer_id": CUSTOMER})
    ok = gateway.add_customer_phone(_request("POST", f"/api/v1/customers/{CUSTOMER}/phones",
                                             "demo-dispatcher-sz", {"phone": "13900001111"}),
                                    customer_id=CUSTOMER)
    assert ok.status_code == 200
    gateway.intake.add_customer_phone.call_async.assert_called_once_with(
        CUSTOMER, {"phone": "13900001111"}, "SZ")
    _fails(gateway.intake.add_customer_phone, "Conflict", json.dumps({
        "code": "conflict", "message": "该号码已属于另一客户 / this phone is another customer's",
        "fields": {"phone": ["该号码已登记在另一客户名下"]}}))
    taken = gateway.add_customer_phone(_request(
        "POST", f"/api/v1/customers/{CUSTOMER}/phones", "demo-agent-sh",
        {"phone": "13900001111"}), customer_id=CUSTOMER)
    assert taken.status_code == 409
    assert _json(taken)["fields"]["phone"]


def test_an_unknown_customer_is_a_404():
    gateway = _gateway()
    _fails(gateway.intake.get_customer, "NotFound", json.dumps({
        "code": "not_found", "message": "客户不存在", "fields": {}}))
    response = gateway.get_customer(_request("GET", f"/api/v1/customers/{CUSTOMER}",
                                             "demo-supervisor-sh"), customer_id=CUSTOMER)
    assert response.status_code == 404


def test_a_merge_names_both_records_and_the_callers_branch():
    gateway = _gateway()
    other = "CU-SH-20261203-000002"
    _answers(gateway.intake.merge_customers, {"customer_id": CUSTOMER})
    response = gateway.merge_customers(_request(
        "POST", f"/api/v1/customers/{CUSTOMER}/merge", "demo-agent-sh",
        {"customer_id": other}), customer_id=CUSTOMER)
    assert response.status_code == 200
    gateway.intake.merge_customers.call_async.assert_called_once_with(
        CUSTOMER, {"customer_id": other}, "SH")
    refused = _gateway()
    assert refused.merge_customers(_request(
        "POST", f"/api/v1/customers/{CUSTOMER}/merge", "demo-callback-sh",
        {"customer_id": other}), customer_id=CUSTOMER).status_code == 403
    refused.intake.merge_customers.call_async.assert_not_called()
