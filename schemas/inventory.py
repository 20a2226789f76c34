"""Contracts of the inventory service: commands, queries and the parts events.

No command carries a price: prices come only from the catalogue (an unknown field such as
``price`` is refused like any other)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.fields import ORDER_ID, SAFE_ID, Pattern, Text
from schemas.orders import PartLineIn, StrictSchema

LOCATION_ID = Pattern(r"^[A-Z0-9][A-Z0-9-]{1,31}$", error="Not a location id.")
SKU = Pattern(r"^[A-Z0-9][A-Z0-9-]{1,31}$", error="Not a part number (SKU).")
QUANTITY = validate.Range(min=1, max=10000)
REQUEST_KINDS = ("requisition", "scrap")
REQUEST_STATES = ("pending", "approved", "rejected")
BACKORDER_STATES = ("open", "filled", "cancelled")
TRANSFER_STATES = ("requested", "sent", "received", "cancelled")


def _quantity(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=QUANTITY, **kwargs)


class PartsRequestIn(StrictSchema):
    parts = fields.List(fields.Nested(PartLineIn), required=True,
                        validate=validate.Length(min=1, max=20))
    request_id = fields.String(load_default=None, validate=SAFE_ID)
    note = Text(load_default=None, validate=validate.Length(max=500))


class ReceiptIn(StrictSchema):
    location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    accepted = fields.Integer(strict=True, required=True, validate=validate.Range(0, 10000))
    rejected = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10000))
    reject_reason = Text(load_default=None, validate=validate.Length(max=500))
    purchase_id = fields.String(load_default=None, validate=SAFE_ID)
    receipt_id = fields.String(load_default=None, validate=SAFE_ID)  # retries: same id
    delivery_note = Text(load_default=None, one_line=True, validate=validate.Length(max=100))

    @validates_schema
    def _inspection(self, data, **kwargs):
        if data["accepted"] + data["rejected"] < 1:
            raise ValidationError("Receive at least one unit.", "accepted")
        if data["rejected"] and not data.get("reject_reason"):
            raise ValidationError("Say why units were rejected.", "reject_reason")


class ReservationIn(StrictSchema):
    location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    quantity = _quantity(required=True)
    order_id = fields.String(required=True, validate=ORDER_ID)


class TransferIn(StrictSchema):
    from_location = fields.String(required=True, validate=LOCATION_ID)
    to_location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    quantity = _quantity(required=True)

    @validates_schema
    def _two_places(self, data, **kwargs):
        if data["from_location"] == data["to_location"]:
            raise ValidationError("A transfer goes between two locations.", "to_location")


class PurchaseIn(StrictSchema):
    location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    quantity = _quantity(required=True)
    expected_at = fields.AwareDateTime(required=True)


class StockRequestIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(REQUEST_KINDS))
    location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    quantity = _quantity(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=500))
    order_id = fields.String(load_default=None, validate=ORDER_ID)


class CountIn(StrictSchema):
    location = fields.String(required=True, validate=LOCATION_ID)
    sku = fields.String(required=True, validate=SKU)
    counted = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100000))
    note = Text(load_default=None, validate=validate.Length(max=500))


class DecisionIn(StrictSchema):
    note = Text(load_default=None, validate=validate.Length(max=500))


class OldPartReturnIn(StrictSchema):
    sku = fields.String(required=True, validate=SKU)
    quantity = _quantity(required=True)
    location = fields.String(load_default=None, validate=LOCATION_ID)


class _Page(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class StockQuery(_Page):
    location = fields.String(load_default=None, validate=LOCATION_ID)
    technician_id = fields.String(load_default=None, validate=SAFE_ID)  # their van's
    sku = fields.String(load_default=None, validate=SKU)
    below = fields.String(load_default=None, validate=validate.OneOf(("reorder", "safety")))


class MovementQuery(_Page):
    location = fields.String(load_default=None, validate=LOCATION_ID)
    sku = fields.String(load_default=None, validate=SKU)
    order_id = fields.String(load_default=None, validate=ORDER_ID)


class StatusQuery(_Page):
    status = fields.String(load_default=None, validate=SAFE_ID)
    overdue = fields.Boolean(load_default=None)
