"""The dispatcher's schedule board, a delay's approval and the back-office work lists,
without a browser."""

from __future__ import annotations

from unittest.mock import Mock

import pytest
from werkzeug.datastructures import MultiDict

from gateway.console import i18n, schedule, screens, worklists
from gateway.service import GatewayService
from schemas.billing import BILL_STATES
from schemas.callbacks import TASK_KINDS, TASK_STATES
from schemas.orders import CAUSES
from services.complaints.domain.rules import CATEGORIES, LEVELS, SEVERITIES, STATUSES
from services.inventory.domain.ledger import MOVEMENT_KINDS
from services.inventory.domain.sourcing import (
    BACKORDERED,
    CONSUMED,
    IN_TRANSFER,
    RELEASED,
    RESERVED,
    SOURCING,
)
from tests.unit.test_console import _get, _post, _signed_in

TECHS = [{"technician_id": "SH-T01"}, {"technician_id": "SH-T02"}]


def _booked(order_id: str, tech: str, start: str, end: str) -> dict:
    return {"order_id": order_id, "technician_id": tech, "status": "scheduled",
            "appointment": {"start": start, "end": end}}


def test_each_visit_fills_the_hours_it_covers_on_its_technicians_row():
    board = screens.schedule(TECHS, [
        _booked("A", "SH-T01", "2026-12-04T09:00:00+08:00", "2026-12-04T11:00:00+08:00"),
        _booked("B", "SH-T02", "2026-12-04T13:30:00+08:00", "2026-12-04T14:15:00+08:00"),
        _booked("C", "SH-T02", "2026-12-05T09:00:00+08:00", "2026-12-05T10:00:00+08:00"),
        _booked("D", "SH-T09", "2026-12-04T09:00:00+08:00", "2026-12-04T10:00:00+08:00"),
        {"order_id": "E", "technician_id": "SH-T01", "appointment": None}],
        "2026-12-04")
    filled = {tech: {hour: [v.order["order_id"] for v in visits]
                     for hour, visits in row.items() if visits} for tech, row in board.items()}
    assert filled == {"SH-T01": {9: ["A"], 10: ["A"]}, "SH-T02": {13: ["B"], 14: ["B"]}}


def test_a_visit_moved_keeps_its_length_in_the_branchs_clock():
    slot = {"start": "2026-12-04T09:00:00+08:00", "end": "2026-12-04T10:30:00+08:00"}
    assert schedule.moved_slot(slot, "2026-12-04", 14) == {
        "start": "2026-12-04T14:00:00+08:00", "end": "2026-12-04T15:30:00+08:00",
        "customer_requested": False}


def test_the_board_shows_today_unless_a_day_is_asked_for():
    assert schedule.board_day("2026-12-05") == "2026-12-05"
    assert schedule.board_day("tomorrow") == schedule.board_day(None) == schedule.today()


def test_the_delay_form_as_the_apis_body():
    body = schedule.delay_body(MultiDict({"milestone": "arrival",
                                          "new_deadline": "2026-12-05T18:00",
                                          "reason": " 客户出差 ", "customer_informed": "on"}))
    assert body == {"milestone": "arrival", "new_deadline": "2026-12-05T18:00:00+08:00",
                    "reason": "客户出差", "customer_informed": True}


def test_the_queue_narrowed_to_a_zone():
    rows = screens.queue([{"order_id": "A", "zone": "remote"},
                          {"order_id": "B", "zone": "intensive"}])
    assert [row.order["order_id"] for row in screens.zone_of(rows, "remote")] == ["A"]
    assert len(screens.zone_of(rows, "")) == 2


# -- back-office work lists ---------------------------------------------------------------
def test_each_back_office_role_reads_the_lists_the_api_lets_it():
    permissions = GatewayService.permissions
    assert [w.key for w in worklists.readable("finance", "finance", permissions)] == [
        "bills", "anomalies", "held", "statements"]
    assert [w.key for w in worklists.readable("audit", "hq_auditor", permissions)] == [
        "anomalies", "complaints", "callbacks"]
    assert worklists.has_screen("warehouse", "warehouse", permissions)
    assert not worklists.has_screen("finance", "warehouse", permissions)
    assert not worklists.has_screen("audit", "technician", permissions)


def test_a_callbacks_answers_as_the_apis_body():
    reached = worklists.answer_body(MultiDict({"reached": "yes", "fixed": "yes",
                                               "on_time": "no", "attitude": "5",
                                               "satisfaction": "4", "comment": " 满意 "}))
    assert reached == {"reached": True, "fixed": True, "on_time": False, "attitude": 5,
                       "satisfaction": 4, "paid": "0", "comment": "满意"}
    # Not reached: nothing asked, as the API requires.
    assert worklists.answer_body(MultiDict({"reached": "no", "fixed": "yes",
                                            "attitude": "5"})) == {"reached": False}


def test_a_list_cell_reads_a_dotted_key():
    assert worklists.value({"customer": {"name": "王"}}, "customer.name") == "王"
    assert worklists.value({"customer": None}, "customer.name") is None


def test_money_typed_in_yuan_goes_to_the_api_in_fen():
    assert worklists.fen("12.5") == 1250 and worklists.fen("175") == 17500
    assert worklists.fen("abc") == "abc" and worklists.fen("NaN") == "NaN"
    assert worklists.receipt_body(MultiDict({"location": "sh-wh", "sku": " rc-01 ",
                                             "accepted": "3"})) == {
        "location": "SH-WH", "sku": "RC-01", "accepted": 3}


def test_each_action_is_offered_to_the_roles_the_api_lets_take_it():
    permissions = GatewayService.permissions
    assert worklists.actions_of("warehouse", "warehouse", permissions) == ("receipt",)
    assert worklists.actions_of("finance", "finance", permissions) == ("payment", "review")
    assert worklists.actions_of("finance", "hq_auditor", permissions) == ()


def test_a_payment_goes_to_the_api_as_the_finance_user():
    gateway, session_id, csrf = _signed_in("demo-finance-sh", "finance")
    gateway.billing.pay_bill.call_async.return_value.result.return_value = {"bill_id": "B-1"}
    response = gateway.console_work_action(_post(
        "/console/work/finance/payment", session_id,
        {"csrf": csrf, "bill_id": "B-1", "method": "cash", "amount": "90.00"}),
        screen="finance", name="payment")
    assert response.status_code == 303
    bill_id, body = gateway.billing.pay_bill.call_async.call_args.args[:2]
    assert (bill_id, body) == ("B-1", {"method": "cash", "amount_fen": 9000})
    forged = gateway.console_work_action(_post(
        "/console/work/finance/payment", session_id,
        {"csrf": csrf, "bill_id": "../stock/receipts", "method": "cash", "amount": "1"}),
        screen="finance", name="payment")
    assert forged.status_code == 404


@pytest.mark.parametrize("vocabulary, codes", [
    ("movement", MOVEMENT_KINDS), ("cause", CAUSES), ("complaint_status", STATUSES),
    ("complaint_category", CATEGORIES), ("severity", SEVERITIES), ("level", LEVELS),
    ("task_kind", TASK_KINDS), ("task_status", TASK_STATES), ("bill", BILL_STATES),
    ("part_state", (SOURCING, RESERVED, IN_TRANSFER, BACKORDERED, CONSUMED, RELEASED))])
def test_every_code_a_work_list_shows_has_words(vocabulary, codes):
    assert {f"{vocabulary}.{code}" for code in codes} <= i18n.MESSAGES.keys()


def test_escalated_orders_are_listed_apart_and_a_zone_narrows_the_queue():
    gateway, session_id, _ = _signed_in("demo-dispatcher-sh", "dispatcher")
    orders = [{"order_id": "SH-20261203-000001", "status": "escalated", "priority": "high",
               "zone": "remote", "customer": {"name": "王", "phone": "138****5678"},
               "description": "无人接单"},
              {"order_id": "SH-20261203-000002", "status": "new", "priority": "normal",
               "zone": "intensive", "customer": {"name": "李", "phone": "139****0000"},
               "description": "不制冷"},
              {"order_id": "SH-20261203-000004", "status": "completed", "priority": "normal",
               "zone": "standard", "customer": {"name": "周", "phone": "137****2222"},
               "description": "不加热", "escalation": {
                   "kind": "exchange_or_refund", "status": "open", "remedy": "exchange",
                   "reason": "内胆漏水"}}]
    def page_of(params, *rest):  # what dispatch answers for one status, or escalations
        items = [o for o in orders if o["status"] == params.get("status")
                 or (o.get("escalation") or {}).get("status") == params.get("escalation")]
        return Mock(result=Mock(return_value={"total": len(items), "page": 1,
                                              "page_size": 100, "items": items}))

    gateway.dispatch.list_orders.call_async.side_effect = page_of
    gateway.dispatch.list_technicians.call_async.return_value.result.return_value = []
    page = gateway.console_dispatch_queue(_get("/console/dispatch/queue", session_id)
                                          ).get_data(as_text=True)
    assert 'data-escalated="SH-20261203-000001"' in page and "已升级工单" in page
    # cannot_fix: out of the queue, on the escalations until the exchange or refund is seen to
    assert 'data-escalated="SH-20261203-000004"' in page and "需换货或退货" in page
    assert 'data-order="SH-20261203-000004"' not in page
    remote = gateway.console_dispatch_queue(_get("/console/dispatch/queue?zone=remote",
                                                 session_id)).get_data(as_text=True)
    assert "SH-20261203-000001" in remote and "SH-20261203-000002" not in remote


def _queue_page(gateway, session_id: str, orders: list[dict]) -> str:
    """The dispatcher's queue as the console draws it, dispatch answering ``orders``."""
    def page_of(params, *rest):
        items = [o for o in orders if o["status"] == params.get("status")]
        return Mock(result=Mock(return_value={"total": len(items), "page": 1,
                                              "page_size": 100, "items": items}))

    gateway.dispatch.list_orders.call_async.side_effect = page_of
    gateway.dispatch.list_technicians.call_async.return_value.result.return_value = []
    return gateway.console_dispatch_queue(_get("/console/dispatch/queue", session_id)
                                          ).get_data(as_text=True)


def test_an_order_forecast_late_is_marked_on_the_queue_with_its_time_and_jobs_ahead():
    gateway, session_id, _ = _signed_in("demo-dispatcher-sh", "dispatcher")
    late = {"order_id": "SH-20261203-000003", "status": "accepted", "priority": "normal",
            "zone": "standard", "customer": {"name": "赵", "phone": "137****1111"},
            "deadlines": {"arrival": "2026-12-03T15:00:00+08:00"},
            "forecast": {"arrival": "2026-12-03T16:10:00+08:00", "late": True,
                         "reason": {"jobs_ahead": 2, "shift_wait_minutes": 0,
                                    "trip_minutes": 25}}}
    on_time = {**late, "order_id": "SH-20261203-000004",
               "forecast": {**late["forecast"], "late": False}}
    page = _queue_page(gateway, session_id, [late, on_time])
    assert page.count("data-forecast-late") == 1
    assert "预计晚到" in page and "前面工单 2" in page and "16:10" in page


def test_a_held_earnings_decision_goes_to_the_api_as_the_finance_user():
    gateway, session_id, csrf = _signed_in("demo-finance-sh", "finance")
    review = gateway.billing.review_earning.call_async.return_value.result
    review.return_value = {"order_id": "SH-20261202-000701", "state": "released"}
    response = gateway.console_work_action(_post(
        "/console/work/finance/review", session_id,
        {"csrf": csrf, "order_id": "SH-20261202-000701", "action": "reduce",
         "amount": "35.00", "reason": " 照片只显示清洁 "}), screen="finance", name="review")
    assert response.status_code == 303
    order_id, body = gateway.billing.review_earning.call_async.call_args.args[:2]
    assert (order_id, body) == ("SH-20261202-000701", {
        "action": "reduce", "reason": "照片只显示清洁", "amount_fen": 3500})
    assert worklists.review_body(MultiDict({"action": "withhold", "reason": "返修",
                                            "amount": ""})) == {"action": "withhold",
                                                                "reason": "返修"}


def test_a_work_list_reads_its_own_filters_and_page_from_the_query_string():
    stock, complaints = worklists.LISTS["stock"], worklists.LISTS["complaints"]
    args = MultiDict({"stock.sku": " THERM-01 ", "stock.page": "3", "stock.unknown": "x",
                      "complaints.status": "open", "stock.below": ""})
    assert stock.request(args) == {"page_size": 100, "sku": "THERM-01", "page": 3}
    assert complaints.request(args) == {"page_size": 50, "status": "open"}
    assert stock.request(MultiDict({"stock.page": "-2"})) == {"page_size": 100}


@pytest.mark.parametrize(("query", "body", "page"), [
    ({"page_size": 50}, {"total": 120, "items": [{}] * 50}, worklists.Page(1, 120, True)),
    ({"page_size": 50, "page": 3}, {"total": 120, "items": [{}] * 20},
     worklists.Page(3, 120, False)),
    ({"page_size": 2}, {"items": [{}, {}]}, worklists.Page(1, None, True)),  # no total
    ({"page_size": 2}, {"items": [{}]}, worklists.Page(1, None, False)),
])
def test_a_work_list_knows_whether_there_is_a_next_page(query, body, page):
    assert worklists.page_of(worklists.LISTS["bills"], query, body) == page


def test_every_filter_choice_has_words_in_both_languages():
    for work_list in worklists.LISTS.values():
        for wanted in work_list.filters:
            for code in wanted.choices:
                key = f"{wanted.vocabulary}.{code}"
                assert key in i18n.MESSAGES, key


def test_an_order_nobody_is_qualified_for_is_marked_on_the_queue_with_what_is_missing():
    gateway, session_id, _ = _signed_in("demo-dispatcher-sh", "dispatcher")
    stuck = {"order_id": "SH-20261203-000005", "status": "new", "priority": "normal",
             "zone": "remote", "customer": {"name": "钱", "phone": "136****3333"},
             "unqualified": {"missing": ["gas"], "zone": "remote", "zone_covered": True,
                             "since": "2026-12-03T10:00:00+08:00"}}
    uncovered = {**stuck, "order_id": "SH-20261203-000006",
                 "unqualified": {**stuck["unqualified"], "missing": [],
                                 "zone_covered": False}}
    plain_order = {**stuck, "order_id": "SH-20261203-000007", "unqualified": None}
    page = _queue_page(gateway, session_id, [stuck, uncovered, plain_order])
    assert page.count("data-unqualified") == 2
    assert "无合格技师：缺 gas 证" in page
    assert "无合格技师：无人覆盖 " in page
