"""Event contracts: the envelope, and one schema for the data of each event some service
consumes, owned by the event's producer (grouped by producer below).

Consumers load the data tolerantly: unknown fields are kept (a producer may add one
before its consumers read it), and a consumer that needs only part of an event names the
fields it needs (``services.contracts.read_event``). Who consumes which event is the
route table, ``services/common/routes.py``; a test holds the two together.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from schemas.billing import BillingFacts
from schemas.callbacks import OUTCOMES
from schemas.fields import SAFE_ID


class EventEnvelope(Schema):
    class Meta:
        unknown = INCLUDE

    event_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$"))
    type = fields.String(required=True, validate=SAFE_ID)
    source = fields.String(required=True, validate=SAFE_ID)
    branch = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2,8}$"))
    occurred_at = fields.AwareDateTime(required=True)
    data = fields.Dict(required=True)
    # The request that caused the event (services/common/request_id.py), when one did.
    request_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"))


class EventData(Schema):
    class Meta:
        unknown = INCLUDE


class OrderRefData(EventData):
    order_id = fields.String(required=True)


# -- intake ----------------------------------------------------------------------------
class OrderCreatedData(OrderRefData):
    branch = fields.String(required=True)
    zone = fields.String(required=True)
    region_code = fields.String(required=True)
    lat = fields.Float(required=True)
    lon = fields.Float(required=True)
    request_type = fields.String(required=True)
    priority = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    deadlines = fields.Dict(required=True)
    product = fields.Dict(required=True)
    customer = fields.Dict(required=True)
    # The agent's override of the triage (priority, reason, by, at as ISO text, decided).
    priority_override = fields.Dict(load_default=None, allow_none=True)


class ReminderReceivedData(OrderRefData):
    channel = fields.String(load_default=None, allow_none=True)


class ComplaintReceivedData(OrderRefData):
    channel = fields.String(load_default="hotline")
    description = fields.String(load_default=None, allow_none=True)
    customer = fields.Dict(load_default=dict)
    product = fields.Dict(load_default=dict)


# -- dispatch --------------------------------------------------------------------------
class OrderCompletedData(OrderRefData):
    """What each consumer reads of a completion: the technician's report (inventory),
    the facts to price (billing), whom to call back (callbacks), who did the job
    (complaints)."""

    completion = fields.Dict(required=True)
    billing = fields.Nested(BillingFacts, required=True)
    technician_id = fields.String(load_default=None, allow_none=True)
    service_centre_id = fields.String(load_default=None, allow_none=True)
    serial_number = fields.String(load_default=None, allow_none=True)
    zone = fields.String(load_default="standard")
    request_type = fields.String(load_default="repair")
    priority = fields.String(load_default="normal")
    customer = fields.Dict(load_default=dict)
    product = fields.Dict(load_default=dict)
    follow_up_of = fields.String(load_default=None, allow_none=True)


class OrderCancelledData(OrderRefData):
    reason = fields.String(load_default=None, allow_none=True)


# -- inventory -------------------------------------------------------------------------
class PartsLinesData(OrderRefData):
    """``parts_short`` and ``parts_arrived``."""

    shortage_id = fields.String(load_default=None)
    eta = fields.AwareDateTime(load_default=None)
    parts = fields.List(fields.Dict(), load_default=list)


class PartsConsumedData(OrderRefData):
    lines = fields.List(fields.Dict(), required=True)


# -- billing ---------------------------------------------------------------------------
class BillSettledData(OrderRefData):
    bill_id = fields.String(required=True)
    total_fen = fields.Integer(required=True, validate=validate.Range(min=0))


# -- callbacks -------------------------------------------------------------------------
class CallbackDoneData(OrderRefData):
    task_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    reached = fields.Boolean(required=True)
    fixed = fields.Boolean(allow_none=True, load_default=None)
    satisfaction = fields.Integer(allow_none=True, load_default=None)
    paid_fen = fields.Integer(allow_none=True, load_default=None)
    billed_fen = fields.Integer(allow_none=True, load_default=None)
    paid_differs = fields.Boolean(allow_none=True, load_default=False)


# -- complaints ------------------------------------------------------------------------
class ComplaintNoticeData(EventData):
    """``complaint_opened`` and ``complaint_escalated``: the orders it concerns."""

    complaint_id = fields.String(required=True)
    order_ids = fields.List(fields.String(), load_default=list)
    category = fields.String(load_default=None, allow_none=True)
    severity = fields.String(load_default=None, allow_none=True)
    level = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)


class ReserviceRequestedData(OrderRefData):
    complaint_id = fields.String(required=True, validate=SAFE_ID)


class RefundRequestedData(OrderRefData):
    complaint_id = fields.String(required=True, validate=SAFE_ID)
    remedy = fields.String(load_default=None, allow_none=True)
    amount_fen = fields.Integer(required=True, validate=validate.Range(min=0))


# (source, type) -> the data's contract
EVENT_DATA: dict[tuple[str, str], type[EventData]] = {
    ("intake", "order_created"): OrderCreatedData,
    ("intake", "reminder_received"): ReminderReceivedData,
    ("intake", "complaint_received"): ComplaintReceivedData,
    ("dispatch", "order_completed"): OrderCompletedData,
    ("dispatch", "order_cancelled"): OrderCancelledData,
    ("inventory", "parts_short"): PartsLinesData,
    ("inventory", "parts_arrived"): PartsLinesData,
    ("inventory", "parts_consumed"): PartsConsumedData,
    ("billing", "bill_settled"): BillSettledData,
    ("callbacks", "callback_done"): CallbackDoneData,
    ("complaints", "complaint_opened"): ComplaintNoticeData,
    ("complaints", "complaint_escalated"): ComplaintNoticeData,
    ("complaints", "reservice_requested"): ReserviceRequestedData,
    ("complaints", "refund_requested"): RefundRequestedData,
}
