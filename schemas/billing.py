"""Contracts of billing: quotes, bills, payments, refunds, settlement, and the events billing
consumes. No command carries a price: prices come only from the fee schedule."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from schemas.fields import ORDER_ID, SAFE_ID, LocalDateTime, Pattern, Text
from schemas.orders import (
    CAUSES,
    DECIDED_WARRANTY,
    WARRANTY,
    DistanceKm,
    PartLineIn,
    StrictSchema,
)

ANOMALY_RULES = ("charge_on_covered", "off_schedule", "parts_not_consumed",
                 "consumed_not_billed", "no_approval", "duplicate_bill", "paid_differs")
BILL_STATES = ("open", "paid", "settled")
EARNING_STATES = ("pending", "released", "withheld", "in_statement", "paid")
EARNING_ACTIONS = ("release", "reduce", "withhold")
MONTH = Pattern(r"^20\d\d-(0[1-9]|1[0-2])$", error="Use YYYY-MM.")
PAGE = {"page": fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000)),
        "page_size": fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))}


class QuoteIn(StrictSchema):
    """The technician's diagnosis, priced by billing into an itemised quote (报价)."""

    order_id = fields.String(required=True, validate=ORDER_ID)
    fault_code = fields.String(required=True, validate=SAFE_ID)
    cause = fields.String(required=True, validate=validate.OneOf(CAUSES))
    repair_code = fields.String(load_default=None, validate=SAFE_ID)
    inspection_only = fields.Boolean(load_default=False)
    parts = fields.List(fields.Nested(PartLineIn), load_default=list,
                        validate=validate.Length(max=50))
    distance_km = DistanceKm(load_default="0.0")
    warranty = fields.String(load_default=None, validate=validate.OneOf(DECIDED_WARRANTY))


class ApprovalIn(StrictSchema):
    """The customer's approval of a quote: who, and how (when is the server's clock)."""

    approved_by = Text(required=True, one_line=True, validate=validate.Length(min=1, max=50))
    method = fields.String(required=True,
                           validate=validate.OneOf(("signature", "sms", "app", "verbal")))


class PaymentIn(StrictSchema):
    method = fields.String(required=True, validate=validate.OneOf(("cash", "card", "mobile")))
    amount_fen = fields.Integer(required=True, strict=True,
                                validate=validate.Range(min=0, max=10_000_000))
    reference = fields.String(load_default=None, validate=SAFE_ID)


class RefundIn(StrictSchema):
    amount_fen = fields.Integer(required=True, strict=True,
                                validate=validate.Range(min=1, max=10_000_000))
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class DecisionIn(StrictSchema):
    note = Text(load_default=None, validate=validate.Length(max=500))


class EarningReviewIn(StrictSchema):
    """A reviewer's decision on an earning held after a callback that did not verify the
    job: release it, reduce it to ``amount_fen`` (at most what is held) or withhold it;
    always with the reason."""

    action = fields.String(required=True, validate=validate.OneOf(EARNING_ACTIONS))
    reason = Text(required=True, validate=validate.Length(min=2, max=500))
    amount_fen = fields.Integer(strict=True, load_default=None,
                                validate=validate.Range(min=1, max=10_000_000))

    @validates_schema
    def _amount_only_to_reduce(self, data: dict, **kwargs) -> None:
        if data["action"] == "reduce" and data.get("amount_fen") is None:
            raise ValidationError("Give the amount to pay (fen).", "amount_fen")
        if data["action"] != "reduce" and data.get("amount_fen") is not None:
            raise ValidationError("Only a reduction takes an amount.", "amount_fen")


class SettlementRunIn(StrictSchema):
    month = fields.String(required=True, validate=MONTH)


class BillQuery(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(BILL_STATES))
    order_id = fields.String(load_default=None, validate=ORDER_ID)
    claims = fields.Boolean(load_default=None)  # only bills with a warranty claim
    page = PAGE["page"]
    page_size = PAGE["page_size"]


class AnomalyQuery(StrictSchema):
    rule = fields.String(load_default=None, validate=validate.OneOf(ANOMALY_RULES))
    order_id = fields.String(load_default=None, validate=ORDER_ID)
    page = PAGE["page"]
    page_size = PAGE["page_size"]


class EarningQuery(StrictSchema):
    service_centre_id = fields.String(load_default=None, validate=SAFE_ID)
    state = fields.String(load_default=None, validate=validate.OneOf(EARNING_STATES))
    held = fields.Boolean(load_default=None)  # only those held for a reviewer's decision
    page = PAGE["page"]
    page_size = PAGE["page_size"]


# --- resources ---------------------------------------------------------------------------

class LineOut(Schema):
    item = fields.String()
    code = fields.String()
    name = fields.String()
    quantity = fields.String()
    unit_fen = fields.Integer()
    amount_fen = fields.Integer()
    coverage = fields.String()
    main_part = fields.Boolean()
    basis = fields.String()  # a part's price: cost (成本价) or list (零售价)


class PricedOut(Schema):
    order_id = fields.String()
    branch = fields.String()
    schedule_version = fields.String()
    city_tier = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    subtotal_fen = fields.Integer()
    total_fen = fields.Integer()
    claim_fen = fields.Integer()
    coverage = fields.String()
    warranty = fields.String()
    cause = fields.String()


class QuoteOut(PricedOut):
    quote_id = fields.String()
    status = fields.String()
    fault_code = fields.String()
    distance_km = fields.String()
    created_at = LocalDateTime()
    approval = fields.Dict(allow_none=True)


class BillOut(PricedOut):
    bill_id = fields.String()
    status = fields.String(validate=validate.OneOf(BILL_STATES))
    quote_id = fields.String(allow_none=True)
    technician_id = fields.String(allow_none=True)
    service_centre_id = fields.String(allow_none=True)
    fault_code = fields.String(allow_none=True)
    completed_at = LocalDateTime()
    payment = fields.Dict(allow_none=True)
    refundable_fen = fields.Integer()
    refunds = fields.Dict()
    warranty_claim = fields.Dict(allow_none=True)


class AnomalyOut(Schema):
    anomaly_id = fields.String()
    order_id = fields.String()
    branch = fields.String()
    rule = fields.String()
    detail = fields.Dict()
    detected_at = LocalDateTime()


class EarningOut(Schema):
    order_id = fields.String()
    branch = fields.String()
    service_centre_id = fields.String()
    amount_fen = fields.Integer()
    state = fields.String()
    review = fields.String(allow_none=True)     # why it is held for review
    decision = fields.Dict(allow_none=True)     # the reviewer's: action, reason, by, at
    statement_id = fields.String(allow_none=True)
    created_at = LocalDateTime()
    released_at = LocalDateTime(allow_none=True)


class StatementOut(Schema):
    statement_id = fields.String()
    branch = fields.String()
    service_centre_id = fields.String()
    month = fields.String()
    status = fields.String()
    total_fen = fields.Integer()
    orders = fields.Integer()
    issued_at = LocalDateTime(allow_none=True)
    paid_at = LocalDateTime(allow_none=True)


# --- events billing consumes -------------------------------------------------------------

class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class BillingFacts(_Open):
    """What pricing needs of a completed (or about to be completed) job; dispatch sends it
    with ``check_completion`` and in ``order_completed``."""

    category = fields.String(required=True)
    region_code = fields.String(required=True)
    request_type = fields.String(required=True)
    warranty = fields.String(required=True, validate=validate.OneOf(WARRANTY))
    cause = fields.String(required=True, validate=validate.OneOf(CAUSES))
    repair_code = fields.String(load_default=None, allow_none=True)
    cannot_fix = fields.Boolean(load_default=False)
    parts_used = fields.List(fields.Dict(), load_default=list)
    distance_km = fields.String(load_default="0.0")
    fault_code = fields.String(load_default=None, allow_none=True)
    serial_number = fields.String(load_default=None, allow_none=True)
