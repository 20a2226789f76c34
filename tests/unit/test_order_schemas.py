"""Input contracts of work orders: strict fields and cross-field rules."""

import base64
import copy
from datetime import date

import pytest
from marshmallow import ValidationError

from schemas.fields import NOT_IMAGE, NOT_PNG, PNG_DATA_URL, PNG_SIGNATURE, TOO_LARGE_IMAGE
from schemas.orders import (
    PHOTO_MAX_BYTES,
    SIGNATURE_MAX_BYTES,
    AppointmentIn,
    CompleteIn,
    ServiceRequestIn,
)

VALID_REQUEST = {
    "customer": {"name": "王先生", "phone": "13812345678", "address": "黄浦区南京东路1号",
                 "region_code": "310101"},
    "product": {"category": "gas_water_heater", "serial_number": "GWH-0001",
                "purchase_date": "2026-03-01"},
    "request_type": "repair",
    "description": "热水器有煤气味",
    "channel": "hotline",
}


def request(**changes) -> dict:
    body = copy.deepcopy(VALID_REQUEST)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = body
        for key in parents:
            target = target[key]
        target[leaf] = value
    return body


def errors_of(schema, payload) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema().load(payload)
    return caught.value.messages


class TestServiceRequestIn:
    def test_a_priority_override_needs_a_reason_in_chinese_first(self):
        for given in ({"priority": "normal"}, {"priority": "normal", "reason": "  "},
                      {"priority": "normal", "reason": None}):
            errors = errors_of(ServiceRequestIn, request(priority_override=given))
            message = errors["priority_override"]["reason"][0]
            assert message.startswith(("改判优先级必须填写理由", "请填写改判理由")), message
        errors = errors_of(ServiceRequestIn, request(priority_override={
            "priority": "urgent", "reason": "客户要求"}))
        assert list(errors["priority_override"]) == ["priority"]

    def test_a_priority_override_with_a_reason_loads(self):
        loaded = ServiceRequestIn().load(request(priority_override={
            "priority": "normal", "reason": "客户说煤气味是上周的事"}))
        assert loaded["priority_override"] == {"priority": "normal",
                                               "reason": "客户说煤气味是上周的事"}
        assert ServiceRequestIn().load(request())["priority_override"] is None

    def test_valid_request_loads_with_defaults(self):
        loaded = ServiceRequestIn().load(request())
        assert loaded["customer"]["vip"] is False
        assert loaded["product"]["purchase_date"] == date(2026, 3, 1)
        assert loaded["product"]["installation_date"] is None
        assert loaded["received_at"] is None
        assert loaded["call_id"] is None

    def test_text_is_trimmed(self):
        loaded = ServiceRequestIn().load(request(description="  漏水  "))
        assert loaded["description"] == "漏水"

    def test_unknown_top_level_field_rejected(self):
        body = request()
        body["$where"] = "sleep(1000)"
        assert errors_of(ServiceRequestIn, body) == {"$where": ["Unknown field."]}

    def test_unknown_nested_field_rejected(self):
        body = request()
        body["customer"]["$ne"] = None
        assert errors_of(ServiceRequestIn, body) == {"customer": {"$ne": ["Unknown field."]}}

    @pytest.mark.parametrize("phone", ["12345", "1381234567", "138123456789", "23812345678",
                                       "12812345678", "138-1234-5678x", "+1 2025550100", "",
                                       "phone"])
    def test_bad_phone(self, phone):
        errors = errors_of(ServiceRequestIn, request(customer__phone=phone))
        assert errors == {"customer": {"phone": ["Not a valid mainland phone number."]}}

    @pytest.mark.parametrize("phone", ["13812345678", "+8613812345678", "+86 13812345678",
                                       "021-12345678", "02112345678", "0755-1234567"])
    def test_good_phone(self, phone):
        assert ServiceRequestIn().load(request(customer__phone=phone))["customer"]["phone"] == (
            phone)

    @pytest.mark.parametrize("code", ["31010", "3101011", "31010a", "", "310 101"])
    def test_bad_region_code(self, code):
        errors = errors_of(ServiceRequestIn, request(customer__region_code=code))
        assert errors == {"customer": {"region_code": ["Region codes are 6 digits."]}}

    def test_installation_before_purchase_rejected(self):
        errors = errors_of(ServiceRequestIn, request(product__purchase_date="2026-03-01",
                                                     product__installation_date="2026-02-28"))
        assert errors == {"product": {"installation_date": [
            "Installation cannot be before purchase."]}}

    @pytest.mark.parametrize("installed", ["2026-03-01", "2026-03-05"])
    def test_installation_on_or_after_purchase_accepted(self, installed):
        loaded = ServiceRequestIn().load(request(product__installation_date=installed))
        assert loaded["product"]["installation_date"] == date.fromisoformat(installed)

    def test_received_at_must_carry_a_timezone(self):
        errors = errors_of(ServiceRequestIn, request(received_at="2026-03-09T10:00:00"))
        assert "received_at" in errors
        loaded = ServiceRequestIn().load(request(received_at="2026-03-09T10:00:00+08:00"))
        assert loaded["received_at"].utcoffset().total_seconds() == 8 * 3600

    @pytest.mark.parametrize(("field", "value"), [
        ("request_type", "demolition"),
        ("channel", "carrier_pigeon"),
        ("product__category", "Gas Heater"),
        ("call_id", "../etc/passwd"),
        ("product__serial_number", "$gt"),
        ("description", ""),
        ("description", "bad\x00byte"),
        ("customer__name", "x" * 51),
    ])
    def test_other_invalid_fields(self, field, value):
        errors = errors_of(ServiceRequestIn, request(**{field: value}))
        node = errors
        for key in field.split("__"):
            assert key in node
            node = node[key]

    def test_missing_required_fields(self):
        errors = errors_of(ServiceRequestIn, {})
        assert set(errors) == {"customer", "product", "request_type", "description", "channel"}


class TestAppointmentIn:
    SLOT = {"start": "2026-03-10T09:00:00+08:00", "end": "2026-03-10T11:00:00+08:00"}

    def test_plain_slot(self):
        loaded = AppointmentIn().load(self.SLOT)
        assert loaded["customer_requested"] is False
        assert loaded["reason"] is None

    def test_customer_requested_needs_a_reason(self):
        errors = errors_of(AppointmentIn, {**self.SLOT, "customer_requested": True,
                                           "customer_confirmed": True})
        assert errors == {"reason": ["Give the customer's reason for a later slot."]}
        errors = errors_of(AppointmentIn, {**self.SLOT, "customer_requested": True,
                                           "reason": "   "})
        assert "reason" in errors

    def test_customer_requested_with_reason(self):
        loaded = AppointmentIn().load({**self.SLOT, "customer_requested": True,
                                       "customer_confirmed": True,
                                       "reason": "客户出差，周末在家"})
        assert loaded["reason"] == "客户出差，周末在家"

    @pytest.mark.parametrize("end", ["2026-03-10T09:00:00+08:00", "2026-03-10T08:00:00+08:00"])
    def test_slot_must_end_after_it_starts(self, end):
        errors = errors_of(AppointmentIn, {**self.SLOT, "end": end})
        assert errors == {"end": ["The slot must end after it starts."]}

    def test_unknown_field_rejected(self):
        assert errors_of(AppointmentIn, {**self.SLOT, "technician_id": "T1"}) == {
            "technician_id": ["Unknown field."]}


class TestCompleteIn:
    BASE = {"diagnosis": "点火针积碳", "fault_code": "E1"}

    def test_repair_done(self):
        loaded = CompleteIn().load({**self.BASE, "repair_done": "清理点火针",
                                    "parts_used": [{"sku": "IGN-01", "quantity": 1}]})
        assert loaded["cannot_fix"] is False
        assert loaded["remedy"] is None
        assert loaded["customer_signed"] is True
        assert loaded["parts_used"] == [{"sku": "IGN-01", "quantity": 1}]

    def test_cannot_fix_needs_a_remedy(self):
        errors = errors_of(CompleteIn, {**self.BASE, "cannot_fix": True})
        assert errors == {"remedy": ["Say whether an exchange or a refund is requested."]}

    @pytest.mark.parametrize("remedy", ["exchange", "refund"])
    def test_cannot_fix_with_remedy(self, remedy):
        loaded = CompleteIn().load({**self.BASE, "cannot_fix": True, "remedy": remedy})
        assert loaded["remedy"] == remedy
        assert loaded["repair_done"] == ""

    def test_unknown_remedy(self):
        errors = errors_of(CompleteIn, {**self.BASE, "cannot_fix": True, "remedy": "discount"})
        assert "remedy" in errors

    def test_a_fix_must_describe_the_repair(self):
        errors = errors_of(CompleteIn, self.BASE)
        assert errors == {"repair_done": ["Describe the repair done."]}

    @pytest.mark.parametrize("quantity", [0, 101])
    def test_part_quantity_bounds(self, quantity):
        errors = errors_of(CompleteIn, {**self.BASE, "repair_done": "换件",
                                        "parts_used": [{"sku": "A1", "quantity": quantity}]})
        assert "quantity" in errors["parts_used"][0]


def _png(extra: int = 0) -> str:
    """A 1×1 PNG (and ``extra`` bytes of an ancillary chunk's worth of padding)."""
    pixel = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                             "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    return base64.b64encode(pixel + b"\0" * extra).decode()


class TestSignature:
    BASE = {"diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "清理点火针"}

    def test_a_png_is_kept_as_base64_without_the_data_url_prefix(self):
        loaded = CompleteIn().load({**self.BASE, "signature_png": PNG_DATA_URL + _png()})
        assert loaded["signature_png"] == _png()
        assert CompleteIn().load(self.BASE)["signature_png"] is None

    @pytest.mark.parametrize("value", [
        base64.b64encode(b"GIF89a" + b"\0" * 20).decode(),  # another image type
        "not base64 at all!",
        base64.b64encode(PNG_SIGNATURE).decode(),  # a signature alone is no PNG
        "data:image/jpeg;base64," + _png(),
    ])
    def test_anything_but_a_png_is_refused_with_a_clear_error(self, value):
        errors = errors_of(CompleteIn, {**self.BASE, "signature_png": value})
        assert errors == {"signature_png": [NOT_PNG]}

    def test_an_oversize_png_is_refused_before_it_is_decoded(self):
        errors = errors_of(CompleteIn, {**self.BASE,
                                        "signature_png": _png(SIGNATURE_MAX_BYTES)})
        assert errors == {"signature_png": [TOO_LARGE_IMAGE.format(limit=SIGNATURE_MAX_BYTES)]}


class TestPhotos:
    BASE = TestSignature.BASE
    JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 64 + b"\xff\xd9").decode()

    def test_a_jpeg_or_png_of_the_old_part_and_the_nameplate(self):
        loaded = CompleteIn().load({**self.BASE, "photos": [
            {"kind": "old_part", "image": "data:image/jpeg;base64," + self.JPEG},
            {"kind": "nameplate", "image": _png()}]})
        assert loaded["photos"] == [{"kind": "old_part", "image": self.JPEG},
                                    {"kind": "nameplate", "image": _png()}]
        assert CompleteIn().load(self.BASE)["photos"] == []

    def test_another_format_an_oversize_photo_or_a_third_is_refused(self):
        gif = base64.b64encode(b"GIF89a" + b"\0" * 20).decode()
        errors = errors_of(CompleteIn, {**self.BASE, "photos": [{"kind": "old_part",
                                                                  "image": gif}]})
        assert errors == {"photos": {0: {"image": [NOT_IMAGE]}}}
        big = base64.b64encode(b"\xff\xd8\xff" + b"\0" * PHOTO_MAX_BYTES + b"\xff\xd9").decode()
        errors = errors_of(CompleteIn, {**self.BASE, "photos": [{"kind": "nameplate",
                                                                  "image": big}]})
        assert errors == {"photos": {0: {"image": [
            TOO_LARGE_IMAGE.format(limit=PHOTO_MAX_BYTES)]}}}
        three = [{"kind": "old_part", "image": self.JPEG}] * 3
        assert "photos" in errors_of(CompleteIn, {**self.BASE, "photos": three})
