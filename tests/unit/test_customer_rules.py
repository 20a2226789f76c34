"""The customer file's rules: one phone written many ways, the agent's search, a second
phone, a merge, which unit a request is about, what a completion leaves in the history."""

from datetime import date

import pytest

from services.common.domain.branches import belongs_to, branch_of
from services.common.errors import InvalidInput
from services.intake.domain import customers as rules


@pytest.mark.parametrize("written", ["13812345678", "138-1234-5678", "+86 138 1234 5678",
                                     "8613812345678", "0086 13812345678", "１３８１２３４５６７８"])
def test_a_mobile_is_one_number_however_it_is_written(written):
    if not written.isascii():  # full-width digits are not ASCII digits: refused, not guessed
        with pytest.raises(InvalidInput):
            rules.normalise_phone(written)
        return
    assert rules.normalise_phone(written) == "13812345678"


@pytest.mark.parametrize(("written", "number"), [("021-64871234", "02164871234"),
                                                 ("0755 8888 1234", "075588881234"),
                                                 ("+86 21 6487 1234", "02164871234"),
                                                 ("+86 021-64871234", "02164871234"),
                                                 ("+86 10 6487 1234", "01064871234")])
def test_a_landline_keeps_its_area_code_with_the_leading_zero(written, number):
    assert rules.normalise_phone(written) == number


@pytest.mark.parametrize("bad", ["", "12345", "23812345678", "1381234567", "138123456789"])
def test_what_is_not_a_mainland_number_is_refused_in_chinese_first(bad):
    with pytest.raises(InvalidInput) as refused:
        rules.normalise_phone(bad)
    assert refused.value.fields["phone"][0].startswith("不是有效")


def test_the_agents_search_is_exact_for_a_whole_number_and_a_prefix_from_seven_digits():
    assert rules.phone_search("138 1234 5678") == rules.PhoneSearch("13812345678", True)
    assert rules.phone_search("1381234") == rules.PhoneSearch("1381234", False)
    assert rules.phone_search("021-6487") == rules.PhoneSearch("0216487", False)
    for too_short in ("138123", "138 12"):
        with pytest.raises(InvalidInput) as refused:
            rules.phone_search(too_short)
        assert "7" in refused.value.fields["phone"][0]


@pytest.mark.parametrize("injection", ['{"$gt": ""}', "138.*", "^138", "1381234|"])
def test_a_search_holds_digits_only_so_nothing_else_reaches_the_store(injection):
    with pytest.raises(InvalidInput):
        rules.phone_search(injection)


def test_a_second_phone_is_added_once_normalised_and_the_first_stays_first():
    phones = rules.add_phone(["13812345678"], "+86 139-0000-1111")
    assert phones == ["13812345678", "13900001111"]
    assert rules.add_phone(phones, "139 0000 1111") == phones
    with pytest.raises(InvalidInput):
        rules.add_phone(phones, "not a phone")


def test_a_household_has_a_bounded_number_of_phones():
    phones = [f"1390000000{i}" for i in range(rules.MAX_PHONES)]
    with pytest.raises(InvalidInput):
        rules.add_phone(phones, "13812345678")


def test_a_merge_keeps_the_kept_records_phones_first_and_each_once():
    assert rules.merged_phones(["13812345678", "02164871234"],
                               ["13900001111", "13812345678"]) == [
        "13812345678", "02164871234", "13900001111"]


def test_a_serial_number_names_its_unit_whoever_calls():
    units = [{"key": "sn:GWH-0001", "category": "gas_water_heater"}]
    assert rules.unit_key("gwh-0002", "gas_water_heater", "CU-SH-20261203-000001",
                          units) == "sn:GWH-0002"


def test_without_a_serial_the_customers_only_unit_of_the_category_is_meant():
    units = [{"key": "sn:GWH-0001", "category": "gas_water_heater"},
             {"key": "sn:AC-1", "category": "air_conditioner"}]
    assert rules.unit_key(None, "gas_water_heater", "CU-SH-20261203-000001",
                          units) == "sn:GWH-0001"


def test_without_a_serial_and_two_units_of_the_category_an_unidentified_unit_is_kept():
    units = [{"key": "sn:AC-1", "category": "air_conditioner"},
             {"key": "sn:AC-2", "category": "air_conditioner"}]
    key = rules.unit_key(None, "air_conditioner", "CU-SH-20261203-000001", units)
    assert key == "cat:CU-SH-20261203-000001:air_conditioner"
    assert rules.unit_key(None, "range_hood", "CU-SH-20261203-000001", []) == \
        "cat:CU-SH-20261203-000001:range_hood"


def test_a_request_fills_in_the_units_facts_it_gives_and_blanks_none():
    facts = rules.unit_facts({"category": "air_conditioner", "model": "KFR-35", "brand": None,
                              "series": "", "purchase_date": date(2026, 3, 1),
                              "serial_number": "AC-1", "installer": "SH-T01"})
    assert facts == {"category": "air_conditioner", "model": "KFR-35",
                     "purchase_date": "2026-03-01", "installer": "SH-T01",
                     "serial_number": "AC-1"}


def test_a_customer_number_names_its_branch_for_the_isolation_check():
    number = rules.customer_number("SH", date(2026, 12, 3), 7)
    assert number == "CU-SH-20261203-000007"
    assert branch_of(number) == "SH"
    assert not belongs_to(number, "SZ")


def test_a_completion_leaves_the_fault_and_the_repair_in_the_history():
    assert rules.fault_found({"fault_code": "E1", "diagnosis": "点火针积碳",
                              "repair_done": "清洁", "signature_png": "data:..."}) == {
        "fault_code": "E1", "diagnosis": "点火针积碳", "repair_done": "清洁"}
    assert rules.fault_found(None) is None
    assert rules.fault_found({}) is None


def test_a_merge_never_takes_a_household_past_its_phones_nor_merges_a_record_into_itself():
    with pytest.raises(InvalidInput):
        rules.merged_phones([f"1390000000{i}" for i in range(3)],
                            [f"1380000000{i}" for i in range(3)])
    with pytest.raises(InvalidInput):
        rules.check_merge("CU-SH-20261203-000001", "CU-SH-20261203-000001")
    rules.check_merge("CU-SH-20261203-000001", "CU-SH-20261203-000002")
