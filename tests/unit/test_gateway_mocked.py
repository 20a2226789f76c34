"""The gateway alone, its services mocked (nameko's worker_factory): who may call what,
the caller's branch passed on, remote errors mapped to statuses, personal data masked in
lists. No broker: each test sees exactly which RPC the gateway made."""

from __future__ import annotations

import json

from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.service import GatewayService

CONFIG = {"branches": ["SH", "SZ"], "tokens_file": "deploy/config/tokens.yaml",
          "rpc_timeout_seconds": 5, "http": {"max_body_bytes": 65536}}
ORDER = "SH-20261120-000001"


def _gateway() -> GatewayService:
    return worker_factory(GatewayService, config=CONFIG)


def _request(method: str, path: str, token: str, body: dict | None = None,
             language: str | None = None) -> Request:
    headers = {"Authorization": f"Bearer {token}"}
    if language is not None:
        headers["Accept-Language"] = language
    builder = EnvironBuilder(method=method, path=path, json=body, headers=headers)
    return Request(builder.get_environ())


def _answers(proxy_method, value) -> None:
    proxy_method.call_async.return_value.result.return_value = value


def _fails(proxy_method, exc_type: str, value: str) -> None:
    proxy_method.call_async.return_value.result.side_effect = RemoteError(exc_type, value)


def _json(response) -> dict:
    return json.loads(response.get_data(as_text=True))


def test_a_role_without_the_permission_is_refused_before_any_call():
    gateway = _gateway()
    response = gateway.order_step(_request("POST", f"/api/v1/orders/{ORDER}/approve-delay",
                                           "demo-agent-sh", {}), order_id=ORDER,
                                  action="approve-delay")
    assert response.status_code == 403
    gateway.dispatch.step.call_async.assert_not_called()


def test_no_token_is_a_401_and_calls_nothing():
    gateway = _gateway()
    response = gateway.create_request(_request("POST", "/api/v1/requests", "nobody", {}))
    assert response.status_code == 401
    gateway.intake.create_request.call_async.assert_not_called()


def test_the_callers_branch_and_actor_are_passed_on():
    gateway = _gateway()
    _answers(gateway.intake.create_request, {"order_id": ORDER, "created": True})
    created = gateway.create_request(_request("POST", "/api/v1/requests", "demo-agent-sz",
                                              {"description": "不制冷"}))
    assert created.status_code == 201
    gateway.intake.create_request.call_async.assert_called_once_with(
        {"description": "不制冷"}, "SZ", "agent@SZ")  # who took it: audits an override
    _answers(gateway.dispatch.step, {"order_id": ORDER, "status": "contacted"})
    gateway.order_step(_request("POST", f"/api/v1/orders/{ORDER}/contact", "demo-tech-sh-01",
                                {}), order_id=ORDER, action="contact")
    args = gateway.dispatch.step.call_async.call_args.args
    assert args[:3] == (ORDER, "contact", {})
    assert args[3]["branch"] == "SH" and args[3]["technician_id"] == "SH-T01"


def test_remote_errors_keep_their_status_message_and_fields():
    gateway = _gateway()
    _fails(gateway.dispatch.step, "Conflict", json.dumps({
        "code": "conflict", "message": "cannot check-in an order that is new",
        "fields": {"status": ["Order is new."]}}))
    for language, message in ((None, "与当前状态冲突：cannot check-in an order that is new"),
                              ("en", "cannot check-in an order that is new")):
        response = gateway.order_step(_request(
            "POST", f"/api/v1/orders/{ORDER}/check-in", "demo-dispatcher-sh",
            {"confirmed_by_customer": True}, language), order_id=ORDER, action="check-in")
        assert response.status_code == 409
        assert _json(response) == {"error": "conflict", "message": message,
                                   "fields": {"status": ["Order is new."]}}


def test_an_unexpected_remote_error_is_a_500_that_shows_nothing_of_it():
    gateway = _gateway()
    _fails(gateway.dispatch.step, "KeyError", "'secret internals'")
    response = gateway.order_step(_request("POST", f"/api/v1/orders/{ORDER}/contact",
                                           "demo-dispatcher-sh", {}),
                                  order_id=ORDER, action="contact")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)


def test_lists_mask_personal_data():
    gateway = _gateway()
    _answers(gateway.dispatch.list_orders, {"total": 1, "page": 1, "page_size": 20, "items": [
        {"order_id": ORDER, "customer": {"name": "王小明", "phone": "13812345678",
                                         "address": "徐汇区漕溪北路88号"}}]})
    page = _json(gateway.list_orders(_request("GET", "/api/v1/orders", "demo-dispatcher-sh")))
    customer = page["items"][0]["customer"]
    assert customer["phone"] == "138****5678"
    assert "88" not in customer["address"]


def test_lists_leave_out_the_completions_images():
    gateway = _gateway()
    _answers(gateway.dispatch.list_orders, {"total": 1, "page": 1, "page_size": 20, "items": [
        {"order_id": ORDER, "completion": {"fault_code": "E1", "signature_png": "iVBOR",
                                           "photos": [{"kind": "old_part", "image": "/9j"}]}}]})
    page = _json(gateway.list_orders(_request("GET", "/api/v1/orders", "demo-dispatcher-sh")))
    assert page["items"][0]["completion"] == {"fault_code": "E1"}


def test_finance_and_supervisors_review_held_earnings_others_are_refused():
    path = f"/api/v1/settlement/earnings/{ORDER}/review"
    body = {"action": "withhold", "reason": "返修未修好"}
    for token in ("demo-tech-sh-01", "demo-agent-sh", "demo-dispatcher-sh"):
        gateway = _gateway()
        response = gateway.review_earning(_request("POST", path, token, body), order_id=ORDER)
        assert response.status_code == 403, token
        gateway.billing.review_earning.call_async.assert_not_called()
    for token, role in (("demo-finance-sh", "finance"), ("demo-supervisor-sh", "supervisor")):
        gateway = _gateway()
        _answers(gateway.billing.review_earning, {"order_id": ORDER, "state": "withheld"})
        response = gateway.review_earning(_request("POST", path, token, body), order_id=ORDER)
        assert response.status_code == 200 and _json(response)["state"] == "withheld"
        args = gateway.billing.review_earning.call_async.call_args.args
        assert args[:3] == (ORDER, body, "SH") and args[3]["role"] == role
    gateway = _gateway()
    _fails(gateway.billing.review_earning, "Conflict", json.dumps({
        "code": "conflict", "message": "earning was decided meanwhile: release", "fields": {}}))
    response = gateway.review_earning(_request("POST", path, "demo-finance-sh", body, "en"),
                                      order_id=ORDER)
    assert response.status_code == 409 and "decided meanwhile" in _json(response)["message"]
