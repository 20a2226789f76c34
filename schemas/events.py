"""Event contracts: the envelope and the data of the events several services read.

Who consumes which event is the route table, ``services/common/routes.py``.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

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
