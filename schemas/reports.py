"""Contracts of the read-only figures: the compliance report's period."""

from __future__ import annotations

from datetime import timedelta

from marshmallow import ValidationError, fields, validates_schema

from schemas.orders import StrictSchema

MAX_PERIOD = timedelta(days=366)


class ReportPeriod(StrictSchema):
    since = fields.AwareDateTime(required=True)
    until = fields.AwareDateTime(required=True)

    @validates_schema
    def _ordered(self, data, **kwargs):
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            raise ValidationError("Must be after since.", "until")
        if since and until and until - since > MAX_PERIOD:
            raise ValidationError("A period is at most 366 days.", "until")
