"""Who may take an order (certificates, zone, cap, shift) and who is asked first."""

import math
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.domain.geo import EARTH_RADIUS_KM, haversine_km
from services.common.reference import load_reference
from services.dispatch.domain.matching import (
    Shift,
    Technician,
    is_eligible,
    parse_shift,
    rank_candidates,
    required_certificates,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERENCE = load_reference("deploy/config/reference.yaml")
SHIFTS = {name: parse_shift(spec) for name, spec in REFERENCE.shifts.items()}
HUANGPU = (31.2317, 121.4846)
XUHUI = (31.1885, 121.4365)
PUDONG = (31.2213, 121.5447)
# Monday 2026-03-09, 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def tech(technician_id="T1", *, certificates=("gas",), zones=("intensive",), at=HUANGPU,
         shift="always", cap=3, active_jobs=0, active=True) -> Technician:
    return Technician(technician_id, frozenset(certificates), frozenset(zones), at[0], at[1],
                      shift, cap, active_jobs, active)


# -- shifts ----------------------------------------------------------------------------

class TestShift:
    def test_parse_shift(self):
        assert SHIFTS["office"] == Shift(frozenset(range(5)), time(9), time(17, 30))
        assert SHIFTS["night"] == Shift(frozenset(range(7)), time(20), time(8))
        assert SHIFTS["always"].end == time(23, 59, 59, 999999)

    @pytest.mark.parametrize(("instant", "expected"), [
        (sh(2026, 3, 9, 9, 0), True),        # start is inclusive
        (sh(2026, 3, 9, 17, 29), True),
        (sh(2026, 3, 9, 17, 30), False),     # end is exclusive
        (sh(2026, 3, 9, 8, 59), False),
        (sh(2026, 3, 7, 10, 0), False),      # Saturday
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), True),   # 10:00 in Shanghai
        (datetime(2026, 3, 9, 10, 0, tzinfo=UTC), False),  # 18:00 in Shanghai
    ])
    def test_day_shift(self, instant, expected):
        assert SHIFTS["office"].covers(instant) is expected

    @pytest.mark.parametrize(("instant", "expected"), [
        (sh(2026, 3, 9, 20, 0), True),       # Monday evening
        (sh(2026, 3, 9, 23, 59), True),
        (sh(2026, 3, 10, 0, 0), True),       # after midnight: still Monday's shift
        (sh(2026, 3, 10, 7, 59), True),
        (sh(2026, 3, 10, 8, 0), False),
        (sh(2026, 3, 9, 12, 0), False),
        (sh(2026, 3, 9, 19, 59), False),
        (sh(2026, 3, 14, 3, 0), True),       # Saturday small hours: Friday night's shift
        (sh(2026, 3, 14, 21, 0), False),     # Saturday evening: no shift starts
        (sh(2026, 3, 15, 3, 0), False),      # Sunday small hours: no Saturday shift
        (sh(2026, 3, 9, 3, 0), False),       # Monday small hours: no Sunday shift
    ])
    def test_overnight_shift_belongs_to_the_day_it_starts(self, instant, expected):
        weeknights = Shift(frozenset(range(5)), time(20), time(8))
        assert weeknights.covers(instant) is expected

    def test_reference_shifts(self):
        sunday_night = sh(2026, 3, 8, 23, 0)
        assert SHIFTS["always"].covers(sunday_night)
        assert SHIFTS["night"].covers(sunday_night)
        assert not SHIFTS["day"].covers(sunday_night)
        assert not SHIFTS["office"].covers(sunday_night)
        assert SHIFTS["always"].covers(sh(2026, 3, 8, 23, 59, 59))

    @settings(max_examples=200, deadline=None)
    @given(instant=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1),
                                timezones=st.just(UTC)))
    def test_day_and_night_shifts_cover_every_instant_exactly_once(self, instant):
        assert SHIFTS["day"].covers(instant) != SHIFTS["night"].covers(instant)


# -- certificates ----------------------------------------------------------------------

class TestRequiredCertificates:
    RULES = REFERENCE.certificate_rules

    @pytest.mark.parametrize(("category", "request_type", "expected"), [
        ("electric_water_heater", "installation", {"ewh_install", "electrical"}),
        ("electric_water_heater", "repair", {"electrical"}),
        ("gas_water_heater", "installation", {"gas"}),
        ("gas_stove", "repair", {"gas"}),
        ("air_conditioner", "maintenance", {"refrigeration"}),
        ("range_hood", "installation", {"appliance"}),
        ("dishwasher", "repair", set()),
    ])
    def test_reference_rules(self, category, request_type, expected):
        assert required_certificates(self.RULES, category, request_type) == expected

    def test_rule_without_request_type_key(self):
        rules = [{"category": "x", "certificate": "a"},
                 {"category": "x", "request_type": "repair", "certificate": "b"}]
        assert required_certificates(rules, "x", "repair") == {"a", "b"}
        assert required_certificates(rules, "x", "installation") == {"a"}


# -- distance --------------------------------------------------------------------------

class TestHaversine:
    def test_same_point_is_zero(self):
        assert haversine_km(*HUANGPU, *HUANGPU) == 0

    def test_one_degree_of_latitude(self):
        assert haversine_km(0, 0, 1, 0) == pytest.approx(111.19, abs=0.01)

    def test_shanghai_to_beijing(self):
        assert haversine_km(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1067, abs=5)

    def test_huangpu_to_xuhui(self):
        assert haversine_km(*HUANGPU, *XUHUI) == pytest.approx(6.5, abs=0.5)

    def test_antipodes(self):
        assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)

    @settings(max_examples=200, deadline=None)
    @given(a=st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
           b=st.tuples(st.floats(-90, 90), st.floats(-180, 180)))
    def test_symmetric_and_bounded(self, a, b):
        there = haversine_km(*a, *b)
        assert there == pytest.approx(haversine_km(*b, *a), abs=1e-6)
        assert 0 <= there <= math.pi * EARTH_RADIUS_KM + 1e-6


# -- eligibility and ranking -----------------------------------------------------------

def rank(techs, needed=frozenset({"gas"}), zone="intensive", at=HUANGPU, now=MONDAY_10,
         exclude=()):
    ranked = rank_candidates(techs, set(needed), zone, at[0], at[1], SHIFTS, now, exclude)
    return [t.technician_id for t in ranked]


class TestRankCandidates:
    def test_eligible_technician(self):
        assert is_eligible(tech(), {"gas"}, "intensive", SHIFTS, MONDAY_10)

    @pytest.mark.parametrize("reason", [
        {"certificates": ("electrical",)},
        {"zones": ("remote",)},
        {"cap": 2, "active_jobs": 2},
        {"cap": 0},
        {"shift": "office", "now": sh(2026, 3, 9, 19, 0)},
        {"shift": "no-such-shift"},
        {"active": False},
    ])
    def test_filters(self, reason):
        now = reason.pop("now", MONDAY_10)
        candidate = tech("OUT", **reason)
        assert not is_eligible(candidate, {"gas"}, "intensive", SHIFTS, now)
        assert rank([candidate, tech("IN")], now=now) == ["IN"]

    def test_needs_every_certificate(self):
        both = tech("BOTH", certificates=("ewh_install", "electrical"))
        one = tech("ONE", certificates=("electrical",))
        assert rank([one, both], needed={"ewh_install", "electrical"}) == ["BOTH"]

    def test_no_certificate_needed(self):
        assert rank([tech("A", certificates=())], needed=set()) == ["A"]

    def test_excluded_technicians_are_skipped(self):
        assert rank([tech("A"), tech("B"), tech("C")], exclude=["A", "C"]) == ["B"]

    def test_nearest_first(self):
        techs = [tech("FAR", at=PUDONG), tech("NEAR", at=HUANGPU), tech("MID", at=XUHUI)]
        distances = {name: haversine_km(*HUANGPU, *at) for name, at in
                     (("FAR", PUDONG), ("NEAR", HUANGPU), ("MID", XUHUI))}
        expected = sorted(distances, key=distances.get)
        assert rank(techs) == expected
        assert expected[0] == "NEAR"

    def test_equal_distance_least_loaded_first(self):
        techs = [tech("BUSY", cap=4, active_jobs=3), tech("FREE", cap=4, active_jobs=0),
                 tech("HALF", cap=2, active_jobs=1)]
        assert rank(techs) == ["FREE", "HALF", "BUSY"]

    def test_load_is_relative_to_the_cap(self):
        # 2 of 10 is less loaded than 1 of 2.
        assert rank([tech("SMALL", cap=2, active_jobs=1),
                     tech("LARGE", cap=10, active_jobs=2)]) == ["LARGE", "SMALL"]

    def test_distance_beats_load(self):
        assert rank([tech("NEAR_BUSY", at=HUANGPU, cap=5, active_jobs=4),
                     tech("FAR_FREE", at=XUHUI, cap=5, active_jobs=0)]) == [
            "NEAR_BUSY", "FAR_FREE"]

    def test_distance_within_100_m_counts_as_equal(self):
        a_little_north = (HUANGPU[0] + 0.0002, HUANGPU[1])  # ~22 m away
        assert rank([tech("ON_SPOT_BUSY", cap=5, active_jobs=4),
                     tech("NEARBY_FREE", at=a_little_north, cap=5, active_jobs=0)]) == [
            "NEARBY_FREE", "ON_SPOT_BUSY"]

    def test_ties_broken_by_id(self):
        assert rank([tech("T9"), tech("T1"), tech("T5")]) == ["T1", "T5", "T9"]

    def test_night_shift_after_midnight(self):
        night = tech("NIGHT", shift="night")
        day = tech("DAY", shift="day")
        assert rank([night, day], now=sh(2026, 3, 10, 2, 0)) == ["NIGHT"]
        assert rank([night, day], now=MONDAY_10) == ["DAY"]

    def test_nobody_eligible(self):
        assert rank([tech("A", zones=("remote",))]) == []
        assert rank([]) == []

    @settings(max_examples=100, deadline=None)
    @given(loads=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 6)), min_size=1,
                          max_size=8))
    def test_ranking_only_returns_free_technicians_sorted(self, loads):
        techs = [tech(f"T{i}", cap=cap, active_jobs=jobs) for i, (cap, jobs) in
                 enumerate(loads)]
        ranked = rank_candidates(techs, {"gas"}, "intensive", *HUANGPU, SHIFTS, MONDAY_10)
        assert {t.technician_id for t in ranked} == {
            t.technician_id for t in techs if t.active_jobs < t.cap}
        ratios = [t.active_jobs / t.cap for t in ranked]
        assert ratios == sorted(ratios)
