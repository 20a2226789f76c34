"""Contracts of the customer file (客户档案): the household, its installed units and
their service history, as intake keeps them and the agent reads them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import PHONE, LocalDateTime, Pattern
from schemas.orders import PRIORITIES, REQUEST_TYPES, StrictSchema

CUSTOMER_ID = Pattern(r"^CU-[A-Z]{2,8}-\d{8}-\d{6}$",
                      error="不是有效的客户编号 / Not a valid customer number.")


class CustomerQuery(StrictSchema):
    """The agent's search as they type: the whole phone, or its first 7 digits or more."""
    phone = fields.String(required=True, validate=[
        validate.Length(min=7, max=20, error="请输入 7 到 20 位 / Type 7 to 20 characters."),
        Pattern(r"^\+?[0-9][0-9 -]*$",
                error="只能输入数字、空格或短横线 / Digits, spaces and dashes only.")],
        error_messages={"required": "请输入电话号码 / Give the phone number."})


class PhoneIn(StrictSchema):
    """A second phone of the household (another member's mobile, the landline)."""
    phone = fields.String(required=True, validate=PHONE,
                          error_messages={"required": "请输入电话号码 / Give the phone number."})


class MergeIn(StrictSchema):
    """The other record of the same household, merged into the one in the path."""
    customer_id = fields.String(required=True, validate=CUSTOMER_ID, error_messages={
        "required": "请填写要并入的客户编号 / Give the other record's customer number."})


class AddressOut(Schema):
    address = fields.String()
    region_code = fields.String()


class FaultOut(Schema):
    fault_code = fields.String()
    diagnosis = fields.String()
    repair_done = fields.String()
    cause = fields.String()


class ServiceRecordOut(Schema):
    """One request or order of a unit's service history, as intake knows it: intake's
    status (new while open; completed or cancelled once dispatch says so)."""
    order_id = fields.String()
    request_type = fields.String(validate=validate.OneOf(REQUEST_TYPES))
    status = fields.String()
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    description = fields.String()  # the customer's own words (客户原话)
    received_at = LocalDateTime()
    completed_at = LocalDateTime(allow_none=True)
    fault = fields.Nested(FaultOut, allow_none=True)
    warranty = fields.String()
    unit_id = fields.String()
    serial_number = fields.String(allow_none=True)
    category = fields.String()
    follow_up_of = fields.String(allow_none=True)


class UnitOut(Schema):
    """An installed unit (在用产品): by serial number, or by category until it is known."""
    unit_id = fields.String()
    serial_number = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    series = fields.String(allow_none=True)
    batch = fields.String(allow_none=True)  # production batch, when known
    purchase_date = fields.String(allow_none=True)  # ISO dates
    installation_date = fields.String(allow_none=True)
    installer = fields.String(allow_none=True)
    first_seen_at = LocalDateTime(allow_none=True)
    order_ids = fields.List(fields.String())
    history = fields.List(fields.Nested(ServiceRecordOut))  # the customer's own resource


class CustomerOut(Schema):
    customer_id = fields.String()
    branch = fields.String()
    name = fields.String(allow_none=True)
    phones = fields.List(fields.String())
    addresses = fields.List(fields.Nested(AddressOut))
    created_at = LocalDateTime(allow_none=True)
    units = fields.List(fields.Nested(UnitOut))
    open_requests = fields.List(fields.Nested(ServiceRecordOut))


class CustomerPage(Schema):
    items = fields.List(fields.Nested(CustomerOut))
