"""The console's parts without a browser: the catalogue in both languages, sessions and
CSRF, what the screens read from the API's answers, and the console on a mocked gateway
(its actions go through the API's own checks, and a POST without the CSRF token calls
nothing)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.console import i18n, pages, screens
from gateway.console.session import SESSION_COOKIE, SessionStore, same_token
from gateway.console.web import SESSIONS
from gateway.service import GatewayService
from schemas.orders import CHANNELS, ORDER_STATES, PRIORITIES, REQUEST_TYPES, WARRANTY, ZONES
from services.common.domain.commitments import MILESTONES

TEMPLATES = Path(__file__).resolve().parents[2] / "gateway" / "console" / "templates"
CJK = re.compile("[\u4e00-\u9fff]")
NOT_CHINESE = {"nav.language", "channel.12315"}  # the link to English; a hotline number
CONFIG = {"branches": ["SH", "SZ"], "tokens_file": "deploy/config/tokens.yaml",
          "rpc_timeout_seconds": 5, "http": {"max_body_bytes": 65536}}
ORDER = "SH-20261120-000001"


# -- the catalogue ------------------------------------------------------------------------
def test_every_message_has_both_languages_and_the_chinese_is_chinese():
    for key, (zh, en) in i18n.MESSAGES.items():
        assert zh.strip() and en.strip(), key
        assert key in NOT_CHINESE or CJK.search(zh), key


@pytest.mark.parametrize("vocabulary, codes", [
    ("status", ORDER_STATES), ("priority", PRIORITIES), ("zone", ZONES),
    ("warranty", WARRANTY), ("request_type", REQUEST_TYPES), ("channel", CHANNELS),
    ("milestone", MILESTONES)])
def test_every_code_the_api_answers_with_has_words(vocabulary, codes):
    assert {f"{vocabulary}.{code}" for code in codes} <= i18n.MESSAGES.keys()


def test_every_key_a_template_names_is_in_the_catalogue():
    named = set()
    for template in TEMPLATES.glob("*.html"):
        named |= set(re.findall(r"""\bt\('([a-z_]+\.[a-z_.]+)'\)""", template.read_text()))
    assert named and named <= i18n.MESSAGES.keys(), named - i18n.MESSAGES.keys()


def test_dates_are_written_as_each_language_writes_them():
    moment = "2026-12-03T14:05:00+08:00"
    assert i18n.format_time("zh", moment) == "2026年12月3日 14:05"
    assert i18n.format_time("en", moment) == "3 Dec 2026 14:05"
    assert i18n.format_time("zh", None) == "—"


def test_words_and_reasons_in_each_language():
    assert i18n.translate("zh", "status.new") == "待派"
    assert i18n.translate("en", "status.new") == "New"
    assert i18n.translate("fr", "status.new") == "待派"  # Chinese first
    assert i18n.translate("en", "status.someday") == "someday"
    assert i18n.reason("zh", "hazard:煤气味") == "安全隐患：煤气味"
    assert i18n.reason("en", "key_customer") == "Key customer"


# -- sessions and CSRF ----------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lives_while_used_and_ends_when_idle_or_closed():
    clock = Clock()
    store = SessionStore(clock=clock, idle_seconds=60)
    sid = store.open("demo-agent-sh", "agent", "SH")
    clock.now += 50
    assert store.get(sid).role == "agent"
    clock.now += 50  # 50 s after the last use: still alive
    assert store.get(sid) is not None
    clock.now += 61
    assert store.get(sid) is None
    again = store.open("demo-agent-sh", "agent", "SH")
    store.close(again)
    assert store.get(again) is None and store.get(None) is None and store.get("x") is None


def test_sessions_are_bounded_and_each_has_its_own_csrf_token():
    store = SessionStore(limit=2)
    first, second, third = (store.open(f"t{i}", "agent", "SH") for i in range(3))
    assert store.get(first) is None
    assert store.get(second).csrf != store.get(third).csrf
    assert len(store.get(third).csrf) >= 32


def test_csrf_tokens_compare_whole_and_never_empty():
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd") and not same_token("abc", "")
    assert not same_token(None, None) and not same_token("", "")


def test_after_sign_in_only_a_console_page_is_a_destination():
    assert pages.safe_next("/console/dispatch?status=new") == "/console/dispatch?status=new"
    for hostile in ("https://evil.example/", "//evil.example/console", "/api/v1/orders",
                    "/console\\@evil", None, ""):
        assert pages.safe_next(hostile) == "/console"


# -- what the screens read --------------------------------------------------------------------
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _order(order_id: str, contact_in: float, risk_in: float, status: str = "new",
           reached: bool = False) -> dict:
    at = lambda hours: (NOW + timedelta(hours=hours)).isoformat()  # noqa: E731
    return {"order_id": order_id, "status": status,
            "deadlines": {"first_contact": at(contact_in), "arrival": at(24)},
            "risk_at": {"first_contact": at(risk_in), "arrival": at(20)},
            "milestones": {"first_contact": {"at": at(-1), "outcome": "met"}} if reached
            else {}}


def test_milestones_marked_overdue_or_at_risk_only_while_open_and_unreached():
    overdue, = [m for m in screens.milestones(_order("A", -1, -2), NOW)
                if m.name == "first_contact"]
    assert overdue.overdue and not overdue.at_risk
    risky = screens.milestones(_order("B", 1, -0.5), NOW)[0]
    assert risky.at_risk and not risky.overdue
    assert not any(m.overdue or m.at_risk
                   for m in screens.milestones(_order("C", -1, -2, "completed"), NOW))
    met = screens.milestones(_order("D", -1, -2, reached=True), NOW)[0]
    assert met.outcome == "met" and not met.overdue


def test_the_queue_puts_the_nearest_open_deadline_first():
    rows = screens.queue([_order("late", 3, 2), _order("soon", 1, 0.5),
                          _order("over", -1, -2), _order("done", -5, -6, reached=True)], NOW)
    assert [row.order["order_id"] for row in rows] == ["over", "soon", "late", "done"]
    assert rows[0].overdue == ["first_contact"]
    assert rows[3].next_milestone.name == "arrival"


def test_the_form_becomes_the_apis_body_blank_optionals_left_out():
    form = MultiDict({"name": " 王先生 ", "phone": "13812345678", "address": "南京东路1号",
                      "region_code": "310101", "category": "air_conditioner", "brand": "",
                      "serial_number": "SN1", "request_type": "repair",
                      "description": "不制冷", "channel": "hotline"})
    body = screens.request_body(form)
    assert body["customer"] == {"name": "王先生", "phone": "13812345678",
                                "address": "南京东路1号", "region_code": "310101",
                                "vip": False}
    assert body["product"] == {"category": "air_conditioner", "serial_number": "SN1"}
    assert screens.field_errors({"customer": {"phone": ["Bad."]}, "channel": ["No."]}) == {
        "customer.phone": "Bad.", "channel": "No."}
    assert "priority_override" not in body  # "as the rules decide"


def test_the_agents_override_goes_with_its_reason():
    form = MultiDict({"description": "没有煤气味了", "override_priority": "normal",
                      "reason": " 客户说是上周的事 "})
    assert screens.request_body(form)["priority_override"] == {
        "priority": "normal", "reason": "客户说是上周的事"}


def test_a_job_offers_the_steps_its_state_allows():
    assert screens.steps_for("offered") == ["accept", "reject"]
    assert screens.steps_for("accepted") == ["contact"]
    assert screens.steps_for("on_site") == ["complete"]
    assert screens.steps_for("completed") == []


# -- the console on a mocked gateway ------------------------------------------------------------
def _signed_in(token: str, role: str) -> tuple[GatewayService, str, str]:
    gateway = worker_factory(GatewayService, config=CONFIG)
    session_id = SESSIONS.open(token, role, "SH")
    return gateway, session_id, SESSIONS.get(session_id).csrf


def _post(path: str, session_id: str, form: dict) -> Request:
    builder = EnvironBuilder(method="POST", path=path, data=form)
    builder.headers["Cookie"] = f"{SESSION_COOKIE}={session_id}"
    return Request(builder.get_environ())


def test_a_post_without_the_sessions_csrf_token_calls_nothing():
    gateway, session_id, csrf = _signed_in("demo-dispatcher-sh", "dispatcher")
    for form in ({"technician_id": "SH-T01"}, {"technician_id": "SH-T01", "csrf": "x"}):
        response = gateway.console_assign(
            _post(f"/console/orders/{ORDER}/assign", session_id, form), order_id=ORDER)
        assert response.status_code == 403
    gateway.dispatch.step.call_async.assert_not_called()


def test_the_console_acts_through_the_api_as_the_signed_in_user():
    gateway, session_id, csrf = _signed_in("demo-dispatcher-sh", "dispatcher")
    gateway.dispatch.step.call_async.return_value.result.return_value = {"order_id": ORDER}
    response = gateway.console_assign(_post(
        f"/console/orders/{ORDER}/assign", session_id,
        {"technician_id": "SH-T01", "csrf": csrf}), order_id=ORDER)
    assert response.status_code == 303
    args = gateway.dispatch.step.call_async.call_args.args
    assert args[:3] == (ORDER, "assign", {"technician_id": "SH-T01"})
    assert args[3]["role"] == "dispatcher" and args[3]["branch"] == "SH"


def test_what_the_api_forbids_the_console_cannot_do():
    gateway, session_id, csrf = _signed_in("demo-tech-sh-01", "technician")
    # Not a technician's step at all; and a step the API refuses this role.
    response = gateway.console_order_step(_post(
        f"/console/orders/{ORDER}/step/assign", session_id, {"csrf": csrf}),
        order_id=ORDER, action="assign")
    assert response.status_code == 404
    agent, agent_session, agent_csrf = _signed_in("demo-agent-sh", "agent")
    response = agent.console_order_step(_post(
        f"/console/orders/{ORDER}/step/accept", agent_session, {"csrf": agent_csrf}),
        order_id=ORDER, action="accept")
    assert response.status_code == 403
    agent.dispatch.step.call_async.assert_not_called()
    gateway.dispatch.step.call_async.assert_not_called()


def test_no_console_handler_hides_an_api_handler():
    served = {}
    for klass in GatewayService.__mro__:
        for name, value in vars(klass).items():
            if getattr(value, "nameko_entrypoints", None):
                served.setdefault(name, []).append(klass.__name__)
    assert {name: owners for name, owners in served.items() if len(owners) > 1} == {}


def _get(path: str, session_id: str) -> Request:
    builder = EnvironBuilder(method="GET", path=path)
    builder.headers["Cookie"] = f"{SESSION_COOKIE}={session_id}"
    return Request(builder.get_environ())


def test_a_refused_request_shows_the_apis_field_errors_and_keeps_what_was_typed():
    gateway, session_id, csrf = _signed_in("demo-agent-sh", "agent")
    gateway.intake.create_request.call_async.return_value.result.side_effect = RemoteError(
        "InvalidInput", json.dumps({"message": "Invalid input.", "fields": {
            "customer": {"phone": ["Not a valid phone number."]}}}))
    response = gateway.console_agent_save(_post("/console/agent", session_id, {
        "csrf": csrf, "name": "王先生", "phone": "12", "address": "南京东路1号",
        "region_code": "310101", "category": "air_conditioner", "request_type": "repair",
        "description": "不制冷", "channel": "hotline"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in page and "Not a valid phone number." in page
    assert 'value="王先生"' in page and "新建服务请求" in page


def test_an_emergency_shows_the_safety_advice_and_a_missing_reason_its_message():
    gateway, session_id, csrf = _signed_in("demo-agent-sh", "agent")
    form = {"csrf": csrf, "name": "王先生", "phone": "13812345678", "address": "南京东路1号",
            "region_code": "310101", "category": "gas_water_heater", "request_type": "repair",
            "description": "热水器有煤气味", "channel": "hotline"}
    gateway.intake.create_request.call_async.return_value.result.return_value = {
        "order_id": "SH-20261120-000001", "created": True, "status": "new",
        "priority": "emergency", "priority_reasons": ["hazard:煤气味"], "zone": "intensive",
        "safety_advice": [{"kind": "gas", "text": "请立即关闭燃气总阀，打开门窗通风"}]}
    page = gateway.console_agent_save(_post("/console/agent", session_id, form)
                                      ).get_data(as_text=True)
    assert 'data-advice="gas"' in page and "请立即关闭燃气总阀" in page
    assert "安全隐患：煤气味" in page
    gateway.intake.create_request.call_async.return_value.result.side_effect = RemoteError(
        "InvalidInput", json.dumps({"message": "Invalid input.", "fields": {
            "priority_override": {"reason": ["改判优先级必须填写理由 / A reason."]}}}))
    response = gateway.console_agent_save(_post("/console/agent", session_id, {
        **form, "override_priority": "normal"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "改判优先级必须填写理由" in page
    assert '<option value="normal" selected>' in page


def test_each_role_sees_only_its_screens():
    agent, agent_session, _ = _signed_in("demo-agent-sh", "agent")
    assert agent.console_dispatch_page(_get("/console/dispatch", agent_session)
                                       ).status_code == 403
    assert agent.console_home(_get("/console", agent_session)).headers["Location"] == \
        "/console/agent"
    tech, tech_session, _ = _signed_in("demo-tech-sh-01", "technician")
    assert tech.console_agent_page(_get("/console/agent", tech_session)).status_code == 403
    signed_out = tech.console_tech_page(_get("/console/tech", "no-such-session"))
    assert signed_out.status_code == 303
    assert signed_out.headers["Location"] == "/console/login?next=/console/tech"


def test_a_timeline_detail_in_words():
    assert i18n.detail("zh", "priority", "emergency") == "优先级：紧急"
    assert i18n.detail("en", "cannot_fix", False) == "Cannot fix: No"
    assert i18n.detail("zh", "shortage_id", "S-1") == "shortage_id：S-1"


def test_the_picker_is_offered_where_the_lifecycle_allows_an_assignment():
    assert screens.assignable("new") and screens.assignable("escalated")
    assert not screens.assignable("on_site") and not screens.assignable("completed")


def test_a_revoked_token_ends_its_session():
    gateway, _, _ = _signed_in("demo-agent-sh", "agent")
    session_id = SESSIONS.open("a-token-no-longer-in-the-file", "agent", "SH")
    response = gateway.console_agent_page(_get("/console/agent", session_id))
    assert response.status_code == 303 and SESSIONS.get(session_id) is None


CUSTOMER_FOUND = {"items": [{
    "customer_id": "CU-SH-20261203-000001", "branch": "SH", "name": "王先生",
    "phones": ["13812345678"], "addresses": [],
    "units": [{"unit_id": "SH|sn:GWH-0001", "serial_number": "GWH-0001",
               "category": "gas_water_heater", "model": "JSQ25", "purchase_date": "2026-03-01",
               "order_ids": [ORDER]}],
    "open_requests": [{"order_id": ORDER, "request_type": "repair", "status": "new",
                       "received_at": "2026-12-03T10:00:00+08:00",
                       "description": "热水器不点火"}]}]}


def test_the_agent_sees_the_customers_products_and_open_orders_as_the_phone_is_typed():
    gateway, session_id, _ = _signed_in("demo-agent-sh", "agent")
    gateway.intake.find_customers.call_async.return_value.result.return_value = CUSTOMER_FOUND
    response = gateway.console_agent_customer(_get("/console/agent/customer?phone=1381234",
                                                   session_id))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    gateway.intake.find_customers.call_async.assert_called_once_with({"phone": "1381234"},
                                                                     "SH")
    assert "燃气热水器" in page and "热水器不点火" in page
    assert "GWH-0001" in page and f'href="/console/orders/{ORDER}"' in page
    assert "138****5678" in page and "13812345678" not in page  # masked, as lists are


def test_fewer_than_seven_digits_ask_nothing_and_a_technician_may_not_look():
    gateway, session_id, _ = _signed_in("demo-agent-sh", "agent")
    response = gateway.console_agent_customer(_get("/console/agent/customer?phone=138123",
                                                   session_id))
    assert response.status_code == 200 and "7" in response.get_data(as_text=True)
    gateway.intake.find_customers.call_async.assert_not_called()
    tech, tech_session, _ = _signed_in("demo-tech-sh-01", "technician")
    refused = tech.console_agent_customer(_get("/console/agent/customer?phone=1381234",
                                               tech_session))
    assert refused.status_code == 403
    tech.intake.find_customers.call_async.assert_not_called()


def test_the_agents_page_holds_the_customer_file_that_the_phone_fills_in():
    gateway, session_id, _ = _signed_in("demo-agent-sh", "agent")
    page = gateway.console_agent_page(_get("/console/agent", session_id)).get_data(
        as_text=True)
    assert 'data-lookup="/console/agent/customer"' in page
    assert 'data-lookup-from="f-customer-phone"' in page and 'id="f-customer-phone"' in page
