"""Milestone outcomes, the at-risk share, and paused clocks on their own calendars."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.domain.calendars import AlwaysCalendar
from services.common.reference import load_reference
from services.dispatch.domain.sla import Resumed, is_at_risk, outcome, paused_by, resume

ALWAYS = AlwaysCalendar()


def sh(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo("Asia/Shanghai"))


T0 = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


class TestOutcome:
    def test_no_deadline_is_met(self):
        assert outcome(T0, None) == "met"

    def test_on_the_deadline_is_met(self):
        assert outcome(T0, T0) == "met"

    def test_before_is_met(self):
        assert outcome(T0 - H, T0) == "met"

    def test_a_microsecond_late_is_breached(self):
        assert outcome(T0 + timedelta(microseconds=1), T0) == "breached"


class TestIsAtRisk:
    DEADLINE = T0 + 10 * H

    @pytest.mark.parametrize(("elapsed", "expected"), [
        (timedelta(0), False),
        (7 * H, False),
        (8 * H - timedelta(seconds=1), False),
        (8 * H, True),            # exactly 80 % of the window
        (9 * H, True),
        (10 * H - timedelta(seconds=1), True),
        (10 * H, False),          # overdue is not "at risk" any more
        (12 * H, False),
    ])
    def test_share_of_window(self, elapsed, expected):
        assert is_at_risk(T0 + elapsed, T0, self.DEADLINE, 0.8) is expected

    def test_empty_or_inverted_window_is_never_at_risk(self):
        assert not is_at_risk(T0 - H, T0, T0, 0.5)
        assert not is_at_risk(T0 - 2 * H, T0, T0 - H, 0.5)

    def test_other_shares(self):
        assert is_at_risk(T0 + 5 * H, T0, self.DEADLINE, 0.5)
        assert not is_at_risk(T0 + 5 * H, T0, self.DEADLINE, 0.6)

    @settings(max_examples=200, deadline=None)
    @given(window=st.integers(1, 10**6), first=st.integers(0, 10**6),
           second=st.integers(0, 10**6), share=st.floats(0.1, 0.99))
    def test_risk_starts_once_and_ends_at_the_deadline(self, window, first, second, share):
        deadline = T0 + timedelta(seconds=window)
        early, late = sorted((first, second))
        at_early = is_at_risk(T0 + timedelta(seconds=early), T0, deadline, share)
        at_late = is_at_risk(T0 + timedelta(seconds=late), T0, deadline, share)
        if late < window:
            assert at_early <= at_late  # once at risk, it stays so until overdue
        if early >= window:
            assert not at_early


class TestResume:
    def test_moves_by_the_pause_on_a_24x7_clock(self):
        assert resume(T0 + 24 * H, T0 + 2 * H, T0 + 5 * H, ALWAYS) == Resumed(
            T0 + 27 * H, 3 * 3600.0)

    def test_no_pause(self):
        assert resume(T0 + 24 * H, T0 + 2 * H, T0 + 2 * H, ALWAYS).deadline == T0 + 24 * H

    def test_clock_going_backwards_never_shortens(self):
        assert resume(T0 + 24 * H, T0 + 5 * H, T0 + 2 * H, ALWAYS) == Resumed(
            T0 + 24 * H, 0.0)

    def test_a_deadline_passed_before_the_pause_stays_breached(self):
        assert resume(T0, T0 + H, T0 + 3 * H, ALWAYS) == Resumed(T0, 2 * 3600.0)

    def test_an_office_clock_stands_still_for_office_hours_only(self):
        # Paused Friday 16:00 (1.5 office hours left that day, due Monday 10:00: 2.5 h
        # left), resumed Monday 09:30: the pause was 2 office hours (Fri 16:00-17:30,
        # Mon 09:00-09:30), and the 2.5 h left run from Monday 09:30 to 12:00.
        office = load_reference("deploy/config/reference.yaml").calendars["office"]
        friday, monday = sh(2026, 3, 6, 16, 0), sh(2026, 3, 9, 9, 30)
        resumed = resume(sh(2026, 3, 9, 10, 0), friday, monday, office)
        assert resumed == Resumed(sh(2026, 3, 9, 12, 0), 2 * 3600.0)


class TestPausedBy:
    def test_only_the_unreached_milestones_whose_commitment_names_the_reason(self):
        commitments = load_reference("deploy/config/reference.yaml").commitments

        def rule_of(milestone):
            return commitments.rule("SH", "standard", "repair", "normal", milestone)

        assert paused_by("waiting_parts", set(), rule_of) == ["resolution"]
        assert paused_by("waiting_parts", {"resolution"}, rule_of) == []
        assert paused_by("customer_away", set(), rule_of) == ["arrival", "resolution"]
        assert paused_by("customer_away", {"first_contact", "arrival"}, rule_of) == [
            "resolution"]
        assert paused_by("a_reason_nobody_names", set(), rule_of) == []


def test_an_approved_delay_is_neither_met_nor_breached():
    published, delayed = T0 + 2 * H, T0 + 6 * H
    assert outcome(T0 + H, delayed, published) == "met"  # on time all the same
    assert outcome(T0 + 3 * H, delayed, published) == "met_after_approved_delay"
    assert outcome(T0 + 7 * H, delayed, published) == "breached"
