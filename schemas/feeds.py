"""The call-centre feed: what a CTI system puts on the ``intake.requests`` queue.

A message is a JSON object: the request exactly as ``POST /api/v1/requests`` takes it,
with ``call_id`` required (the CTI system's id of the call; the same call_id sent twice
makes one order). Optional AMQP properties: ``reply_to`` (a queue for the answer) and
``correlation_id`` (copied into the answer).

The answer (JSON) is ``{"ok": true, "call_id", "order_id", "created", "status",
"reminders"}`` or ``{"ok": false, "call_id", "error", "message", "fields"}``.
"""

from __future__ import annotations

from marshmallow import fields

from schemas.fields import SAFE_ID
from schemas.orders import ServiceRequestIn

FEED_QUEUE = "intake.requests"


class FeedRequestIn(ServiceRequestIn):
    call_id = fields.String(required=True, validate=SAFE_ID)
