"""Every phone and address format of the table is masked, in free text and in fields, and
keeps something a person can work with; numbers that identify no one stay as written."""

import pytest

from services.common.privacy import mask_address, mask_personal, mask_phone, mask_text
from tests.unit.masking_table import ADDRESSES, NOT_PERSONAL, PHONES, flat, surviving_runs

# A value alone, inside a Chinese sentence, inside an English one.
SENTENCES = ("{}", "客户留言：请回电{}，谢谢", "customer {} asked for a visit")


def test_the_table_is_large_enough():
    assert len(PHONES) + len(ADDRESSES) >= 40
    assert len(set(PHONES)) == len(PHONES) and len(set(ADDRESSES)) == len(ADDRESSES)


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize(("phone", "kept"), PHONES)
def test_phone_in_free_text(phone, kept, sentence):
    masked = mask_text(sentence.format(phone))
    assert surviving_runs(phone, masked) == []
    assert "****" + kept in masked
    assert masked.startswith(sentence.split("{}")[0])  # the words around it stay
    assert masked.endswith(sentence.split("{}")[1])


@pytest.mark.parametrize(("phone", "kept"), PHONES)
def test_phone_field(phone, kept):
    masked = mask_personal({"phone": phone, "contact_phone": phone})
    assert masked["phone"] == masked["contact_phone"] == mask_phone(phone)
    assert surviving_runs(phone, masked["phone"]) == []
    assert masked["phone"].endswith("****" + flat(kept))


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize(("address", "kept", "street"), ADDRESSES)
def test_address_in_free_text(address, kept, street, sentence):
    masked = mask_text(sentence.format(address))
    assert not any(c.isdigit() for c in masked), masked  # no house, building or room number
    assert street not in masked
    assert kept in masked
    assert masked.startswith(sentence.split("{}")[0])
    assert masked.endswith(sentence.split("{}")[1])


@pytest.mark.parametrize(("address", "kept", "street"), ADDRESSES)
def test_address_field(address, kept, street):
    masked = mask_personal({"address": address})["address"]
    assert masked == mask_address(address)
    assert not any(c.isdigit() for c in masked), masked
    assert street not in masked
    assert masked.strip("*, "), "something readable is kept"
    assert "****" in masked


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_numbers_that_are_not_personal_stay(text):
    assert mask_text(text) == text
    assert mask_personal({"note": text, "order_id": text}) == {"note": text, "order_id": text}


def test_a_log_line_of_everything_masks_all_and_keeps_the_rest():
    values = [p for p, _ in PHONES] + [a for a, _, _ in ADDRESSES]
    line = " | ".join(values + NOT_PERSONAL)
    masked = mask_text(line)
    assert [text for text in NOT_PERSONAL if text not in masked] == []
    for text in sorted(NOT_PERSONAL, key=len, reverse=True):
        masked = masked.replace(text, "")  # the event id holds a phone's digits on purpose
    for value in values:
        assert surviving_runs(value, masked) == [] and value not in masked
