"""Intake rules: priority, scope, received time, open-matter key, order numbers."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.fields import ORDER_ID
from services.common.errors import InvalidInput
from services.common.reference import load_reference
from services.intake.domain.priority import Override, PriorityRules, classify, overridden
from services.intake.domain.requests import (
    check_product_dates,
    check_received_at,
    open_order_key,
    order_number,
    scope,
)
from services.intake.domain.triage import rules_from, triage

_SPEC = load_reference("deploy/config/reference.yaml").priority
RULES = PriorityRules(tuple(_SPEC["high_channels"]), _SPEC["repeat_window_days"])
TRIAGE = rules_from(_SPEC)
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)  # a caller's clock may run this far ahead
YEAR = timedelta(days=365)


# -- priority --------------------------------------------------------------------------

class TestPriority:
    def test_hazard_beats_every_other_reason(self):
        hazards = triage(TRIAGE, "漏电了", "electric_water_heater")
        priority, reasons = classify(RULES, hazards, "media", True, "SH-20260101-000001")
        assert priority == "emergency"
        assert reasons == ["hazard:漏电"]

    def test_an_override_keeps_what_the_rules_decided(self):
        at = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
        override = Override("normal", "客户说是上周的事，现在已无气味", "agent@SH", at)
        decided = ("emergency", ["hazard:煤气味"])
        assert overridden(decided, override) == ("normal", ["hazard:煤气味", "agent_override"], {
            "priority": "normal", "reason": "客户说是上周的事，现在已无气味", "by": "agent@SH",
            "at": at, "decided": {"priority": "emergency", "reasons": ["hazard:煤气味"]}})
        assert overridden(decided, None) == ("emergency", ["hazard:煤气味"], None)

    def test_key_customer_is_high(self):
        assert classify(RULES, [], "hotline", True, None) == ("high", ["key_customer"])

    @pytest.mark.parametrize("channel", ["media", "12315"])
    def test_sensitive_channels_are_high(self, channel):
        assert classify(RULES, [], channel, False, None) == ("high", [f"channel:{channel}"])

    def test_repeat_failure_is_high(self):
        assert classify(RULES, [], "web", False, "SH-20260301-000007") == (
            "high", ["repeat_of:SH-20260301-000007"])

    def test_all_reasons_together(self):
        assert classify(RULES, [], "12315", True, "SZ-20260301-000001") == (
            "high", ["key_customer", "channel:12315", "repeat_of:SZ-20260301-000001"])

    @pytest.mark.parametrize("channel", ["hotline", "web", "letter", "fax", "email", "chat",
                                         "walk_in"])
    def test_otherwise_normal(self, channel):
        hazards = triage(TRIAGE, "空调不制冷 not cooling", "air_conditioner")
        assert classify(RULES, hazards, channel, False, None) == ("normal", [])

    def test_no_false_hazard(self):
        # "gas" alone or a water heater that heats no water is not a hazard.
        assert triage(TRIAGE, "gas water heater gives no hot water", "gas_water_heater") == []


# -- scope -----------------------------------------------------------------------------

@pytest.mark.parametrize(("request_type", "expected"), [
    ("installation", "dispatch"), ("repair", "dispatch"), ("maintenance", "dispatch"),
    ("return_exchange", "dispatch"), ("consultation", "answer"), ("complaint", "complaints"),
])
def test_scope(request_type, expected):
    assert scope(request_type) == expected


# -- received time ---------------------------------------------------------------------

class TestReceivedAt:
    def test_missing_means_now(self):
        assert check_received_at(None, NOW) == NOW

    @pytest.mark.parametrize("offset", [
        timedelta(0), -timedelta(hours=3), SKEW, -YEAR, -timedelta(days=364)])
    def test_accepted_within_bounds(self, offset):
        assert check_received_at(NOW + offset, NOW) == NOW + offset

    @pytest.mark.parametrize("offset", [SKEW + timedelta(microseconds=1),
                                        timedelta(hours=1), timedelta(days=2)])
    def test_future_beyond_clock_skew_rejected(self, offset):
        with pytest.raises(InvalidInput) as caught:
            check_received_at(NOW + offset, NOW)
        assert caught.value.status == 422
        assert caught.value.fields == {"received_at": ["Cannot be in the future."]}

    @pytest.mark.parametrize("offset", [YEAR + timedelta(microseconds=1),
                                        timedelta(days=400)])
    def test_too_old_rejected(self, offset):
        with pytest.raises(InvalidInput) as caught:
            check_received_at(NOW - offset, NOW)
        assert caught.value.fields == {"received_at": ["Cannot be more than a year ago."]}

    def test_other_timezones_compare_by_instant(self):
        beijing = datetime(2026, 3, 9, 10, 4, tzinfo=ZoneInfo("Asia/Shanghai"))  # 02:04 UTC
        assert check_received_at(beijing, NOW) == beijing


class TestProductDates:
    def test_past_dates_pass(self):
        check_product_dates(date(2025, 1, 1), date(2025, 1, 2), date(2026, 3, 9))
        check_product_dates(None, None, date(2026, 3, 9))
        check_product_dates(date(2026, 3, 9), date(2026, 3, 9), date(2026, 3, 9))

    def test_future_dates_named(self):
        with pytest.raises(InvalidInput) as caught:
            check_product_dates(date(2026, 3, 10), date(2026, 4, 1), date(2026, 3, 9))
        assert caught.value.fields == {"product": {
            "purchase_date": ["Cannot be in the future."],
            "installation_date": ["Cannot be in the future."]}}

    def test_only_the_future_one_named(self):
        with pytest.raises(InvalidInput) as caught:
            check_product_dates(date(2026, 1, 1), date(2026, 3, 10), date(2026, 3, 9))
        assert list(caught.value.fields["product"]) == ["installation_date"]


# -- open matter key -------------------------------------------------------------------

class TestOpenOrderKey:
    def test_with_serial(self):
        assert open_order_key("SH", "13812345678", "GWH-0001", "gas_water_heater") == (
            "SH|13812345678|sn:GWH-0001")

    def test_without_serial_uses_category(self):
        assert open_order_key("SH", "13812345678", None, "gas_water_heater") == (
            "SH|13812345678|cat:gas_water_heater")
        assert open_order_key("SH", "13812345678", "", "range_hood") == (
            "SH|13812345678|cat:range_hood")

    @pytest.mark.parametrize("written", ["+86 13812345678", "+8613812345678",
                                         "86-13812345678", "138 1234 5678"])
    def test_phone_formats_are_the_same_customer(self, written):
        assert open_order_key("SZ", written, "X1", "gas_stove") == open_order_key(
            "SZ", "13812345678", "X1", "gas_stove")

    def test_landline_with_country_code(self):
        assert open_order_key("SH", "+86 021-12345678", None, "gas_stove") == open_order_key(
            "SH", "021-12345678", None, "gas_stove") == "SH|02112345678|cat:gas_stove"

    def test_different_matters_differ(self):
        base = open_order_key("SH", "13812345678", "A1", "gas_stove")
        assert open_order_key("SZ", "13812345678", "A1", "gas_stove") != base
        assert open_order_key("SH", "13912345678", "A1", "gas_stove") != base
        assert open_order_key("SH", "13812345678", "A2", "gas_stove") != base
        assert open_order_key("SH", "13812345678", None, "gas_stove") != base


# -- order numbers ---------------------------------------------------------------------

class TestOrderNumber:
    def test_format(self):
        assert order_number("SH", date(2026, 1, 5), 1) == "SH-20260105-000001"
        assert order_number("SZ", date(2026, 12, 31), 999_999) == "SZ-20261231-999999"

    @pytest.mark.parametrize("sequence", [0, -1, 1_000_000, 2_000_000])
    def test_sequence_bounds(self, sequence):
        with pytest.raises(ValueError, match="exhausted"):
            order_number("SH", date(2026, 1, 5), sequence)

    @settings(max_examples=200, deadline=None)
    @given(branch=st.from_regex(r"[A-Z]{2,8}", fullmatch=True),
           day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
           sequence=st.integers(min_value=1, max_value=999_999))
    def test_matches_the_order_id_contract(self, branch, day, sequence):
        number = order_number(branch, day, sequence)
        assert re.fullmatch(ORDER_ID.regex, number)
        prefix, day_text, seq_text = number.split("-")
        assert prefix == branch
        assert datetime.strptime(day_text, "%Y%m%d").date() == day
        assert int(seq_text) == sequence
