"""JSON log lines never carry a customer's phone number or full address."""

import json
import logging
import sys

import pytest

from services.common.logs import JsonFormatter
from tests.unit.masking_table import ADDRESSES, NOT_PERSONAL, PHONES, surviving_runs

MOBILE = "13812345678"
LANDLINE = "021-87654321"
ADDRESS = "上海市黄浦区南京东路100号3单元502室"


def make_record(msg, *args, extra=None, exc_info=None, level=logging.INFO):
    logger = logging.getLogger("aftersales.unit")
    return logger.makeRecord(logger.name, level, __file__, 1, msg, args, exc_info, extra=extra)


def render(record) -> tuple[str, dict]:
    line = JsonFormatter("intake").format(record)
    return line, json.loads(line)


def test_phone_in_message_and_customer_extra_is_masked():
    record = make_record("customer %s called about %s", MOBILE, "SH-20260105-000001",
                         extra={"customer": {"name": "王先生", "phone": MOBILE,
                                             "address": ADDRESS},
                                "order_id": "SH-20260105-000001"})
    line, entry = render(record)
    assert MOBILE not in line
    assert "南京东路" not in line
    assert entry["msg"] == "customer 138****5678 called about SH-20260105-000001"
    assert entry["ctx"] == {
        "customer": {"name": "王先生", "phone": "138****5678", "address": "上海市黄浦区****"},
        "order_id": "SH-20260105-000001",
    }


def test_entry_fields():
    _, entry = render(make_record("order created", level=logging.WARNING))
    assert entry["level"] == "WARNING"
    assert entry["service"] == "intake"
    assert entry["logger"] == "aftersales.unit"
    assert entry["msg"] == "order created"
    assert entry["ts"].endswith("+00:00")
    assert "ctx" not in entry  # no extra, no context


def test_phones_in_free_text_extra_and_lists_are_masked():
    record = make_record("reminder", extra={"description": f"请打{LANDLINE}或{MOBILE}",
                                            "contacts": [{"contact_phone": LANDLINE}]})
    line, entry = render(record)
    assert MOBILE not in line and "87654321" not in line
    assert entry["ctx"]["description"] == "请打021-****4321或138****5678"
    assert entry["ctx"]["contacts"] == [{"contact_phone": "021****4321"}]


def test_exception_text_is_masked():
    try:
        raise ValueError(f"no such customer {MOBILE}")
    except ValueError:
        record = make_record("lookup failed", exc_info=sys.exc_info(), level=logging.ERROR)
    line, entry = render(record)
    assert MOBILE not in line
    assert "ValueError: no such customer 138****5678" in entry["exc"]


def test_non_ascii_is_written_as_is():
    line, entry = render(make_record("热水器有煤气味"))
    assert "热水器有煤气味" in line
    assert entry["msg"] == "热水器有煤气味"


def test_street_address_in_free_text_is_masked():
    record = make_record("customer at %s asked for a visit", ADDRESS,
                         extra={"note": f"客户住{ADDRESS}，下午在家"})
    line, entry = render(record)
    assert "南京东路" not in line and "502室" not in line
    assert entry["msg"] == "customer at 上海市黄浦区**** asked for a visit"
    assert entry["ctx"]["note"] == "客户住上海市黄浦区****，下午在家"


# -- every format of the masking table, through the formatter ----------------------------
def written(entry: dict) -> str:
    """What a line says besides its own timestamp (whose digits are no customer's)."""
    return json.dumps({k: v for k, v in entry.items() if k != "ts"}, ensure_ascii=False)


@pytest.mark.parametrize(("phone", "kept"), PHONES)
def test_every_phone_format_is_masked_in_the_line(phone, kept):
    record = make_record("客户 %s 来电", phone,
                         extra={"note": f"请回电{phone}", "customer": {"phone": phone}})
    line, entry = render(record)
    assert phone not in line
    assert surviving_runs(phone, written(entry)) == []
    assert "****" + kept in entry["msg"] and "****" + kept in entry["ctx"]["note"]


@pytest.mark.parametrize(("address", "kept", "street"), ADDRESSES)
def test_every_address_format_is_masked_in_the_line(address, kept, street):
    record = make_record("customer at %s asked for a visit", address,
                         extra={"note": f"客户住{address}，下午在家",
                                "customer": {"address": address}})
    line, entry = render(record)
    assert address not in line and street not in line
    assert not any(c.isdigit() for c in written(entry))  # no house or room number
    assert kept in entry["msg"] and kept in entry["ctx"]["note"]


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_numbers_that_are_not_personal_are_logged_as_they_are(text):
    _, entry = render(make_record("%s", text, extra={"ref": text}))
    assert entry["msg"] == text and entry["ctx"] == {"ref": text}


def test_every_format_in_one_exception_is_masked():
    values = [p for p, _ in PHONES] + [a for a, _, _ in ADDRESSES]
    try:
        raise ValueError("; ".join(values))
    except ValueError:
        record = make_record("lookup failed", exc_info=sys.exc_info(), level=logging.ERROR)
    line, entry = render(record)
    for value in values:
        assert value not in line
        assert surviving_runs(value, entry["exc"]) == []
