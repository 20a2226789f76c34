"""Complaint rules: lifecycle, severity, matters, the escalation ladder, penalties, the
callback trigger, money, deadlines and the complaint rate."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.domain.money import to_fen
from services.common.reference import load_reference
from services.complaints.domain import rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
COMMITMENTS = load_reference("deploy/config/reference.yaml").commitments


def due(milestone: str, start: datetime) -> datetime:
    rule = COMMITMENTS.rule("SH", "any", "complaint", "medium", milestone)
    return rule.calendar.add(start, rule.target).astimezone(SHANGHAI)


def test_a_friday_afternoon_complaint_is_investigated_by_wednesday_afternoon():
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)
    assert due("complaint_ack", friday) == friday + timedelta(hours=24)
    assert due("complaint_investigation", friday) == datetime(2026, 11, 25, 16, 0,
                                                              tzinfo=SHANGHAI)


def test_investigation_days_skip_holidays():
    # Wed 30 Sep 10:00: 7.5 h that day, National Day (1-7 Oct) closed, Thu 8 and Fri 9
    # give 17 h, and the last hour falls on Saturday 10 October, a working day in
    # exchange (调休).
    before_national_day = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    assert due("complaint_investigation", before_national_day) == datetime(
        2026, 10, 10, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("action", "status", "target"), [
    ("acknowledge", "open", "acknowledged"), ("conclude", "acknowledged", "investigated"),
    ("resolve", "investigated", "resolved"), ("confirm", "resolved", "closed"),
    ("reopen", "closed", "acknowledged"), ("reopen", "resolved", "acknowledged")])
def test_lifecycle_steps(action, status, target):
    assert rules.next_status(action, status) == target


@pytest.mark.parametrize(("action", "status"), [
    ("conclude", "open"), ("resolve", "acknowledged"), ("confirm", "investigated"),
    ("reopen", "open"), ("acknowledge", "closed")])
def test_illegal_steps_are_refused(action, status):
    with pytest.raises(rules.IllegalStep):
        rules.next_status(action, status)


def test_severity_rises_one_step_up_to_critical():
    assert rules.initial_severity("hotline") == "medium"
    assert rules.initial_severity("12315") == "high"
    assert rules.initial_severity("web", "low") == "low"
    assert [rules.raise_severity(s) for s in rules.SEVERITIES] == [
        "medium", "high", "critical", "critical"]


def test_the_same_matter_is_the_order_else_the_customer_and_unit():
    assert rules.matter_key("SH", ["SH-1", "SH-0"], "138", "SN", "other") == "SH|order:SH-0"
    assert rules.matter_key("SH", [], "138", "SN", "other") == "SH|phone:138|unit:SN"
    assert rules.matter_key("SH", [], "138", None, "charges") == "SH|phone:138|unit:charges"


def test_escalation_ladder_stops_at_hq():
    assert rules.escalation_after_breach("branch") == "supervisor"
    assert rules.escalation_after_breach("supervisor") == "hq"
    assert rules.escalation_after_breach("hq") is None


def test_penalty_only_for_complaints_above_the_branch_with_service_responsibility():
    points = {"technician": 3, "branch": 5}
    assert rules.penalty("technician", "SH-T01", True, points) == {
        "party": "technician", "party_id": "SH-T01", "points": 3}
    assert rules.penalty("technician", "SH-T01", False, points) is None
    assert rules.penalty("product_quality", None, True, points) is None
    assert rules.penalty("service_centre", "SC-1", True, points)["points"] == 0


@pytest.mark.parametrize(("data", "category"), [
    ({"satisfaction": 2, "attitude": 1}, "attitude"),
    ({"satisfaction": 1, "on_time": False}, "timeliness"),
    ({"satisfaction": 2, "fixed": False}, "repair_quality"),
    ({"outcome": "dissatisfied"}, "other"),
    ({"satisfaction": 5, "paid_differs": True}, "charges"),
])
def test_unhappy_or_overcharged_callbacks_open_complaints(data, category):
    assert rules.callback_complaint(data).category == category


@pytest.mark.parametrize("data", [{"satisfaction": 3}, {"satisfaction": 5},
                                  {"outcome": "unreachable", "satisfaction": None}, {}])
def test_other_callbacks_open_nothing(data):
    assert rules.callback_complaint(data) is None


def test_money_is_fen_rounded_half_up():
    assert to_fen(Decimal("199.995")) == 20000
    assert to_fen(Decimal("0.005")) == 1
    assert to_fen(Decimal("12")) == 1200


@given(st.decimals(min_value=0, max_value=10**6, places=2))
def test_fen_round_trips_whole_fen(amount):
    assert Decimal(to_fen(amount)) / 100 == amount


def test_month_is_the_branch_local_month_and_rate_guards_zero():
    late = datetime(2026, 11, 30, 17, 0, tzinfo=ZoneInfo("UTC"))  # 1 December in Shanghai
    assert rules.month_of(late, SHANGHAI) == "2026-12"
    assert rules.complaint_rate(3, 100) == 0.03
    assert rules.complaint_rate(1, 0) == 0.0
