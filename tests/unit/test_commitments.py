"""Published commitments: duration parsing, rule selection, deadlines, per-branch overrides."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.common.domain.calendars import AlwaysCalendar, OfficeCalendar
from services.common.domain.commitments import MILESTONES, Commitments, parse_duration
from services.common.reference import ZONES, load_reference

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERENCE = load_reference("deploy/config/reference.yaml")
COMMITMENTS = REFERENCE.commitments
OFFICE = REFERENCE.calendars["office"]
ALWAYS = REFERENCE.calendars["24x7"]
H = timedelta(hours=1)
OFFICE_DAY = timedelta(hours=8, minutes=30)
DISPATCHED = ("installation", "repair", "maintenance", "return_exchange")


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def target(branch, zone, request_type, priority, milestone):
    rule = COMMITMENTS.rule(branch, zone, request_type, priority, milestone)
    return None if rule is None else rule.target


# -- parse_duration --------------------------------------------------------------------

class TestParseDuration:
    @pytest.mark.parametrize(("text", "expected"), [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        (" 48h ", timedelta(hours=48)),
        ("0m", timedelta(0)),
    ])
    def test_plain_units(self, text, expected):
        assert parse_duration(text, OFFICE) == expected
        assert parse_duration(text, ALWAYS) == expected

    def test_working_days_follow_the_calendar(self):
        assert parse_duration("2wd", OFFICE) == 2 * OFFICE_DAY
        assert parse_duration("0.5wd", OFFICE) == OFFICE_DAY / 2
        assert parse_duration("1wd", ALWAYS) == timedelta(hours=24)
        short = OfficeCalendar("short", SHANGHAI, frozenset(range(5)), time(10), time(14))
        assert parse_duration("3wd", short) == timedelta(hours=12)

    @pytest.mark.parametrize("text", ["", "2", "h", "2 h", "-1h", "2w", "2hours", "1h30m",
                                      "2H", ".5h", "2wd2"])
    def test_rejects_other_text(self, text):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(text, OFFICE)


# -- the published demo table ----------------------------------------------------------

class TestReferenceTable:
    @pytest.mark.parametrize(("zone", "priority", "expected"), [
        ("standard", "emergency", timedelta(minutes=30)),
        ("intensive", "emergency", timedelta(minutes=30)),
        ("remote", "emergency", timedelta(minutes=30)),
        ("standard", "normal", 2 * H),
        ("intensive", "high", 2 * H),
        ("remote", "normal", 4 * H),
    ])
    def test_first_contact(self, zone, priority, expected):
        for request_type in DISPATCHED:
            assert target("SH", zone, request_type, priority, "first_contact") == expected

    @pytest.mark.parametrize(("zone", "priority", "expected"), [
        ("standard", "emergency", 2 * H),
        ("intensive", "emergency", 2 * H),
        ("remote", "emergency", 2 * H),
        ("standard", "normal", 24 * H),
        ("intensive", "normal", 12 * H),
        ("remote", "high", 48 * H),
    ])
    def test_arrival_for_repairs(self, zone, priority, expected):
        for request_type in ("repair", "maintenance", "return_exchange"):
            rule = COMMITMENTS.rule("SZ", zone, request_type, priority, "arrival")
            assert rule.target == expected
            assert isinstance(rule.calendar, AlwaysCalendar)

    @pytest.mark.parametrize(("zone", "working_days"), [
        ("standard", 2), ("intensive", 1), ("remote", 3)])
    @pytest.mark.parametrize("priority", ["normal", "high", "emergency"])
    def test_installation_arrival_in_office_working_days(self, zone, working_days, priority):
        rule = COMMITMENTS.rule("SH", zone, "installation", priority, "arrival")
        assert rule.calendar is OFFICE
        assert rule.target == working_days * OFFICE_DAY

    @pytest.mark.parametrize(("zone", "priority", "expected"), [
        ("standard", "emergency", 24 * H),
        ("remote", "emergency", 24 * H),
        ("standard", "normal", 48 * H),
        ("intensive", "normal", 24 * H),
        ("remote", "high", 72 * H),
    ])
    def test_resolution_pauses_while_waiting_parts(self, zone, priority, expected):
        for request_type in DISPATCHED:
            rule = COMMITMENTS.rule("SH", zone, request_type, priority, "resolution")
            assert rule.target == expected
            assert rule.pause_on == ("waiting_parts", "customer_away")
            assert rule.milestone == "resolution"

    def test_first_contact_never_pauses_and_arrival_only_for_the_customer(self):
        rule = COMMITMENTS.rule
        assert rule("SH", "standard", "repair", "normal", "first_contact").pause_on == ()
        for request_type in DISPATCHED:  # installations too (their own calendar)
            assert rule("SH", "standard", request_type, "normal", "arrival").pause_on == (
                "customer_away",)

    def test_unknown_zone_has_no_commitment(self):
        assert COMMITMENTS.rule("SH", "nowhere", "repair", "normal", "arrival") is None
        # ...but emergency targets do not depend on the zone.
        assert target("SH", "nowhere", "repair", "emergency", "arrival") == 2 * H

    def test_target_seconds(self):
        rule = COMMITMENTS.rule("SH", "standard", "repair", "emergency", "first_contact")
        assert rule.target_seconds == 1800.0


class TestDeadlines:
    def test_emergency_repair(self):
        received = sh(2026, 3, 7, 22, 0)  # a Saturday night: 24x7 clocks keep running
        assert COMMITMENTS.deadlines("SH", "standard", "repair", "emergency", received) == {
            "first_contact": sh(2026, 3, 7, 22, 30),
            "arrival": sh(2026, 3, 8, 0, 0),
            "resolution": sh(2026, 3, 8, 22, 0),
        }

    def test_installation_from_friday_afternoon(self):
        deadlines = COMMITMENTS.deadlines("SH", "standard", "installation", "normal",
                                          sh(2026, 3, 6, 17, 0))
        assert deadlines["arrival"] == sh(2026, 3, 10, 17, 0)  # Tuesday 17:00 (README)
        assert deadlines["first_contact"] == sh(2026, 3, 6, 19, 0)
        assert deadlines["resolution"] == sh(2026, 3, 8, 17, 0)
        assert all(value.tzinfo is UTC for value in deadlines.values())

    def test_installation_over_a_holiday(self):
        deadlines = COMMITMENTS.deadlines("SH", "remote", "installation", "normal",
                                          sh(2026, 9, 30, 9, 0))
        # Wednesday 30 Sep gives 1 working day; 1-7 Oct is the National Day holiday and
        # weekend, so the clock restarts Thursday 8 Oct and runs out Friday at closing.
        assert deadlines["arrival"] == sh(2026, 10, 9, 17, 30)

    def test_unknown_zone_gives_only_the_zone_independent_milestones(self):
        assert COMMITMENTS.deadlines("SH", "nowhere", "repair", "normal",
                                     sh(2026, 3, 9, 10)) == {}

    def test_deadlines_cover_every_milestone_in_known_zones(self):
        for zone in ZONES:
            deadlines = COMMITMENTS.deadlines("SZ", zone, "maintenance", "normal",
                                              sh(2026, 3, 9, 10))
            assert set(deadlines) == set(MILESTONES)
            assert deadlines["first_contact"] < deadlines["arrival"] < deadlines["resolution"]


class TestPublished:
    def test_every_combination_is_published_in_seconds(self):
        published = dict(COMMITMENTS.published(["SH", "SZ"], ZONES, DISPATCHED,
                                               ("emergency", "normal")))
        assert len(published) == 2 * 3 * 4 * 2 * 3
        assert published[("SH", "standard", "first_contact", "repair", "emergency")] == 1800
        assert published[("SZ", "intensive", "arrival", "repair", "normal")] == 12 * 3600
        assert published[("SH", "remote", "arrival", "installation", "normal")] == (
            3 * 8.5 * 3600)
        assert published[("SZ", "remote", "resolution", "installation", "normal")] == 72 * 3600

    def test_thresholds_are_sorted_and_unique(self):
        thresholds = COMMITMENTS.thresholds(["SH", "SZ"], ZONES, DISPATCHED,
                                            ("emergency", "high", "normal"))
        hours = [seconds / 3600 for seconds in thresholds]
        assert hours == [0.5, 2, 4, 8.5, 12, 17, 24, 25.5, 48, 72]


# -- a small configuration with per-branch overrides -----------------------------------

CALENDARS = {"24x7": AlwaysCalendar(),
             "office": OfficeCalendar("office", SHANGHAI, frozenset(range(5)), time(9),
                                      time(17, 30))}
SMALL = {
    "default": {
        "first_contact": {"targets": {"emergency": "30m", "standard": "2h"}},
        "arrival": {
            "calendar": "24x7",
            "targets": {"emergency": "2h", "standard": "24h"},
            "by_request_type": {"installation": {"calendar": "office",
                                                 "targets": {"standard": "2wd"}}},
        },
    },
    "branches": {
        "GZ": {"arrival": {"calendar": "24x7", "targets": {"emergency": "1h", "standard": "8h"},
                           "by_request_type": {"installation": {
                               "calendar": "office", "targets": {"standard": "1wd"}}}}},
        "WH": {"first_contact": {"targets": {"emergency": "15m", "standard": "1h"}},
               "resolution": {"calendar": "24x7", "targets": {"standard": "72h"}}},
    },
}


class TestBranchOverrides:
    @pytest.fixture
    def commitments(self):
        return Commitments(SMALL, CALENDARS)

    def test_branch_override_replaces_the_default(self, commitments):
        assert commitments.rule("GZ", "standard", "repair", "normal", "arrival").target == 8 * H
        assert commitments.rule("GZ", "standard", "repair", "emergency",
                                "arrival").target == H
        assert commitments.rule("GZ", "standard", "installation", "normal",
                                "arrival").target == OFFICE_DAY

    def test_other_branches_keep_the_default(self, commitments):
        assert commitments.rule("SH", "standard", "repair", "normal", "arrival").target == 24 * H
        assert commitments.rule("SH", "standard", "installation", "normal",
                                "arrival").target == 2 * OFFICE_DAY
        assert commitments.rule("WH", "standard", "repair", "normal", "arrival").target == 24 * H

    def test_milestones_not_overridden_are_inherited(self, commitments):
        assert commitments.rule("GZ", "standard", "repair", "emergency",
                                "first_contact").target == timedelta(minutes=30)
        assert commitments.rule("WH", "standard", "repair", "emergency",
                                "first_contact").target == timedelta(minutes=15)

    def test_a_branch_may_add_a_milestone(self, commitments):
        assert commitments.rule("SH", "standard", "repair", "normal", "resolution") is None
        assert commitments.rule("WH", "standard", "repair", "normal",
                                "resolution").target == 72 * H
        assert set(commitments.deadlines("WH", "standard", "repair", "normal",
                                         sh(2026, 3, 9, 10))) == set(MILESTONES)
        assert set(commitments.deadlines("SH", "standard", "repair", "normal",
                                         sh(2026, 3, 9, 10))) == {"first_contact", "arrival"}

    def test_calendar_defaults_to_24x7(self, commitments):
        rule = commitments.rule("SH", "standard", "repair", "normal", "first_contact")
        assert isinstance(rule.calendar, AlwaysCalendar)

    def test_deadlines_per_branch(self, commitments):
        received = sh(2026, 3, 6, 17, 0)  # Friday
        gz = commitments.deadlines("GZ", "standard", "installation", "normal", received)
        sh_ = commitments.deadlines("SH", "standard", "installation", "normal", received)
        assert gz["arrival"] == sh(2026, 3, 9, 17, 0)    # 1 working day
        assert sh_["arrival"] == sh(2026, 3, 10, 17, 0)  # 2 working days

    def test_published_reflects_overrides(self, commitments):
        published = dict(commitments.published(["GZ", "SH"], ("standard",), ("repair",),
                                               ("normal",)))
        assert published == {
            ("GZ", "standard", "first_contact", "repair", "normal"): 7200.0,
            ("GZ", "standard", "arrival", "repair", "normal"): 8 * 3600.0,
            ("SH", "standard", "first_contact", "repair", "normal"): 7200.0,
            ("SH", "standard", "arrival", "repair", "normal"): 24 * 3600.0,
        }

    def test_empty_configuration_publishes_nothing(self):
        empty = Commitments({}, CALENDARS)
        assert empty.rule("SH", "standard", "repair", "normal", "arrival") is None
        assert empty.deadlines("SH", "standard", "repair", "normal", sh(2026, 3, 9)) == {}


class TestValidationOnStart:
    def test_bad_duration_in_a_branch_fails_at_construction(self):
        config = {"default": {}, "branches": {"GZ": {"arrival": {"targets": {"standard": "8x"}}}}}
        with pytest.raises(ValueError, match="not a duration"):
            Commitments(config, CALENDARS)

    def test_bad_duration_in_a_request_type_override_fails_at_construction(self):
        config = {"default": {"arrival": {"targets": {"standard": "8h"}, "by_request_type": {
            "installation": {"calendar": "office", "targets": {"standard": "two days"}}}}}}
        with pytest.raises(ValueError, match="not a duration"):
            Commitments(config, CALENDARS)

    def test_unknown_calendar_fails_at_construction(self):
        config = {"default": {"arrival": {"calendar": "lunar", "targets": {"standard": "8h"}}}}
        with pytest.raises(ValueError, match="unknown calendar 'lunar'"):
            Commitments(config, CALENDARS)
