"""Callback rules: outcomes, the attempt schedule, money, HQ audit sampling and
comparison, month rates, schedule periods, and how dispatch closes on a verdict."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.callbacks.domain import rules, schedules
from services.callbacks.domain.rules import Answers
from services.common.domain.money import to_fen, yuan
from services.dispatch.domain.lifecycle import callback_verdict

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)
OFFSETS = (4 * H, timedelta(days=1), timedelta(days=2))


def _answers(fixed=True, satisfaction=5) -> Answers:
    return Answers(fixed=fixed, on_time=True, attitude=5, satisfaction=satisfaction,
                   paid_fen=0)


class TestClassify:
    @pytest.mark.parametrize(("fixed", "score", "outcome"), [
        (True, 5, "satisfied"), (True, 4, "satisfied"), (True, 3, "neutral"),
        (True, 2, "dissatisfied"), (True, 1, "dissatisfied"), (False, 5, "not_fixed"),
        (False, 1, "not_fixed")])
    def test_outcome(self, fixed, score, outcome):
        assert rules.classify(_answers(fixed, score)) == outcome

    def test_not_reached_is_unreachable(self):
        assert rules.classify(None) == "unreachable"


class TestMoney:
    def test_half_fen_rounds_up(self):
        assert to_fen(Decimal("12.345")) == 1235
        assert yuan(1235) == "12.35"

    def test_paid_differs_only_against_a_known_bill(self):
        assert rules.paid_differs(20000, 15000)
        assert not rules.paid_differs(15000, 15000)
        assert not rules.paid_differs(20000, None)


class TestAttempts:
    def test_first_call_after_completion_or_at_the_customers_time(self):
        assert rules.first_due(T0, OFFSETS, None) == T0 + 4 * H
        assert rules.first_due(T0, OFFSETS, T0 + 30 * H) == T0 + 30 * H

    def test_next_day_then_the_day_after_then_unreachable(self):
        first = T0 + 4 * H
        assert rules.next_attempt_due(first, OFFSETS, 1, first) == T0 + timedelta(days=1)
        assert rules.next_attempt_due(first, OFFSETS, 2, first) == T0 + timedelta(days=2)
        assert rules.next_attempt_due(first, OFFSETS, 3, first) is None

    def test_a_late_call_is_never_retried_in_the_past(self):
        late = T0 + timedelta(days=3)
        assert rules.next_attempt_due(T0 + 4 * H, OFFSETS, 1, late) == late


class TestAuditSampling:
    @settings(max_examples=20, deadline=None)
    @given(branch=st.sampled_from(["SH", "SZ", "BJ"]), share=st.sampled_from([0.05, 0.1, 0.25]),
           start=st.integers(min_value=0, max_value=10_000))
    def test_rate_holds_on_1000_callbacks(self, branch, share, start):
        sampled = sum(rules.audit_sampled(branch, seq, share) for seq in
                      range(start, start + 1000))
        # Exact per block of 100: a window of 1,000 is off by at most one block's picks.
        assert abs(sampled - share * 1000) <= share * rules.AUDIT_BLOCK

    def test_every_replica_draws_the_same_and_branches_differ(self):
        sh = [rules.audit_sampled("SH", seq, 0.1) for seq in range(200)]
        assert sh == [rules.audit_sampled("SH", seq, 0.1) for seq in range(200)]
        assert sh != [rules.audit_sampled("SZ", seq, 0.1) for seq in range(200)]

    def test_no_share_samples_nothing(self):
        assert not any(rules.audit_sampled("SH", seq, 0.0) for seq in range(100))


class TestDiscrepancies:
    BRANCH = {"reached": True, "fixed": True, "on_time": True, "attitude": 5,
              "satisfaction": 5, "paid_fen": 0}

    def test_same_answers_agree(self):
        assert rules.discrepancies(self.BRANCH, dict(self.BRANCH)) == []

    def test_a_point_apart_is_no_contradiction(self):
        assert rules.discrepancies(self.BRANCH, {**self.BRANCH, "satisfaction": 4}) == []

    def test_contradictions_are_named(self):
        hq = {**self.BRANCH, "fixed": False, "satisfaction": 2, "paid_fen": 5000}
        assert rules.discrepancies(self.BRANCH, hq) == ["fixed", "satisfaction", "paid_fen"]

    def test_a_customer_who_was_never_called(self):
        assert rules.discrepancies(self.BRANCH, {"reached": False}) == ["reached"]


class TestMonthRates:
    def test_rates(self):
        done = [{"outcome": "satisfied", "first_visit": True},
                {"outcome": "satisfied", "first_visit": False},
                {"outcome": "not_fixed", "first_visit": True},
                {"outcome": "neutral", "first_visit": True},
                {"outcome": "unreachable", "first_visit": True}]
        rates = rules.month_rates(done, [{"discrepancies": ["fixed"]}, {"discrepancies": []}])
        assert (rates.done, rates.reached) == (5, 4)
        assert rates.satisfaction == 0.5
        assert rates.first_time_fix == pytest.approx(2 / 3)
        assert rates.repeat_repair == 0.25
        assert rates.unreachable == 0.2
        assert rates.audit_discrepancy == 0.5

    def test_no_callbacks_no_figures(self):
        rates = rules.month_rates([], [])
        assert rates.satisfaction is None and rates.audit_discrepancy is None


class TestSchedules:
    def test_periods(self):
        jan31 = datetime(2026, 1, 31, 1, 0, tzinfo=UTC)
        assert schedules.following_run("maintenance_visit", jan31) == jan31.replace(
            month=2, day=28)
        assert schedules.following_run("inspection", jan31) == jan31.replace(month=4, day=30)
        assert schedules.following_run("key_customer_care", jan31).month == 7
        assert schedules.following_run("long_term_care", jan31).year == 2027
        assert schedules.following_run("campaign", jan31) is None

    def test_task_ids_name_the_period_and_unit(self):
        at = datetime(2026, 5, 1, tzinfo=UTC)
        assert schedules.task_id("AC-2026", at, "SN1") == "SV-AC-2026-20260501-SN1"


class TestDispatchVerdict:
    @pytest.mark.parametrize(("outcome", "verdict"), [
        ("satisfied", True), ("unreachable", False), ("not_fixed", None),
        ("dissatisfied", None), ("neutral", None)])
    def test_completed_orders(self, outcome, verdict):
        assert callback_verdict("completed", outcome) is verdict

    def test_only_completed_orders_close(self):
        assert callback_verdict("closed", "satisfied") is None
        assert callback_verdict("on_site", "unreachable") is None
