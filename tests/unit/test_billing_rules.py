"""Pricing, coverage and abnormal-charge rules of billing (pure, no broker, no database)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from schemas.billing import PaymentIn, QuoteIn
from schemas.orders import CompleteIn
from services.billing.domain import checks
from services.billing.domain.pricing import Job, PricingError, price
from services.billing.service import load_schedule
from services.common.domain.money import times, to_fen
from services.common.errors import InvalidInput
from services.dispatch.facts import billing_facts

SCHEDULE = load_schedule("deploy/config/fee_schedule.yaml", "deploy/config/parts_catalogue.yaml")
V2026 = SCHEDULE.version_at(datetime(2026, 6, 1, tzinfo=UTC))
GWH_PARTS = ("GWH-HEX-01", "GWH-IGN-01", "GWH-VLV-01", "THERM-01")


def job(**overrides) -> Job:
    fields = {"category": "gas_water_heater", "region_code": "310101",
              "warranty": "in_warranty", "cause": "quality_failure", "repaired": True,
              "repair_code": "IGN", "parts": (("GWH-IGN-01", 1),),
              "distance_km": Decimal("0"), "repeat_same_fault": False}
    fields.update(overrides)
    return Job(**fields)


def test_money_is_fen_rounded_half_up_and_never_float():
    assert to_fen("12.345") == 1235 and to_fen("12.344") == 1234 and to_fen(7) == 700
    assert times(200, Decimal("35.5")) == 7100 and times(333, Decimal("0.5")) == 167
    with pytest.raises(TypeError):
        to_fen(1.5)


def test_in_warranty_quality_failure_costs_the_customer_nothing_and_is_claimed():
    priced = price(job(parts=(("GWH-HEX-01", 1),), repair_code="HEX"), SCHEDULE, V2026)
    assert priced.total_fen == 0 and priced.coverage == "full"
    assert priced.claim_fen == priced.subtotal_fen == 15000 + 42000


def test_out_of_warranty_charges_labour_parts_at_list_price_and_remote_beyond_radius():
    priced = price(job(warranty="out_of_warranty", distance_km=Decimal("65")), SCHEDULE,
                   V2026)
    by_item = {line.item: line for line in priced.lines}
    assert by_item["labour"].amount_fen == 7000                 # IGN, tier 1, 2026.1
    assert by_item["part"].amount_fen == 3500                   # list price
    assert by_item["remote"].quantity == "35" and by_item["remote"].amount_fen == 7000
    assert priced.total_fen == 17500 and priced.claim_fen == 0 and priced.coverage == "none"


def test_main_parts_only_frees_main_parts_and_charges_the_rest():
    priced = price(job(warranty="main_parts_only", repair_code="HEX",
                       parts=(("GWH-HEX-01", 1), ("GWH-VLV-01", 1))), SCHEDULE, V2026)
    coverage = {line.code: line.coverage for line in priced.lines}
    assert coverage == {"HEX": "customer", "GWH-HEX-01": "warranty", "GWH-VLV-01": "customer"}
    assert priced.coverage == "partial" and priced.total_fen == 15000 + 8500


@pytest.mark.parametrize("cause", ["customer_damage", "unauthorised_repair", "wear"])
def test_customer_caused_damage_or_wear_is_charged_inside_warranty(cause):
    priced = price(job(cause=cause), SCHEDULE, V2026)
    assert priced.total_fen == priced.subtotal_fen > 0


def test_repeat_visit_for_the_same_fault_charges_no_labour():
    priced = price(job(warranty="out_of_warranty", repeat_same_fault=True), SCHEDULE, V2026)
    assert {line.item: line.coverage for line in priced.lines} == {"labour": "repeat",
                                                                   "part": "customer"}
    assert priced.total_fen == 3500


def test_inspection_only_charges_visit_and_inspection():
    priced = price(job(warranty="out_of_warranty", repaired=False, parts=()), SCHEDULE, V2026)
    assert [line.item for line in priced.lines] == ["visit", "inspection"]
    assert priced.total_fen == 3000 + 5000


def test_unknown_or_unfit_parts_and_repair_codes_are_refused():
    with pytest.raises(PricingError) as unknown:
        price(job(parts=(("NOPE-1", 1),)), SCHEDULE, V2026)
    assert unknown.value.field == "parts"
    with pytest.raises(PricingError):
        price(job(parts=(("AC-COMP-01", 1),)), SCHEDULE, V2026)  # a compressor in a GWH
    with pytest.raises(PricingError) as code:
        price(job(repair_code="ZZZ"), SCHEDULE, V2026)
    assert code.value.field == "repair_code"


def test_schedule_versions_apply_from_their_local_effective_date():
    assert SCHEDULE.version_at(datetime(2025, 12, 31, 15, 59, tzinfo=UTC)).version == "2025.1"
    assert SCHEDULE.version_at(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)).version == "2026.1"
    old = SCHEDULE.version("2025.1")
    assert old.labour["IGN"]["tier1"] == 6000 and old.labour["HEX"] == V2026.labour["HEX"]


jobs = st.builds(
    job, warranty=st.sampled_from(["in_warranty", "main_parts_only", "out_of_warranty"]),
    cause=st.sampled_from(["quality_failure", "wear", "customer_damage",
                           "unauthorised_repair"]),
    repaired=st.booleans(), repair_code=st.sampled_from([None, "GEN", "IGN", "HEX", "VLV"]),
    parts=st.lists(st.tuples(st.sampled_from(GWH_PARTS), st.integers(1, 5)), max_size=4)
    .map(tuple),
    distance_km=st.decimals(min_value=0, max_value=300, places=1),
    repeat_same_fault=st.booleans(), region_code=st.sampled_from(["310101", "510104"]))


@given(jobs)
def test_totals_equal_the_sum_of_lines_and_covered_lines_cost_the_customer_nothing(j):
    priced = price(j, SCHEDULE, V2026)
    assert priced.subtotal_fen == sum(line.amount_fen for line in priced.lines)
    assert priced.total_fen == sum(line.amount_fen for line in priced.lines
                                   if line.coverage == "customer")
    covered = sum(line.amount_fen for line in priced.lines if line.coverage != "customer")
    assert priced.total_fen + covered == priced.subtotal_fen
    assert all(isinstance(line.amount_fen, int) and line.amount_fen >= 0
               for line in priced.lines)
    if j.warranty == "in_warranty" and j.cause == "quality_failure":
        assert priced.total_fen == 0
    if j.cause in ("customer_damage", "unauthorised_repair") and not j.repeat_same_fault:
        assert priced.total_fen == priced.subtotal_fen


# -- approval and abnormal charges --------------------------------------------------------

def lines(j: Job, version=V2026) -> list[dict]:
    return price(j, SCHEDULE, version).as_dict()["lines"]


def test_chargeable_work_needs_an_approved_quote_covering_every_charged_line():
    charged = lines(job(warranty="out_of_warranty"))
    assert checks.approval_gaps(lines(job()), None) == []   # free work needs none
    assert checks.approval_gaps(charged, None) == ["chargeable work has no approved quote"]
    assert checks.approval_gaps(charged, charged) == []
    more = lines(job(warranty="out_of_warranty", parts=(("GWH-IGN-01", 2),)))
    assert checks.approval_gaps(more, charged) == ["part GWH-IGN-01: 2 needed, 1 approved"]
    added = lines(job(warranty="out_of_warranty", distance_km=Decimal(40)))
    assert checks.approval_gaps(added, charged) == ["remote remote is not on the approved "
                                                    "quote"]


def test_bill_findings_fire_on_crafted_cases_and_not_on_a_clean_one():
    charged = lines(job(warranty="out_of_warranty"))
    assert checks.bill_findings(charged, charged) == []
    assert checks.bill_findings(lines(job()), None) == []
    rules = [rule for rule, _ in checks.bill_findings(lines(job()), charged)]
    assert rules == ["charge_on_covered"]
    assert [rule for rule, _ in checks.bill_findings(charged, None)] == ["no_approval"]
    old_quote = lines(job(warranty="out_of_warranty"), SCHEDULE.version("2025.1"))
    found = dict(checks.bill_findings(charged, old_quote))
    assert list(found) == ["no_approval", "off_schedule"]  # dearer than approved, too
    assert found["off_schedule"]["lines"] == [{"item": "labour", "code": "IGN",
                                               "billed_unit_fen": 7000,
                                               "quoted_unit_fen": 6000}]


def test_parts_findings_compare_billed_and_consumed():
    charged = lines(job(warranty="out_of_warranty"))
    assert checks.parts_findings(charged, {"GWH-IGN-01": 1}) == []
    assert checks.parts_findings(charged, {}) == [("parts_not_consumed", {"parts": {
        "GWH-IGN-01": 1}})]
    assert checks.parts_findings(charged, {"GWH-IGN-01": 1, "THERM-01": 1}) == [
        ("consumed_not_billed", {"parts": {"THERM-01": 1}})]
    # On a fully covered order nothing is billed to the customer: extra parts are not
    # "consumed but not billed".
    assert checks.parts_findings(lines(job()), {"GWH-IGN-01": 1, "THERM-01": 1}) == []


def test_callback_findings_and_earning_release():
    assert checks.callback_findings(17500, 17500, False) == []
    assert checks.callback_findings(17500, None, False) == []
    assert [r for r, _ in checks.callback_findings(17500, 20000, True)] == ["paid_differs"]
    assert [r for r, _ in checks.callback_findings(0, 5000, True)] == [
        "paid_differs", "charge_on_covered"]
    assert checks.releases_earning(True, 4) and not checks.releases_earning(True, 3)
    assert not checks.releases_earning(False, 5) and not checks.releases_earning(None, None)


# -- contracts ----------------------------------------------------------------------------

def test_no_command_takes_a_price_and_distances_are_checked():
    base = {"order_id": "SH-20261120-000001", "fault_code": "E1", "cause": "wear"}
    assert QuoteIn().load(base)["distance_km"] == "0.0"
    for bad in ({"unit_price": "1.00"}, {"distance_km": -1}, {"distance_km": "abc"},
                {"parts": [{"sku": "GWH-IGN-01", "quantity": -1}]},
                {"parts": [{"sku": "GWH-IGN-01", "quantity": 1, "price": 1}]}):
        with pytest.raises(ValidationError):
            QuoteIn().load({**base, **bad})
    with pytest.raises(ValidationError):
        PaymentIn().load({"method": "cash", "amount_fen": 12.5})
    done = CompleteIn().load({"diagnosis": "x", "fault_code": "E1", "repair_done": "y",
                              "distance_km": 65.04})
    assert done["distance_km"] == "65.0" and done["cause"] == "quality_failure"


def test_completion_facts_take_the_warranty_decided_at_diagnosis_only_when_unknown():
    order = {"product": {"category": "gas_water_heater", "serial_number": "S1"},
             "region_code": "310101", "zone": "intensive", "request_type": "repair",
             "warranty": {"status": "unknown"}}
    completion = CompleteIn().load({"diagnosis": "x", "fault_code": "E1", "repair_done": "y"})
    with pytest.raises(InvalidInput) as undecided:
        billing_facts(order, completion)
    assert "warranty" in undecided.value.fields
    decided = billing_facts(order, {**completion, "warranty": "out_of_warranty"})
    assert decided["warranty"] == "out_of_warranty" and decided["cause"] == "quality_failure"
    known = billing_facts({**order, "warranty": {"status": "in_warranty"}},
                          {**completion, "warranty": "out_of_warranty"})
    assert known["warranty"] == "in_warranty"
