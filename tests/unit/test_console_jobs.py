"""The technician's job page without a browser: its forms as the API's bodies, the forms
each state offers, and the page on a mocked gateway (the completion and its signature go
to the API as the technician; a refusal is shown on the same page)."""

from __future__ import annotations

import base64
import json

from nameko.exceptions import RemoteError
from werkzeug.datastructures import MultiDict

from gateway.console import job_forms, screens
from schemas.fields import NOT_PNG
from tests.unit.test_console import ORDER, _get, _post, _signed_in

PNG = base64.b64encode(base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)).decode()
ON_SITE = {"order_id": ORDER, "status": "on_site", "priority": "normal", "branch": "SH",
           "technician_id": "SH-T01", "request_type": "repair", "zone": "intensive",
           "customer": {"name": "王先生", "phone": "13812345678", "address": "南京东路1号"},
           "product": {"category": "gas_water_heater"}, "description": "打不着火"}


def test_a_slot_typed_on_the_phone_is_the_branchs_time_with_its_offset():
    body = job_forms.appointment_body(MultiDict({"day": "2026-12-04", "start": "09:00",
                                                 "end": "11:00"}))
    assert body == {"start": "2026-12-04T09:00:00+08:00", "end": "2026-12-04T11:00:00+08:00",
                    "customer_requested": False, "customer_confirmed": False}
    unreadable = job_forms.appointment_body(MultiDict({"day": "", "start": "9", "end": ""}))
    assert unreadable["start"] == "T9"  # left for the API to refuse in its own words


def test_parts_rows_without_a_part_number_are_left_out():
    form = MultiDict([("sku", "gwh-ign-01"), ("quantity", "2"), ("sku", ""), ("quantity", "1"),
                      ("sku", "X-1"), ("quantity", "many")])
    assert job_forms.part_lines(form) == [{"sku": "GWH-IGN-01", "quantity": 2},
                                          {"sku": "X-1", "quantity": "many"}]


def test_the_completion_carries_the_signature_and_says_whether_there_is_one():
    form = MultiDict({"diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "清理",
                      "cause": "wear", "distance_km": "", "signature_png": "data:x"})
    body = job_forms.complete_body(form)
    assert body["signature_png"] == "data:x" and body["customer_signed"] is True
    assert "distance_km" not in body and "parts_used" not in body
    unsigned = job_forms.complete_body(MultiDict({"diagnosis": "x"}))
    assert unsigned["customer_signed"] is False and "signature_png" not in unsigned
    assert "photos" not in unsigned


def test_the_photos_taken_go_with_the_completion_by_kind():
    body = job_forms.complete_body(MultiDict({"diagnosis": "x", "photo_nameplate": "data:n",
                                              "photo_old_part": ""}))
    assert body["photos"] == [{"kind": "nameplate", "image": "data:n"}]


def test_a_job_page_offers_the_forms_its_state_allows():
    assert screens.job_steps("accepted") == ["contact", "parts"]
    assert screens.job_steps("contacted") == ["appointment", "check-in", "parts"]
    assert screens.job_steps("on_site") == ["leave", "complete", "parts"]
    assert screens.job_steps("waiting_parts") == ["appointment", "check-in"]
    assert screens.job_steps("completed") == []


def _page(gateway) -> None:
    gateway.dispatch.get_order.call_async.return_value.result.return_value = ON_SITE
    gateway.inventory.job.call_async.return_value.result.side_effect = RemoteError(
        "NotFound", "no parts")
    gateway.inventory.parts.call_async.return_value.result.return_value = [
        {"sku": "GWH-IGN-01", "name": "点火针"}]


def test_the_job_page_shows_the_forms_of_an_on_site_job():
    gateway, session_id, _ = _signed_in("demo-tech-sh-01", "technician")
    _page(gateway)
    response = gateway.console_tech_job(_get(f"/console/tech/jobs/{ORDER}", session_id),
                                        order_id=ORDER)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "step-complete" in page and "step-quote" in page and "canvas" in page
    assert 'href="tel:13812345678"' in page and "点火针" in page


def _send_job_form(form: str, fields: dict):
    """A job form sent by the technician, the order step answered: (the response, the
    step's RPC arguments)."""
    gateway, session_id, csrf = _signed_in("demo-tech-sh-01", "technician")
    gateway.dispatch.step.call_async.return_value.result.return_value = {"order_id": ORDER}
    response = gateway.console_tech_job_form(_post(
        f"/console/tech/jobs/{ORDER}/{form}", session_id, {"csrf": csrf, **fields}),
        order_id=ORDER, form=form)
    return response, gateway.dispatch.step.call_async.call_args.args


def test_the_completion_and_its_signature_go_to_the_api_as_the_technician():
    response, (order_id, action, body, actor) = _send_job_form("complete", {
        "diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "清理", "cause": "wear",
        "signature_png": "data:image/png;base64," + PNG})
    assert response.status_code == 303 and response.headers["Location"] == "/console/tech"
    assert (order_id, action) == (ORDER, "complete")
    assert body["signature_png"].endswith(PNG) and body["customer_signed"] is True
    assert actor["role"] == "technician"


def test_a_refused_signature_is_shown_on_the_job_page():
    gateway, session_id, csrf = _signed_in("demo-tech-sh-01", "technician")
    _page(gateway)
    gateway.dispatch.step.call_async.return_value.result.side_effect = RemoteError(
        "InvalidInput", json.dumps({"message": "Invalid input.",
                                    "fields": {"signature_png": [NOT_PNG]}}))
    response = gateway.console_tech_job_form(_post(
        f"/console/tech/jobs/{ORDER}/complete", session_id,
        {"csrf": csrf, "diagnosis": "x", "fault_code": "E1", "repair_done": "y",
         "signature_png": "data:image/gif;base64,R0lG"}), order_id=ORDER, form="complete")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and NOT_PNG.split("。")[0] in page
    assert 'data-error="complete"' in page


def test_an_unknown_form_or_another_role_does_nothing():
    gateway, session_id, csrf = _signed_in("demo-tech-sh-01", "technician")
    response = gateway.console_tech_job_form(_post(
        f"/console/tech/jobs/{ORDER}/cancel", session_id, {"csrf": csrf}),
        order_id=ORDER, form="cancel")
    assert response.status_code == 404
    agent, agent_session, agent_csrf = _signed_in("demo-agent-sh", "agent")
    response = agent.console_tech_job_form(_post(
        f"/console/tech/jobs/{ORDER}/complete", agent_session, {"csrf": agent_csrf}),
        order_id=ORDER, form="complete")
    assert response.status_code == 403
    gateway.dispatch.step.call_async.assert_not_called()
    agent.dispatch.step.call_async.assert_not_called()


def test_an_on_site_job_offers_to_end_the_visit_and_lists_the_visits():
    gateway, session_id, _ = _signed_in("demo-tech-sh-01", "technician")
    _page(gateway)
    gateway.dispatch.get_order.call_async.return_value.result.return_value = {
        **ON_SITE, "visits": [
            {"n": 1, "arrived_at": "2026-11-20T10:00:00+08:00",
             "left_at": "2026-11-20T10:20:00+08:00", "outcome": "customer_absent",
             "reason": None, "technician_id": "SH-T01"},
            {"n": 2, "arrived_at": "2026-11-21T09:00:00+08:00", "left_at": None,
             "outcome": None, "reason": None, "technician_id": "SH-T01"}]}
    page = gateway.console_tech_job(_get(f"/console/tech/jobs/{ORDER}", session_id),
                                    order_id=ORDER).get_data(as_text=True)
    assert "step-leave" in page and "结束本次上门" in page
    assert 'value="second_person"' in page and "需专用工具" in page
    assert 'data-visit="1" data-outcome="customer_absent"' in page and "客户不在家" in page
    assert 'data-visit="2"' in page and "第2次上门" in page


def test_ending_a_visit_goes_to_the_api_with_its_reason():
    response, (order_id, action, body, _) = _send_job_form("leave", {
        "outcome": "special_tool", "note": "需高空作业梯"})
    assert response.status_code == 303
    assert (order_id, action) == (ORDER, "leave")
    assert body == {"outcome": "special_tool", "note": "需高空作业梯"}


def test_an_order_page_shows_its_visits_and_an_open_exchange_or_refund():
    gateway, session_id, _ = _signed_in("demo-dispatcher-sh", "dispatcher")
    gateway.dispatch.get_order.call_async.return_value.result.return_value = {
        **ON_SITE, "status": "completed", "timeline": [], "deadlines": {}, "milestones": {},
        "escalation": {"kind": "exchange_or_refund", "status": "open", "remedy": "refund",
                       "reason": "主板烧毁"},
        "visits": [{"n": 1, "arrived_at": "2026-11-20T10:00:00+08:00",
                    "left_at": "2026-11-20T11:00:00+08:00", "outcome": "cannot_fix",
                    "reason": None, "technician_id": "SH-T01"}]}
    response = gateway.console_order_page(_get(f"/console/orders/{ORDER}", session_id),
                                          order_id=ORDER)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-escalation="exchange_or_refund"' in page and "主板烧毁" in page
    assert 'data-visit="1" data-outcome="cannot_fix"' in page and "无法修复" in page
