"""Contracts of the callbacks service: staff answers, HQ re-calls, schedules and the task
resource (its events' contracts are in ``schemas/events.py``)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import PHONE, REGION_CODE, SAFE_ID, LocalDateTime, Pattern, Text
from schemas.orders import StrictSchema

TASK_KINDS = ("first", "second", "maintenance_visit", "inspection", "long_term_care",
              "key_customer_care", "campaign")
TASK_STATES = ("open", "pending", "done")
OUTCOMES = ("satisfied", "neutral", "dissatisfied", "not_fixed", "unreachable", "reached")
SCHEDULE_KINDS = ("maintenance_visit", "inspection", "long_term_care", "key_customer_care",
                  "campaign")
SCORE = validate.Range(min=1, max=5)
MAX_YUAN = 1_000_000


def _money_range(value) -> None:
    """Yuan, 0 to MAX_YUAN (a plain function: the OpenAPI writer cannot print Decimals)."""
    if not 0 <= value <= MAX_YUAN:
        raise ValidationError(f"Must be between 0 and {MAX_YUAN} yuan.")


class AnswersIn(StrictSchema):
    """One call's result. Reached: the customer's answers (required for order callbacks;
    a scheduled call needs only ``reached`` and a comment)."""

    reached = fields.Boolean(required=True)
    fixed = fields.Boolean(load_default=None)
    on_time = fields.Boolean(load_default=None)
    attitude = fields.Integer(load_default=None, validate=SCORE)
    satisfaction = fields.Integer(load_default=None, validate=SCORE)
    paid = fields.Decimal(load_default=None, places=2, rounding=ROUND_HALF_UP,
                          validate=_money_range)
    comment = Text(load_default=None, validate=validate.Length(max=1000))

    @validates_schema
    def _nothing_asked_when_not_reached(self, data, **kwargs):
        if not data["reached"]:
            given = [k for k in ("fixed", "on_time", "attitude", "satisfaction", "paid")
                     if data.get(k) is not None]
            if given:
                raise ValidationError("Not reached: no answers to record.", given[0])


ANSWER_KEYS = ("fixed", "on_time", "attitude", "satisfaction", "paid")


class RescheduleIn(StrictSchema):
    at = fields.AwareDateTime(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class TaskQuery(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(TASK_STATES))
    kind = fields.String(load_default=None, validate=validate.OneOf(TASK_KINDS))
    outcome = fields.String(load_default=None, validate=validate.OneOf(OUTCOMES))
    order_id = fields.String(load_default=None, validate=SAFE_ID)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class AuditQuery(StrictSchema):
    state = fields.String(load_default=None, validate=validate.OneOf(("pending", "done")))
    discrepancy = fields.Boolean(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ReportQuery(StrictSchema):
    month = fields.String(load_default=None,
                          validate=Pattern(r"^\d{4}-(0[1-9]|1[0-2])$",
                                           error="Use YYYY-MM."))


class ScheduleCustomerIn(StrictSchema):
    name = Text(required=True, one_line=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True, validate=PHONE)
    address = Text(required=True, one_line=True, validate=validate.Length(min=2, max=200))
    region_code = fields.String(load_default=None, validate=REGION_CODE)


class ScheduleProductIn(StrictSchema):
    category = fields.String(required=True, validate=Pattern(r"^[a-z_]{2,40}$"))
    serial_number = fields.String(load_default=None, validate=SAFE_ID)
    model = Text(load_default=None, one_line=True, validate=validate.Length(max=50))


class ScheduleIn(StrictSchema):
    """A contract's visits, a customer's care calls, or a campaign over a category."""

    schedule_id = fields.String(required=True, validate=SAFE_ID)
    kind = fields.String(required=True, validate=validate.OneOf(SCHEDULE_KINDS))
    first_run_at = fields.AwareDateTime(required=True)
    until = fields.AwareDateTime(load_default=None)
    customer = fields.Nested(ScheduleCustomerIn, load_default=None)
    product = fields.Nested(ScheduleProductIn, load_default=None)
    category = fields.String(load_default=None, validate=Pattern(r"^[a-z_]{2,40}$"))
    note = Text(load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _target(self, data, **kwargs):
        if data["kind"] == "campaign":
            if not data.get("category"):
                raise ValidationError("A campaign names the product category.", "category")
        else:
            if not data.get("customer"):
                raise ValidationError("Name the customer.", "customer")
            if not data.get("product"):
                raise ValidationError("Name the product.", "product")


class AttemptOut(Schema):
    at = LocalDateTime()
    by = fields.String()
    reached = fields.Boolean()
    comment = fields.String(allow_none=True)


class TaskOut(Schema):
    task_id = fields.String()
    kind = fields.String()
    status = fields.String()
    branch = fields.String()
    order_id = fields.String(allow_none=True)
    schedule_id = fields.String(allow_none=True)
    customer = fields.Dict()
    product = fields.Dict()
    technician_id = fields.String(allow_none=True)
    completed_at = LocalDateTime(allow_none=True)
    due_at = LocalDateTime(allow_none=True)
    deadline = LocalDateTime(allow_none=True)
    claim = fields.Dict(allow_none=True)
    attempts = fields.List(fields.Nested(AttemptOut))
    reschedules = fields.List(fields.Dict())
    outcome = fields.String(allow_none=True)
    answers = fields.Dict(allow_none=True)
    paid = fields.String(allow_none=True)
    billed = fields.String(allow_none=True)
    paid_differs = fields.Boolean(allow_none=True)
    done_at = LocalDateTime(allow_none=True)
    milestone = fields.Dict(allow_none=True)
    audit = fields.Dict(allow_none=True)
    note = fields.String(allow_none=True)
