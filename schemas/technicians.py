"""Contracts of technicians."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.fields import SAFE_ID, Pattern, Text
from schemas.orders import ZONES, StrictSchema

CERT = Pattern(r"^[a-z_]{2,30}$", error="Certificates are lower-case codes.")


class TechnicianIn(StrictSchema):
    technician_id = fields.String(required=True, validate=SAFE_ID)
    name = Text(required=True, one_line=True, validate=validate.Length(min=1, max=50))
    certificates = fields.List(fields.String(validate=CERT), required=True,
                               validate=validate.Length(max=20))
    zones = fields.List(fields.String(validate=validate.OneOf(ZONES)), required=True,
                        validate=validate.Length(min=1, max=3))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    shift = fields.String(required=True, validate=Pattern(r"^[a-z_]{2,20}$"))
    cap = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    active = fields.Boolean(load_default=True)
    # Authorised service centre the technician works for (网点); none: a branch employee,
    # whose work is not settled to a centre.
    service_centre_id = fields.String(load_default=None, validate=SAFE_ID)


class TechnicianPatch(StrictSchema):
    name = Text(one_line=True, validate=validate.Length(min=1, max=50))
    certificates = fields.List(fields.String(validate=CERT), validate=validate.Length(max=20))
    zones = fields.List(fields.String(validate=validate.OneOf(ZONES)),
                        validate=validate.Length(min=1, max=3))
    lat = fields.Float(validate=validate.Range(min=-90, max=90))
    lon = fields.Float(validate=validate.Range(min=-180, max=180))
    shift = fields.String(validate=Pattern(r"^[a-z_]{2,20}$"))
    cap = fields.Integer(validate=validate.Range(min=1, max=20))
    active = fields.Boolean()
    service_centre_id = fields.String(allow_none=True, validate=SAFE_ID)


class TechnicianOut(Schema):
    technician_id = fields.String()
    branch = fields.String()
    name = fields.String()
    certificates = fields.List(fields.String())
    zones = fields.List(fields.String())
    lat = fields.Float()
    lon = fields.Float()
    shift = fields.String()
    cap = fields.Integer()
    active = fields.Boolean()
    active_jobs = fields.Integer()
    service_centre_id = fields.String(allow_none=True)
