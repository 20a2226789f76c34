"""Contracts of work orders: the intake command, the order resource, technician steps."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from schemas.fields import (
    ORDER_ID,
    PHONE,
    REGION_CODE,
    SAFE_ID,
    ImageData,
    LocalDateTime,
    PastDate,
    Pattern,
    PngImage,
    Text,
    refuse_invalid_unicode,
)
from services.common.domain import coverage
from services.common.domain.commitments import MILESTONES
from services.dispatch.domain.visits import LEAVE_OUTCOMES, PARTS

CHANNELS = ("hotline", "web", "letter", "fax", "media", "email", "chat", "walk_in", "12315")
REQUEST_TYPES = ("installation", "repair", "maintenance", "return_exchange", "consultation",
                 "complaint")
DISPATCHED_TYPES = ("installation", "repair", "maintenance", "return_exchange")
PRIORITIES = ("emergency", "high", "normal")
WARRANTY = ("in_warranty", "main_parts_only", "out_of_warranty", "unknown")
ZONES = ("standard", "intensive", "remote")
ORDER_STATES = ("new", "offered", "accepted", "contacted", "scheduled", "on_site",
                "waiting_parts", "completed", "cancelled", "escalated", "closed",
                "answered", "handed_to_complaints")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True

    @pre_load
    def _valid_unicode(self, data, **kwargs):
        # Before any field: an unknown key with a lone surrogate would otherwise come back
        # as the key of an "Unknown field." error that cannot be encoded.
        refuse_invalid_unicode(data)
        return data


class CustomerIn(StrictSchema):
    name = Text(required=True, one_line=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True, validate=PHONE)
    address = Text(required=True, one_line=True, validate=validate.Length(min=2, max=200))
    region_code = fields.String(required=True, validate=REGION_CODE)
    vip = fields.Boolean(load_default=False)


class ProductIn(StrictSchema):
    category = fields.String(required=True, validate=Pattern(r"^[a-z_]{2,40}$"))
    brand = Text(load_default=None, one_line=True, validate=validate.Length(max=50))
    model = Text(load_default=None, one_line=True, validate=validate.Length(max=50))
    # The customer file's facts of the unit, when the customer or the nameplate tells them.
    series = Text(one_line=True, validate=validate.Length(min=1, max=50))
    batch = fields.String(validate=SAFE_ID)  # production batch (生产批次)
    installer = Text(one_line=True, validate=validate.Length(min=1, max=100))
    serial_number = fields.String(load_default=None, validate=SAFE_ID)
    # Days of the past: from the appliances' floor up to today (schemas/fields.py).
    purchase_date = PastDate(load_default=None)
    installation_date = PastDate(load_default=None)
    invoice_number = fields.String(load_default=None, validate=SAFE_ID)

    @validates_schema
    def _dates_in_order(self, data, **kwargs):
        bought, installed = data.get("purchase_date"), data.get("installation_date")
        if bought and installed and installed < bought:
            raise ValidationError("Installation cannot be before purchase.",
                                  "installation_date")


class PriorityOverrideIn(StrictSchema):
    """The agent's own priority for the request (人工改判), with the reason: audited."""
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES), error_messages={
        "required": "请选择改判后的优先级 / Give the priority."})
    reason = Text(required=True, validate=validate.Length(
        min=1, max=500, error="请填写改判理由（1-500字） / Give a reason of 1 to 500 characters."),
        error_messages={"required": "改判优先级必须填写理由 / A priority override needs a reason.",
                        "null": "改判优先级必须填写理由 / A priority override needs a reason."})


class SafetyAdviceOut(Schema):
    kind = fields.String()  # gas, electric: the hazard's advice in the reference data
    text = fields.String()


class PriorityOverrideOut(Schema):
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    reason = fields.String()
    by = fields.String()
    at = LocalDateTime()
    decided = fields.Dict()  # what the rules had decided: priority, reasons


class ServiceRequestIn(StrictSchema):
    customer = fields.Nested(CustomerIn, required=True)
    product = fields.Nested(ProductIn, required=True)
    request_type = fields.String(required=True, validate=validate.OneOf(REQUEST_TYPES))
    description = Text(required=True, validate=validate.Length(min=1, max=2000))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    received_at = fields.AwareDateTime(load_default=None)
    call_id = fields.String(load_default=None, validate=SAFE_ID)
    priority_override = fields.Nested(PriorityOverrideIn, load_default=None)


class WarrantyOut(Schema):
    status = fields.String(validate=validate.OneOf(WARRANTY))
    start_date = fields.String(allow_none=True)  # ISO dates, kept as text in documents
    whole_unit_until = fields.String(allow_none=True)
    main_parts_until = fields.String(allow_none=True)
    main_parts = fields.List(fields.String())


class DeadlinesOut(Schema):
    first_contact = LocalDateTime(allow_none=True)
    arrival = LocalDateTime(allow_none=True)
    resolution = LocalDateTime(allow_none=True)


class MilestoneOut(Schema):
    at = LocalDateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    ledger = fields.Dict(keys=fields.String(), values=fields.Float())  # seconds by cause
    # the parts time by who was awaited: a location id (warehouse, centre) or "supplier"
    parts_from = fields.Dict(keys=fields.String(), values=fields.Float())


class ForecastOut(Schema):
    """The arrival forecast from the holder's list (or the queue), and why."""
    arrival = LocalDateTime()
    late = fields.Boolean()
    reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    at = LocalDateTime()


class UnqualifiedOut(Schema):
    """Why no technician of the branch could ever take the order (无合格技师)."""
    missing = fields.List(fields.String())  # certificates the best-placed one lacks
    zone = fields.String()
    zone_covered = fields.Boolean()  # False: nobody covers the order's zone
    since = LocalDateTime()


class TimelineEntryOut(Schema):
    at = LocalDateTime()
    step = fields.String()
    by = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)


class VisitOut(Schema):
    """One visit (上门): its arrival, departure and outcome (None while on site)."""
    n = fields.Integer()
    arrived_at = LocalDateTime(allow_none=True)
    left_at = LocalDateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    technician_id = fields.String(allow_none=True)


class OrderOut(Schema):
    order_id = fields.String()
    status = fields.String(validate=validate.OneOf(ORDER_STATES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    priority_reasons = fields.List(fields.String())
    priority_override = fields.Nested(PriorityOverrideOut, allow_none=True)
    safety_advice = fields.List(fields.Nested(SafetyAdviceOut))  # what to tell the customer
    branch = fields.String()
    zone = fields.String(validate=validate.OneOf(ZONES))
    region_code = fields.String()
    request_type = fields.String()
    channel = fields.String()
    customer = fields.Dict()
    product = fields.Dict()
    description = fields.String()
    warranty = fields.Nested(WarrantyOut)
    received_at = LocalDateTime()
    deadlines = fields.Nested(DeadlinesOut)
    milestones = fields.Dict(keys=fields.String(), values=fields.Nested(MilestoneOut))
    technician_id = fields.String(allow_none=True)
    offer = fields.Dict(allow_none=True)
    appointment = fields.Dict(allow_none=True)
    completion = fields.Dict(allow_none=True)
    waiting_for = fields.Dict(allow_none=True)  # parts awaited and their expected date
    parts_arrived_at = LocalDateTime(allow_none=True)
    closure = fields.Dict(allow_none=True)  # set when a callback closes the order
    repeat_of = fields.String(allow_none=True)
    follow_up_of = fields.String(allow_none=True)
    follow_up_kind = fields.String(allow_none=True)
    reminders = fields.Integer()
    last_reminder_at = LocalDateTime(allow_none=True)
    paused_seconds = fields.Float()  # the resolution clock's pause, seconds
    paused = fields.Dict(keys=fields.String(), values=fields.Float())  # per milestone
    paused_for = fields.List(fields.String())  # the clocks stopped now (waiting_parts)
    delays = fields.List(fields.Dict())
    # When each open milestone turns at risk (a share of its time gone): the console marks it.
    risk_at = fields.Dict(keys=fields.String(), values=LocalDateTime(allow_none=True))
    forecast = fields.Nested(ForecastOut, allow_none=True)
    pause_reason = fields.String(allow_none=True)
    timeline = fields.List(fields.Nested(TimelineEntryOut))
    visits = fields.List(fields.Nested(VisitOut))
    escalation = fields.Dict(allow_none=True)  # open for the dispatcher (cannot_fix...)
    # Nobody on the roster is qualified (certificates, zone): what is missing, since when.
    unqualified = fields.Nested(UnqualifiedOut, allow_none=True)
    created = fields.Boolean()


class OrderQuery(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))
    overdue = fields.Boolean(load_default=None)
    # Orders with an escalation open for the dispatcher (cannot_fix's exchange or refund).
    escalation = fields.String(load_default=None, validate=validate.OneOf(("open",)))
    # Orders no technician of the branch is qualified for (true), or the others (false).
    unqualified = fields.Boolean(load_default=None)
    technician_id = fields.String(load_default=None, validate=SAFE_ID)
    # newest: newest received first. work: one technician's jobs in hand, in the order
    # they work them (emergencies first, then by place: services/dispatch/domain/queueing.py).
    order = fields.String(load_default="newest", validate=validate.OneOf(("newest", "work")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class OrderIdIn(StrictSchema):
    order_id = fields.String(required=True, validate=ORDER_ID)


# --- technician steps --------------------------------------------------------------------

class RejectIn(StrictSchema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class NoteIn(StrictSchema):
    note = Text(load_default=None, validate=validate.Length(max=500))


class AppointmentIn(StrictSchema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    customer_requested = fields.Boolean(load_default=False)
    # A change the customer asked for stands only once the customer confirmed the new time.
    customer_confirmed = fields.Boolean(load_default=False)
    reason = Text(load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _slot(self, data, **kwargs):
        if data["end"] <= data["start"]:
            raise ValidationError("The slot must end after it starts.", "end")
        if data.get("customer_requested") and not data.get("reason"):
            raise ValidationError("Give the customer's reason for a later slot.", "reason")
        if data.get("customer_requested") and not data.get("customer_confirmed"):
            raise ValidationError("客户要求的改约须经客户确认 / The customer must confirm "
                                  "the time they asked for.", "customer_confirmed")


class CheckInIn(StrictSchema):
    confirmed_by_customer = fields.Boolean(load_default=True)
    note = Text(load_default=None, validate=validate.Length(max=500))


class LeaveIn(StrictSchema):
    """A visit ended without completion; the order is booked again."""
    outcome = fields.String(required=True, metadata={"enum": list(LEAVE_OUTCOMES)})
    note = Text(load_default=None, validate=validate.Length(max=500))

    @validates("outcome")
    def _known_outcome(self, value, **kwargs):
        if value == PARTS:
            raise ValidationError("Waiting for parts is the wait-parts step, with the parts.")
        if value not in LEAVE_OUTCOMES:
            raise ValidationError(f"Must be one of: {', '.join(LEAVE_OUTCOMES)}.")


CAUSES = coverage.CAUSES                    # what the technician found (who pays follows)
DECIDED_WARRANTY = coverage.WARRANTIES


class DistanceKm(fields.Decimal):
    """Kilometres with one decimal, kept as text (exact, and storable as it is)."""

    def __init__(self, **kwargs):
        if "load_default" in kwargs:  # documented as the number it is (OpenAPI: a number)
            kwargs["metadata"] = {"default": float(kwargs["load_default"]),
                                  **kwargs.get("metadata", {})}
        super().__init__(places=1, rounding=ROUND_HALF_UP, as_string=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("Not a valid number.")
        km = super()._deserialize(value, attr, data, **kwargs)
        if not Decimal(0) <= km <= Decimal(1000):
            raise ValidationError("Give 0 to 1000 km.")
        return str(km)


class PartLineIn(StrictSchema):
    sku = fields.String(required=True, validate=SAFE_ID)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=100))


SIGNATURE_MAX_BYTES = 32_768  # a drawn signature is a few KB; the body limit is 64 KB
PHOTO_KINDS = ("old_part", "nameplate")
PHOTO_MAX_BYTES = 12_288  # a photo made small on the phone; two fit beside a signature


class PhotoIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(PHOTO_KINDS))
    image = ImageData(required=True, max_bytes=PHOTO_MAX_BYTES, formats=("jpeg", "png"))


class CompleteIn(StrictSchema):
    diagnosis = Text(required=True, validate=validate.Length(min=1, max=1000))
    fault_code = fields.String(required=True, validate=SAFE_ID)
    repair_done = Text(load_default="", validate=validate.Length(max=1000))
    parts_used = fields.List(fields.Nested(PartLineIn), load_default=list,
                             validate=validate.Length(max=50))
    old_parts_returned = fields.List(fields.Nested(PartLineIn), load_default=list,
                                     validate=validate.Length(max=50))
    cannot_fix = fields.Boolean(load_default=False)
    remedy = fields.String(load_default=None, validate=validate.OneOf(("exchange", "refund")))
    customer_signed = fields.Boolean(load_default=True)
    callback_at = fields.AwareDateTime(load_default=None)  # the customer's time for the callback
    # What pricing needs (billing): the cause decides coverage (inside warranty a failure
    # is taken as a quality failure unless the technician records otherwise), the repair
    # code the labour, the distance (one way, as shown on the quote) the remote fee, and
    # the warranty decided at diagnosis when intake could not tell.
    cause = fields.String(load_default="quality_failure", validate=validate.OneOf(CAUSES))
    repair_code = fields.String(load_default=None, validate=SAFE_ID)
    distance_km = DistanceKm(load_default="0.0")
    warranty = fields.String(load_default=None, validate=validate.OneOf(DECIDED_WARRANTY))
    # The customer's signature drawn on the technician's phone, kept with the completion.
    signature_png = PngImage(load_default=None, max_bytes=SIGNATURE_MAX_BYTES)
    # Photos of the old part and the nameplate, as the technician took them on site.
    photos = fields.List(fields.Nested(PhotoIn), load_default=list,
                         validate=validate.Length(max=len(PHOTO_KINDS)))

    @validates_schema
    def _cannot_fix_needs_remedy(self, data, **kwargs):
        if data.get("cannot_fix") and not data.get("remedy"):
            raise ValidationError("Say whether an exchange or a refund is requested.", "remedy")
        if not data.get("cannot_fix") and not data.get("repair_done"):
            raise ValidationError("Describe the repair done.", "repair_done")


class AssignIn(StrictSchema):
    technician_id = fields.String(required=True, validate=SAFE_ID)
    reason = Text(load_default=None, validate=validate.Length(max=500))


class CancelIn(StrictSchema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class WaitPartsIn(StrictSchema):
    parts = fields.List(fields.Nested(PartLineIn), required=True,
                        validate=validate.Length(min=1, max=50))
    expected_at = fields.AwareDateTime(load_default=None)
    customer_informed = fields.Boolean(required=True)


class PauseIn(StrictSchema):
    # One of the reasons the reference data names (``pause_reasons``), checked by dispatch;
    # waiting for parts has its own step (wait-parts), with the parts.
    reason = fields.String(required=True, validate=SAFE_ID)
    note = Text(load_default=None, validate=validate.Length(max=500))
    customer_informed = fields.Boolean(required=True)


class DelayApprovalIn(StrictSchema):
    milestone = fields.String(required=True, validate=validate.OneOf(MILESTONES))
    new_deadline = fields.AwareDateTime(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=500))
    customer_informed = fields.Boolean(required=True)


STEP_SCHEMAS: dict[str, type[Schema]] = {
    "accept": NoteIn,
    "reject": RejectIn,
    "contact": NoteIn,
    "appointment": AppointmentIn,
    "check-in": CheckInIn,
    "leave": LeaveIn,
    "complete": CompleteIn,
    "assign": AssignIn,
    "cancel": CancelIn,
    "wait-parts": WaitPartsIn,
    "resume": NoteIn,
    "pause": PauseIn,
    "unpause": NoteIn,
    "approve-delay": DelayApprovalIn,
}
