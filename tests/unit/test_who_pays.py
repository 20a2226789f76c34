"""Who pays (三包) under seed 003, line by line, and the write-offs that follow billing's
coverage exactly (pure: no broker, no database)."""

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.billing.domain.pricing import Job, price
from services.billing.domain.schedule import FeeSchedule, ScheduleError
from services.common.config import read_yaml
from services.dispatch.facts import billing_facts
from services.inventory.completion import Completion
from services.inventory.settings import load_catalogue
from tests.unit.test_billing_rules import GWH_PARTS, SCHEDULE, job

V2026_1 = SCHEDULE.version("2026.1")
COST_RULES = SCHEDULE.version_at(datetime(2026, 12, 2, tzinfo=UTC))
CATALOGUE = load_catalogue({})


def by_item(priced) -> dict:
    return {line.item: line for line in priced.lines}


def test_from_2026_2_parts_the_customer_pays_are_at_cost_and_existing_versions_stay():
    assert COST_RULES.version == "2026.2" and COST_RULES.customer_parts_at == "cost"
    assert SCHEDULE.version_at(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)).version == "2026.1"
    old = price(job(warranty="out_of_warranty"), SCHEDULE, V2026_1)
    assert by_item(old)["part"].unit_fen == 3500                  # a 2026.1 bill: list
    price_now = COST_RULES.part_prices["GWH-IGN-01"]
    assert (price_now.list_fen, price_now.cost_fen) == (3500, 1250)


def test_in_warranty_quality_failure_the_maker_pays_and_the_claim_is_at_list_price():
    priced = price(job(parts=(("GWH-HEX-01", 1),), repair_code="HEX"), SCHEDULE, COST_RULES)
    assert priced.total_fen == 0 and priced.coverage == "full"
    assert by_item(priced)["part"].basis == "list"
    assert priced.claim_fen == 15000 + 42000


def test_out_of_warranty_parts_at_cost_plus_labour_per_the_schedule():
    priced = price(job(warranty="out_of_warranty", distance_km=Decimal("65")), SCHEDULE,
                   COST_RULES)
    lines = by_item(priced)
    assert lines["part"].unit_fen == 1250 and lines["part"].basis == "cost"  # 只收成本费
    assert lines["labour"].amount_fen == 7000 and lines["remote"].amount_fen == 7000
    assert priced.total_fen == 7000 + 1250 + 7000 and priced.claim_fen == 0


@pytest.mark.parametrize("cause", ["customer_damage", "unauthorised_repair"])
@pytest.mark.parametrize("warranty", ["in_warranty", "main_parts_only", "out_of_warranty"])
def test_customer_damage_or_unauthorised_repair_the_customer_pays_parts_at_cost(cause,
                                                                               warranty):
    priced = price(job(warranty=warranty, cause=cause, parts=(("GWH-HEX-01", 2),),
                       repair_code="HEX"), SCHEDULE, COST_RULES)
    lines = by_item(priced)
    assert lines["part"].amount_fen == 2 * 26000 and lines["part"].coverage == "customer"
    assert priced.total_fen == priced.subtotal_fen == 15000 + 52000
    assert priced.claim_fen == 0


def test_main_parts_only_the_maker_pays_main_parts_the_customer_the_rest_at_cost():
    priced = price(job(warranty="main_parts_only", repair_code="HEX",
                       parts=(("GWH-HEX-01", 1), ("GWH-VLV-01", 1))), SCHEDULE, COST_RULES)
    lines = {line.code: line for line in priced.lines}
    assert (lines["GWH-HEX-01"].coverage, lines["GWH-HEX-01"].unit_fen) == ("warranty", 42000)
    assert (lines["GWH-VLV-01"].coverage, lines["GWH-VLV-01"].unit_fen) == ("customer", 4600)
    assert priced.total_fen == 15000 + 4600 and priced.claim_fen == 42000


def test_a_version_may_change_a_parts_cost_and_list_price():
    raw = read_yaml("deploy/config/fee_schedule.yaml")
    parts = read_yaml("deploy/config/parts_catalogue.yaml")["parts"]
    raw["versions"].append({"version": "2027.1", "effective_from": "2027-01-01",
                            "parts": {"GWH-IGN-01": {"cost_price": "13.00"}}})
    schedule = FeeSchedule(raw, parts)
    changed = schedule.version("2027.1").part_prices["GWH-IGN-01"]
    assert (changed.list_fen, changed.cost_fen) == (3500, 1300)
    assert schedule.version("2026.2").part_prices["GWH-IGN-01"].cost_fen == 1250
    raw["versions"][-1] = {"version": "2027.1", "effective_from": "2027-01-01",
                           "parts": {"NO-SUCH": {"cost_price": "1.00"}}}
    with pytest.raises(ScheduleError):
        FeeSchedule(raw, parts)
    raw["versions"][-1] = {"version": "2027.1", "effective_from": "2027-01-01",
                           "customer_parts_at": "half"}
    with pytest.raises(ScheduleError):
        FeeSchedule(raw, parts)


# -- write-offs follow billing's coverage ---------------------------------------------------

class Recorder:
    """Inventory's store as far as write-offs go: what would be inserted."""

    def __init__(self) -> None:
        self.inserted: list[dict] = []

    def insert(self, collection: str, doc: dict) -> bool:
        self.inserted.append(doc)
        return True


def writeoffs(j: Job) -> set[str]:
    """The SKUs inventory opens a write-off for, from the event dispatch would send."""
    order = {"product": {"category": j.category, "serial_number": "SN-1"},
             "region_code": j.region_code, "zone": "intensive", "request_type": "repair",
             "warranty": {"status": j.warranty}}
    completion = {"cause": j.cause, "cannot_fix": not j.repaired,
                  "parts_used": [{"sku": s, "quantity": q} for s, q in j.parts]}
    data = {"order_id": "SH-20261202-000001", "technician_id": "SH-T05",
            "billing": billing_facts(order, completion), "warranty": j.warranty}
    store = Recorder()
    keeper = Completion(store, CATALOGUE, SimpleNamespace(now=datetime(2026, 12, 2,
                                                                       tzinfo=UTC)))
    consumed = [{"sku": s, "quantity": q, "location": "VAN"} for s, q in j.parts]
    keeper._open_writeoffs("SH", data["order_id"], consumed, data)
    return {doc["sku"] for doc in store.inserted}


def claimed_warranty_parts(j: Job) -> set[str]:
    """The warranty parts (三包件) billing claims from the maker."""
    priced = price(j, SCHEDULE, COST_RULES)
    return {line.code for line in priced.lines if line.item == "part"
            and line.coverage == "warranty" and SCHEDULE.parts[line.code].warranty_part}


jobs = st.builds(
    job, warranty=st.sampled_from(["in_warranty", "main_parts_only", "out_of_warranty"]),
    cause=st.sampled_from(["quality_failure", "wear", "customer_damage",
                           "unauthorised_repair"]),
    repaired=st.booleans(),
    parts=st.lists(st.tuples(st.sampled_from(GWH_PARTS), st.integers(1, 3)), max_size=4)
    .map(tuple),
    repeat_same_fault=st.booleans())


@given(jobs)
def test_a_write_off_opens_exactly_for_the_warranty_parts_the_maker_pays_for(j):
    opened = writeoffs(j)
    assert opened == claimed_warranty_parts(j)
    charged = {line.code for line in price(j, SCHEDULE, COST_RULES).lines
               if line.item == "part" and line.coverage == "customer"}
    assert not opened & charged          # never for a part the customer paid for


def test_the_customer_paid_part_opens_no_write_off_the_covered_one_does():
    assert writeoffs(job(warranty="in_warranty", cause="customer_damage")) == set()
    assert writeoffs(job(warranty="in_warranty", cause="wear")) == set()
    assert writeoffs(job(warranty="in_warranty")) == {"GWH-IGN-01"}
    assert writeoffs(job(warranty="main_parts_only",
                         parts=(("GWH-HEX-01", 1), ("GWH-IGN-01", 1)))) == {"GWH-HEX-01"}


def test_an_event_that_decided_no_warranty_keeps_the_sanbao_presumption():
    """Completions of earlier versions carried no billing facts: in warranty, a quality
    failure, as dispatch presumes at completion; a status they did carry is used."""
    from services.inventory.completion import _coverage_facts
    assert _coverage_facts({}) == ("in_warranty", "quality_failure")
    assert _coverage_facts({"warranty": {"status": "out_of_warranty"}}) == (
        "out_of_warranty", "quality_failure")
    assert _coverage_facts({"billing": {"warranty": "main_parts_only", "cause": "wear"},
                            "warranty": "in_warranty"}) == ("main_parts_only", "wear")
