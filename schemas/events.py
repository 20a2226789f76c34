"""Event contracts and who consumes which event.

``SUBSCRIPTIONS`` is the one table of routes: consumers' queues are named from it and
publishers declare those queues at start-up, so no event is published into the void.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from schemas.fields import SAFE_ID
from services.common.messaging import Subscription


class EventEnvelope(Schema):
    class Meta:
        unknown = INCLUDE

    event_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$"))
    type = fields.String(required=True, validate=SAFE_ID)
    source = fields.String(required=True, validate=SAFE_ID)
    branch = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2,8}$"))
    occurred_at = fields.AwareDateTime(required=True)
    data = fields.Dict(required=True)


class OrderCreatedData(Schema):
    class Meta:
        unknown = INCLUDE

    order_id = fields.String(required=True)
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


class OrderRefData(Schema):
    class Meta:
        unknown = INCLUDE

    order_id = fields.String(required=True)


SUBSCRIPTIONS: list[Subscription] = [
    Subscription("intake", "order_created", "dispatch", "on_order_created"),
    Subscription("dispatch", "order_completed", "intake", "on_order_completed"),
    Subscription("dispatch", "order_cancelled", "intake", "on_order_cancelled"),
    Subscription("intake", "reminder_received", "dispatch", "on_reminder_received"),
    Subscription("intake", "complaint_received", "complaints", "on_complaint_received"),
    Subscription("callbacks", "callback_done", "intake", "on_callback_done"),
    Subscription("complaints", "reservice_requested", "intake", "on_reservice_requested"),
    # complaints: unhappy callbacks open complaints; completions feed the complaint rate
    Subscription("callbacks", "callback_done", "complaints", "on_callback_done"),
    Subscription("dispatch", "order_completed", "complaints", "on_order_completed"),
]

# Parts for jobs: inventory consumes completions; dispatch pauses and resumes orders.
SUBSCRIPTIONS += [
    Subscription("dispatch", "order_completed", "inventory", "on_order_completed"),
    Subscription("dispatch", "order_cancelled", "inventory", "on_order_cancelled"),
    Subscription("inventory", "parts_short", "dispatch", "on_parts_short"),
    Subscription("inventory", "parts_arrived", "dispatch", "on_parts_arrived"),
    # callbacks (回访): tasks from completions, billed totals, second follow-ups; closing
    Subscription("dispatch", "order_completed", "callbacks", "on_order_completed"),
    Subscription("billing", "bill_settled", "callbacks", "on_bill_settled"),
    Subscription("complaints", "complaint_opened", "callbacks", "on_complaint_opened"),
    Subscription("callbacks", "callback_done", "dispatch", "on_callback_done"),
]

# Billing: order facts for quotes, the bill at completion, and what inventory, callbacks
# and complaints report about money.
SUBSCRIPTIONS += [
    Subscription("intake", "order_created", "billing", "on_order_created"),
    Subscription("dispatch", "order_completed", "billing", "on_order_completed"),
    Subscription("inventory", "parts_consumed", "billing", "on_parts_consumed"),
    Subscription("callbacks", "callback_done", "billing", "on_callback_done"),
    Subscription("complaints", "refund_requested", "billing", "on_refund_requested"),
]

# Complaints show on the orders they concern (the dispatcher's and supervisor's view).
SUBSCRIPTIONS += [
    Subscription("complaints", "complaint_opened", "dispatch", "on_complaint_opened"),
    Subscription("complaints", "complaint_escalated", "dispatch", "on_complaint_escalated"),
]
