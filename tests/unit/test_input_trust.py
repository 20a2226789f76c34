"""Input the contracts refuse with a field-level message instead of storing (or failing on):
invalid Unicode, control characters, text with nothing visible, implausible dates."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

import pytest
from marshmallow import Schema, ValidationError

import schemas.fields
from schemas.billing import ApprovalIn
from schemas.callbacks import ScheduleIn
from schemas.complaints import ComplaintIn
from schemas.feeds import FeedRequestIn
from schemas.orders import CompleteIn, ServiceRequestIn
from schemas.technicians import TechnicianIn, TechnicianPatch

TODAY = date(2026, 11, 25)  # the branch's day, pinned through the contracts' date hook

REQUEST = {
    "customer": {"name": "王先生", "phone": "13812345678", "address": "黄浦区南京东路1号",
                 "region_code": "310101"},
    "product": {"category": "gas_water_heater", "brand": "万和", "model": "JSQ20",
                "serial_number": "GWH-0001", "purchase_date": "2026-03-01"},
    "request_type": "repair",
    "description": "热水器有煤气味",
    "channel": "hotline",
}
TECHNICIAN = {"technician_id": "SH-T09", "name": "张伟", "certificates": ["gas"],
              "zones": ["standard"], "lat": 31.2, "lon": 121.4, "shift": "always", "cap": 2}
COMPLAINT = {"channel": "hotline", "category": "attitude", "description": "态度差",
             "customer": {"name": "李女士", "phone": "13812345678"}}
SCHEDULE = {"schedule_id": "S-1", "kind": "maintenance_visit",
            "first_run_at": "2026-12-01T10:00:00+08:00",
            "customer": {"name": "赵先生", "phone": "13812345678", "address": "徐汇区1号"},
            "product": {"category": "air_conditioner"}}
COMPLETE = {"diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "清理点火针"}

# Nothing a person can see: zero-width and other format characters, spaces of every kind,
# combining marks with no base, and the fillers that are letters only by category.
INVISIBLE = [
    ("zero width space", "\u200b"),
    ("zero width non-joiner", "\u200c"),
    ("zero width joiner", "\u200d"),
    ("byte order mark", "\ufeff"),
    ("word joiner", "\u2060"),
    ("all five zero widths", "\u200b\u200c\u200d\ufeff\u2060"),
    ("zero widths around a space", "\u200b \u200b"),
    ("soft hyphen", "\u00ad"),
    ("left-to-right mark", "\u200e"),
    ("combining acute alone", "\u0301"),
    ("combining marks alone", "\u0301\u0308\u20dd"),
    ("hangul filler", "\u3164"),
    ("halfwidth hangul filler", "\uffa0"),
    ("braille blank", "\u2800"),
    ("ideographic space and zero width", "\u3000\u200b"),
    ("nbsp and zero width", "\u00a0\u200b"),
]

VISIBLE_NAMES = [
    "王先生", "Zoë", "Zoe\u0308", "O'Brien", "Mc Donald", "𠮷野家", "ﾔﾏﾀﾞ", "김민준",
    "\u200b王", "👨\u200d👩\u200d👧", "\ue000",  # private use: rare name characters
]


def with_(body: dict, path: str, value: Any) -> dict:
    """A copy of ``body`` with ``value`` at ``path`` (keys joined by '.')."""
    copied = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    target = copied
    for key in parents:
        target = target[key]
    target[leaf] = value
    return copied


def errors_of(schema: type[Schema], payload: Any) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema().load(payload)
    return caught.value.messages


def message_at(errors: dict, path: str) -> str:
    node: Any = errors
    for key in path.split("."):
        assert key in node, (path, errors)
        node = node[key]
    assert isinstance(node, list), (path, errors)
    return " ".join(node)


def assert_bilingual(message: str) -> None:
    """Chinese first, English second, as a person reads it."""
    assert message and "\u4e00" <= message[0] <= "\u9fff", message
    assert any("a" <= ch.lower() <= "z" for ch in message), message


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    # raising=False: the other rules are judged even where the hook is missing.
    monkeypatch.setattr(schemas.fields, "local_today", lambda: TODAY, raising=False)


# -- names and other text with nothing visible ------------------------------------------
NAME_FIELDS = [
    (ServiceRequestIn, REQUEST, "customer.name"),
    (ServiceRequestIn, REQUEST, "customer.address"),
    (ServiceRequestIn, REQUEST, "description"),
    (ServiceRequestIn, REQUEST, "product.brand"),
    (FeedRequestIn, {**REQUEST, "call_id": "CTI-1"}, "customer.name"),
    (TechnicianIn, TECHNICIAN, "name"),
    (TechnicianPatch, {}, "name"),
    (ComplaintIn, COMPLAINT, "customer.name"),
    (ScheduleIn, SCHEDULE, "customer.name"),
    (ApprovalIn, {"approved_by": "王经理", "method": "verbal"}, "approved_by"),
    (CompleteIn, COMPLETE, "diagnosis"),
]


@pytest.mark.parametrize(("schema", "body", "path"), NAME_FIELDS,
                         ids=[f"{s.__name__}.{p}" for s, _, p in NAME_FIELDS])
@pytest.mark.parametrize(("case", "text"), INVISIBLE, ids=[c for c, _ in INVISIBLE])
def test_text_with_nothing_visible_is_refused(schema, body, path, case, text):
    message = message_at(errors_of(schema, with_(body, path, text)), path)
    assert "visible" in message
    assert_bilingual(message)


@pytest.mark.parametrize("name", VISIBLE_NAMES)
def test_names_with_a_visible_character_are_kept(name):
    loaded = ServiceRequestIn().load(with_(REQUEST, "customer.name", name))
    assert loaded["customer"]["name"] == name


# -- control characters -----------------------------------------------------------------
CONTROLS = [
    ("newline in a name", "customer.name", "王\n先生", "line"),
    ("tab in a name", "customer.name", "王\t先生", "line"),
    ("line separator in an address", "customer.address", "南京东路\u20281号", "line"),
    ("newline in a model", "product.model", "JSQ\n20", "line"),
    ("delete in a name", "customer.name", "王\x7f先生", "Control"),
    ("C1 next line in a description", "description", "漏水\x85很严重", "Control"),
    ("C1 control in an address", "customer.address", "南京东路\x9b1号", "Control"),
]


@pytest.mark.parametrize(("case", "path", "text", "word"), CONTROLS,
                         ids=[c[0] for c in CONTROLS])
def test_control_characters_where_they_make_no_sense_are_refused(case, path, text, word):
    message = message_at(errors_of(ServiceRequestIn, with_(REQUEST, path, text)), path)
    assert word in message
    assert_bilingual(message)


def test_descriptions_keep_their_line_breaks():
    loaded = ServiceRequestIn().load(with_(REQUEST, "description", "漏水\n\t滴在地上"))
    assert loaded["description"] == "漏水\n\t滴在地上"


@pytest.mark.parametrize(("path", "value"), [
    ("customer.phone", "13812345678\n"),
    ("customer.region_code", "310101\n"),
    ("product.serial_number", "GWH-0001\n"),
    ("product.category", "gas_water_heater\n"),
])
def test_a_trailing_newline_does_not_slip_past_a_pattern(path, value):
    # re.match's '$' also matches before a final newline.
    message_at(errors_of(ServiceRequestIn, with_(REQUEST, path, value)), path)


# -- invalid Unicode --------------------------------------------------------------------
def _decoded(raw: str) -> Any:
    """What a JSON decoder (the gateway's, kombu's for the feed) makes of ``raw``."""
    return json.loads(raw)


SURROGATE_VALUES = [
    ("high surrogate in the name", "customer.name", "\ud800"),
    ("low surrogate in the name", "customer.name", "王\udfff"),
    ("surrogate in the address", "customer.address", "南京东路\udc00号"),
    ("surrogate in the description", "description", "漏水\ud83d"),
    ("reversed pair in the brand", "product.brand", "\ude00\ud83d"),
    ("surrogate in the phone", "customer.phone", "1381234567\ud800"),
    ("surrogate in the serial", "product.serial_number", "GWH\ud800"),
    ("surrogate in the category", "product.category", "\ud800"),
    ("surrogate in the channel", "channel", "hotline\ud800"),
]


@pytest.mark.parametrize(("case", "path", "value"), SURROGATE_VALUES,
                         ids=[c[0] for c in SURROGATE_VALUES])
@pytest.mark.parametrize("schema", [ServiceRequestIn, FeedRequestIn])
def test_lone_surrogates_in_values_are_refused(schema, case, path, value):
    body = with_({**REQUEST, "call_id": "CTI-1"}, path, value)
    errors = errors_of(schema, body)
    message = message_at(errors, path)
    assert "Unicode" in message
    assert_bilingual(message)
    json.dumps(errors, ensure_ascii=False).encode("utf-8")  # the answer can be sent


SURROGATE_KEYS = [
    ("top-level key", '{"\\ud800": 1}', "\\ud800"),
    ("key inside customer", '{"customer": {"na\\udc00me": "王"}}', "customer.na\\udc00me"),
    ("key inside product", '{"product": {"\\udbff": "x"}}', "product.\\udbff"),
]


@pytest.mark.parametrize(("case", "raw", "path"), SURROGATE_KEYS,
                         ids=[c[0] for c in SURROGATE_KEYS])
def test_lone_surrogates_in_keys_are_refused_with_a_printable_key(case, raw, path):
    body = {**copy.deepcopy(REQUEST), "call_id": "CTI-1"}
    for key, value in _decoded(raw).items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    for schema in (ServiceRequestIn, FeedRequestIn):
        errors = errors_of(schema, body)
        message = message_at(errors, path)
        assert "Unicode" in message
        json.dumps(errors, ensure_ascii=False).encode("utf-8")


def test_lone_surrogates_in_list_items_are_refused():
    body = {**COMPLETE, "parts_used": [{"sku": "IGN-01", "quantity": 1},
                                       {"sku": "IGN\ud800", "quantity": 1}]}
    errors = errors_of(CompleteIn, body)
    assert "Unicode" in " ".join(errors["parts_used"][1]["sku"])


def test_a_proper_surrogate_pair_is_an_ordinary_character():
    name = _decoded('"\\ud842\\udfb7\\u91ce\\u5bb6"')  # 𠮷野家, escaped as a pair
    loaded = ServiceRequestIn().load(with_(REQUEST, "customer.name", name))
    assert loaded["customer"]["name"] == "𠮷野家"


# -- dates ------------------------------------------------------------------------------
DATE_FIELDS = ["product.purchase_date", "product.installation_date"]
TOO_EARLY = ["0001-01-01", "1900-01-01", "1026-03-01", "1979-12-31"]


def _product_dates(path: str, value: str) -> dict:
    body = with_(REQUEST, path, value)
    if path.endswith("installation_date"):
        del body["product"]["purchase_date"]  # judged alone, not against the purchase
    return body


@pytest.mark.parametrize("path", DATE_FIELDS)
@pytest.mark.parametrize("value", TOO_EARLY)
def test_dates_before_the_appliances_existed_are_refused(path, value):
    message = message_at(errors_of(ServiceRequestIn, _product_dates(path, value)), path)
    assert "1980-01-01" in message
    assert_bilingual(message)


@pytest.mark.parametrize("path", DATE_FIELDS)
@pytest.mark.parametrize("later", [timedelta(days=1), timedelta(days=400)])
def test_dates_after_today_are_refused(path, later):
    value = (TODAY + later).isoformat()
    message = message_at(errors_of(ServiceRequestIn, _product_dates(path, value)), path)
    assert TODAY.isoformat() in message
    assert_bilingual(message)


@pytest.mark.parametrize("path", DATE_FIELDS)
@pytest.mark.parametrize("value", ["1980-01-01", "1995-06-30", TODAY.isoformat()])
def test_dates_from_the_floor_up_to_today_are_kept(path, value):
    loaded = ServiceRequestIn().load(_product_dates(path, value))
    *_, field = path.split(".")
    assert loaded["product"][field] == date.fromisoformat(value)


def test_the_real_today_is_in_the_branchs_time_zone(monkeypatch):
    monkeypatch.undo()  # the real clock, not the pinned day
    from datetime import datetime
    from zoneinfo import ZoneInfo

    before = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    today = schemas.fields.local_today()
    after = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert today in (before, after)
