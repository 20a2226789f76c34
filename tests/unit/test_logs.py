"""JSON log lines never carry a customer's phone number or full address."""

import json
import logging
import sys

from services.common.logs import JsonFormatter

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
