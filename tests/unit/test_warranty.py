"""Warranty (三包) periods: month arithmetic, start date, status at the boundaries."""

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.warranty import (
    Warranty,
    WarrantyPolicy,
    add_months,
    assess,
    warranty_start,
)

GAS_WATER_HEATER = WarrantyPolicy(12, 36, ("heat_exchanger", "burner", "controller"), True)
AIR_CONDITIONER = WarrantyPolicy(72, 72, ("compressor",), True)
GAS_STOVE = WarrantyPolicy(12, 36, ("valve",), False)


class TestAddMonths:
    @pytest.mark.parametrize(("start", "months", "expected"), [
        (date(2025, 3, 10), 12, date(2026, 3, 10)),
        (date(2025, 11, 15), 2, date(2026, 1, 15)),   # across the year end
        (date(2025, 12, 31), 1, date(2026, 1, 31)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),    # leap year clamp
        (date(2023, 1, 31), 1, date(2023, 2, 28)),    # common year clamp
        (date(2025, 3, 31), 1, date(2025, 4, 30)),    # 30-day month clamp
        (date(2024, 2, 29), 12, date(2025, 2, 28)),   # 29 Feb + 1 year
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2020, 6, 15), 72, date(2026, 6, 15)),
        (date(2025, 5, 20), 0, date(2025, 5, 20)),
        (date(2025, 5, 20), 120, date(2035, 5, 20)),
    ])
    def test_examples(self, start, months, expected):
        assert add_months(start, months) == expected

    @settings(max_examples=200, deadline=None)
    @given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
           months=st.integers(min_value=0, max_value=240))
    def test_same_day_months_later_clamped_to_month_end(self, start, months):
        result = add_months(start, months)
        assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
        last_day = calendar.monthrange(result.year, result.month)[1]
        assert result.day == min(start.day, last_day)

    @settings(max_examples=200, deadline=None)
    @given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
           months=st.integers(min_value=0, max_value=120))
    def test_monotonic_in_months(self, start, months):
        assert add_months(start, months) < add_months(start, months + 1)


class TestWarrantyStart:
    def test_installed_products_start_at_installation(self):
        assert warranty_start(GAS_WATER_HEATER, date(2025, 3, 1), date(2025, 3, 20)) == date(
            2025, 3, 20)

    def test_installed_products_without_installation_date_start_at_purchase(self):
        assert warranty_start(GAS_WATER_HEATER, date(2025, 3, 1), None) == date(2025, 3, 1)

    def test_other_products_start_at_purchase_even_if_installed(self):
        assert warranty_start(GAS_STOVE, date(2025, 3, 1), date(2025, 3, 20)) == date(2025, 3, 1)

    def test_other_products_fall_back_to_installation(self):
        assert warranty_start(GAS_STOVE, None, date(2025, 3, 20)) == date(2025, 3, 20)

    def test_no_date_at_all(self):
        assert warranty_start(GAS_WATER_HEATER, None, None) is None
        assert warranty_start(GAS_STOVE, None, None) is None


class TestAssess:
    START = date(2025, 3, 10)

    @pytest.mark.parametrize(("on", "status"), [
        (date(2025, 3, 10), "in_warranty"),
        (date(2026, 3, 9), "in_warranty"),        # last day of the 12 months
        (date(2026, 3, 10), "main_parts_only"),   # whole-unit period has ended
        (date(2028, 3, 9), "main_parts_only"),    # last day of the 36 months
        (date(2028, 3, 10), "out_of_warranty"),
        (date(2031, 1, 1), "out_of_warranty"),
    ])
    def test_boundaries(self, on, status):
        warranty = assess(GAS_WATER_HEATER, None, self.START, on)
        assert warranty.status == status
        assert warranty.start_date == self.START
        assert warranty.whole_unit_until == date(2026, 3, 10)
        assert warranty.main_parts_until == date(2028, 3, 10)
        assert warranty.main_parts == ("heat_exchanger", "burner", "controller")

    def test_installation_date_decides_for_installed_products(self):
        # Bought a year and a day before, installed later: still covered as a whole.
        warranty = assess(GAS_WATER_HEATER, date(2025, 1, 5), date(2025, 3, 10),
                          date(2026, 1, 6))
        assert warranty.status == "in_warranty"
        assert warranty.start_date == date(2025, 3, 10)

    def test_purchase_date_decides_for_other_products(self):
        warranty = assess(GAS_STOVE, date(2025, 1, 5), date(2025, 3, 10), date(2026, 1, 6))
        assert warranty.status == "main_parts_only"
        assert warranty.start_date == date(2025, 1, 5)

    def test_equal_periods_have_no_main_parts_only_phase(self):
        start = date(2020, 6, 15)
        assert assess(AIR_CONDITIONER, start, None, date(2026, 6, 14)).status == "in_warranty"
        assert assess(AIR_CONDITIONER, start, None,
                      date(2026, 6, 15)).status == "out_of_warranty"

    def test_main_part_period_never_shorter_than_whole_unit(self):
        odd = WarrantyPolicy(24, 6, ("motor",), False)
        warranty = assess(odd, date(2025, 1, 1), None, date(2026, 6, 1))
        assert warranty.status == "in_warranty"
        assert warranty.main_parts_until == warranty.whole_unit_until == date(2027, 1, 1)
        assert assess(odd, date(2025, 1, 1), None,
                      date(2027, 1, 1)).status == "out_of_warranty"

    def test_month_end_purchase(self):
        policy = WarrantyPolicy(1, 1, (), False)
        assert assess(policy, date(2025, 1, 31), None, date(2025, 2, 27)).status == (
            "in_warranty")
        assert assess(policy, date(2025, 1, 31), None, date(2025, 2, 28)).status == (
            "out_of_warranty")

    def test_unknown_without_any_date(self):
        warranty = assess(GAS_WATER_HEATER, None, None, date(2026, 1, 1))
        assert warranty == Warranty("unknown", None, None, None,
                                    ("heat_exchanger", "burner", "controller"))
        assert warranty.as_dict() == {
            "status": "unknown", "start_date": None, "whole_unit_until": None,
            "main_parts_until": None, "main_parts": ["heat_exchanger", "burner", "controller"],
        }

    def test_as_dict_uses_iso_dates(self):
        warranty = assess(GAS_WATER_HEATER, date(2025, 3, 1), None, date(2025, 4, 1))
        assert warranty.as_dict() == {
            "status": "in_warranty", "start_date": "2025-03-01",
            "whole_unit_until": "2026-03-01", "main_parts_until": "2028-03-01",
            "main_parts": ["heat_exchanger", "burner", "controller"],
        }

    @settings(max_examples=200, deadline=None)
    @given(start=st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)),
           offset=st.integers(min_value=0, max_value=365 * 8))
    def test_status_only_gets_worse_over_time(self, start, offset):
        order = ["in_warranty", "main_parts_only", "out_of_warranty"]
        on = start + timedelta(days=offset)
        earlier = assess(GAS_WATER_HEATER, start, None, on).status
        later = assess(GAS_WATER_HEATER, start, None, on + timedelta(days=1)).status
        assert order.index(earlier) <= order.index(later)
