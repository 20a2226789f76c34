"""Contracts of complaints (投诉): opening one, the handler's steps, the resource, queries
and the monthly report."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import ORDER_ID, PHONE, SAFE_ID, LocalDateTime, Pattern, Text
from schemas.orders import CHANNELS, StrictSchema
from services.complaints.domain.rules import (
    CATEGORIES,
    RESOLUTIONS,
    RESPONSIBILITIES,
    SEVERITIES,
    STATUSES,
)

COMPLAINT_ID = Pattern(r"^CP-[A-Z]{2,8}-\d{8}-\d{4,}$",
                       error="Not a valid complaint number.")
AUTO_CHANNELS = ("callback",)  # opened by the system, not by a person
STEP_ACTIONS = ("acknowledge", "conclude", "resolve", "confirm", "reopen")


class ComplaintCustomerIn(StrictSchema):
    name = Text(required=True, one_line=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True, validate=PHONE)
    address = Text(load_default=None, one_line=True, validate=validate.Length(max=200))


class ComplaintIn(StrictSchema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    description = Text(required=True, validate=validate.Length(min=1, max=2000))
    customer = fields.Nested(ComplaintCustomerIn, required=True)
    order_ids = fields.List(fields.String(validate=ORDER_ID), load_default=list,
                            validate=validate.Length(max=10))
    serial_number = fields.String(load_default=None, validate=SAFE_ID)
    technician_id = fields.String(load_default=None, validate=SAFE_ID)
    service_centre_id = fields.String(load_default=None, validate=SAFE_ID)
    above_branch = fields.Boolean(load_default=False)  # 越级投诉: raised above the branch
    reference = fields.String(load_default=None, validate=SAFE_ID)  # makes retries safe


class AcknowledgeIn(StrictSchema):
    note = Text(load_default=None, validate=validate.Length(max=500))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))


class ConcludeIn(StrictSchema):
    findings = Text(required=True, validate=validate.Length(min=1, max=2000))
    cause = Text(load_default=None, validate=validate.Length(max=500))
    responsibility = fields.String(required=True, validate=validate.OneOf(RESPONSIBILITIES))
    party_id = fields.String(load_default=None, validate=SAFE_ID)


def _yuan_amount(value: Decimal) -> None:
    # A plain function rather than validate.Range: the OpenAPI document cannot hold the
    # Decimal bounds a Range on a Decimal field would put in it.
    if not Decimal(0) <= value <= Decimal(1_000_000):
        raise ValidationError("Must be between 0 and 1,000,000 yuan.")


class ResolveIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    amount = fields.Decimal(load_default=None, places=2, rounding=ROUND_HALF_UP,
                            allow_nan=False, validate=_yuan_amount,
                            metadata={"description": "Yuan, e.g. \"120.50\" (0 to 1,000,000)"})
    order_id = fields.String(load_default=None, validate=ORDER_ID)
    explanation = Text(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def _explained(self, data, **kwargs):
        if data["kind"] == "explanation" and not data.get("explanation"):
            raise ValidationError("Give the explanation given to the customer.",
                                  "explanation")


class ConfirmIn(StrictSchema):
    satisfied = fields.Boolean(required=True)
    comment = Text(load_default=None, validate=validate.Length(max=500))


class ReopenIn(StrictSchema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


STEP_SCHEMAS: dict[str, type[Schema]] = {
    "acknowledge": AcknowledgeIn, "conclude": ConcludeIn, "resolve": ResolveIn,
    "confirm": ConfirmIn, "reopen": ReopenIn}


class ComplaintQuery(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    category = fields.String(load_default=None, validate=validate.OneOf(CATEGORIES))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    order_id = fields.String(load_default=None, validate=ORDER_ID)
    overdue = fields.Boolean(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ReportQuery(StrictSchema):
    month = fields.String(load_default=None, validate=Pattern(
        r"^\d{4}-(0[1-9]|1[0-2])$", error="Use YYYY-MM."))


class ComplaintOut(Schema):
    complaint_id = fields.String()
    branch = fields.String()
    status = fields.String()
    channel = fields.String()
    source = fields.String()
    category = fields.String()
    severity = fields.String()
    description = fields.String()
    customer = fields.Dict(allow_none=True)
    serial_number = fields.String(allow_none=True)
    order_ids = fields.List(fields.String())
    technician_id = fields.String(allow_none=True)
    service_centre_id = fields.String(allow_none=True)
    above_branch = fields.Boolean()
    details = fields.Dict(allow_none=True)
    opened_at = LocalDateTime()
    month = fields.String()
    deadlines = fields.Dict(keys=fields.String(), values=LocalDateTime())
    milestones = fields.Dict()
    escalation_level = fields.String()
    escalations = fields.List(fields.Dict())
    repeats = fields.List(fields.Dict())
    penalties = fields.List(fields.Dict())
    investigation = fields.Dict(allow_none=True)
    resolution = fields.Dict(allow_none=True)
    confirmation = fields.Dict(allow_none=True)
    reopened = fields.Integer()
    history = fields.List(fields.Dict())
    timeline = fields.List(fields.Dict())
    created = fields.Boolean()


class ComplaintReportOut(Schema):
    branch = fields.String()
    month = fields.String()
    opened = fields.Integer()
    completed_orders = fields.Integer()
    service_responsibility_complaints = fields.Integer()
    complaint_rate = fields.Float()
    target = fields.Float()
    meets_target = fields.Boolean()
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_responsibility = fields.Dict(keys=fields.String(), values=fields.Integer())
    penalty_points = fields.Dict(keys=fields.String(), values=fields.Integer())
