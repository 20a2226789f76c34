"""National reference data and branch commitments, loaded once per process and validated."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.common.config import ConfigError, read_yaml
from services.common.domain.calendars import build_calendars
from services.common.domain.commitments import Commitments

ZONES = ("standard", "intensive", "remote")


class _Region(Schema):
    name = fields.String(required=True)
    zone = fields.String(required=True, validate=validate.OneOf(ZONES))
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class _Branch(Schema):
    name = fields.String(required=True)
    timezone = fields.String(load_default="Asia/Shanghai")
    regions = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d{6}$")),
                          values=fields.Nested(_Region), required=True)


class _Warranty(Schema):
    whole_unit_months = fields.Integer(required=True, validate=validate.Range(min=0, max=240))
    main_part_months = fields.Integer(required=True, validate=validate.Range(min=0, max=240))
    main_parts = fields.List(fields.String(), load_default=list)


class _Category(Schema):
    name = fields.String(required=True)
    needs_installation = fields.Boolean(required=True)
    warranty = fields.Nested(_Warranty, required=True)


class _CertRule(Schema):
    category = fields.String(required=True)
    request_type = fields.String(load_default=None)
    certificate = fields.String(required=True)


def _words(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1)), **kwargs)


class _Hazard(Schema):
    advice = fields.String(required=True)
    phrases = _words(required=True, validate=validate.Length(min=1))


class _Priority(Schema):
    """The safety triage's vocabulary (services/intake/domain/triage.py) and the rest of
    the priority rules."""
    hazards = fields.Dict(keys=fields.String(), values=fields.Nested(_Hazard), required=True)
    hazards_by_category = fields.Dict(keys=fields.String(), values=_words(), load_default=dict)
    negations = _words(required=True)
    negation_gap = _words(load_default=list)
    not_negations = _words(load_default=list)
    hedges = _words(load_default=list)
    safety_advice = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    high_channels = fields.List(fields.String(), required=True)
    repeat_window_days = fields.Integer(required=True, validate=validate.Range(min=1))

    @validates_schema
    def _names_known(self, data, **kwargs):
        unknown = {spec["advice"] for spec in data["hazards"].values()} - set(
            data["safety_advice"])
        if unknown:
            raise ValidationError(f"no safety advice for {sorted(unknown)}", "safety_advice")
        kinds = {kind for listed in data["hazards_by_category"].values() for kind in listed}
        if kinds - set(data["hazards"]):
            raise ValidationError(f"unknown hazards {sorted(kinds - set(data['hazards']))}",
                                  "hazards_by_category")


class _Shift(Schema):
    days = fields.List(fields.Integer(validate=validate.Range(min=0, max=6)), required=True)
    start = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))
    end = fields.String(required=True, validate=validate.Regexp(r"^\d\d:\d\d$"))


class _Pace(Schema):
    speed_kmh = fields.Float(required=True, validate=validate.Range(min=1))
    road_factor = fields.Float(required=True, validate=validate.Range(min=1))
    min_trip_minutes = fields.Integer(required=True, validate=validate.Range(min=0))
    job_hours = fields.Dict(keys=fields.String(), values=fields.Float(
        validate=validate.Range(min=0, min_inclusive=False)), required=True,
        validate=validate.Length(min=1))


# Whose time a pause is in the delay ledger (services/dispatch/domain/ledger.py).
PAUSE_CAUSES = ("customer", "parts", "service_centre", "technician")


class _PauseReason(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1))
    cause = fields.String(required=True, validate=validate.OneOf(PAUSE_CAUSES))


DEFAULT_PAUSE_REASONS = {"waiting_parts": {"name": "等待配件 waiting for parts",
                                           "cause": "parts"}}

# The forecast's pace where the reference data names none (the demo's city figures).
DEFAULT_PACE = {"speed_kmh": 25, "road_factor": 1.3, "min_trip_minutes": 10,
                "job_hours": {"installation": 2.0, "repair": 1.25, "maintenance": 1.0}}


class ReferenceSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    calendars = fields.Dict(required=True)
    commitments = fields.Dict(required=True)
    product_categories = fields.Dict(keys=fields.String(), values=fields.Nested(_Category),
                                     required=True)
    certificate_rules = fields.List(fields.Nested(_CertRule), required=True)
    priority = fields.Nested(_Priority, required=True)
    shifts = fields.Dict(keys=fields.String(), values=fields.Nested(_Shift), required=True)
    branches = fields.Dict(keys=fields.String(), values=fields.Nested(_Branch), required=True)
    forecast = fields.Nested(_Pace, load_default=DEFAULT_PACE)
    pause_reasons = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z_]{1,40}$")),
                                values=fields.Nested(_PauseReason),
                                load_default=DEFAULT_PAUSE_REASONS)


@dataclass(frozen=True)
class Region:
    code: str
    branch: str
    name: str
    zone: str
    lat: float
    lon: float


class Reference:
    def __init__(self, raw: dict[str, Any]) -> None:
        try:
            data = ReferenceSchema().load(raw)
        except ValidationError as exc:
            raise ConfigError(f"reference data invalid: {exc.messages}") from exc
        try:
            self.calendars = build_calendars(data["calendars"])
            self.commitments = Commitments(data["commitments"], self.calendars)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"reference data invalid: {exc}") from exc
        self.categories: dict[str, dict] = data["product_categories"]
        self.certificate_rules: list[dict] = data["certificate_rules"]
        self.priority: dict = data["priority"]
        self.shifts: dict[str, dict] = data["shifts"]
        self.pace: dict[str, Any] = data["forecast"]
        self.pause_reasons: dict[str, dict] = data["pause_reasons"]
        self.pause_causes = {reason: spec["cause"] for reason, spec in self.pause_reasons.items()}
        self.branches: dict[str, dict] = data["branches"]
        self.regions: dict[str, Region] = {
            code: Region(code, branch, spec["name"], spec["zone"], spec["lat"], spec["lon"])
            for branch, bspec in self.branches.items()
            for code, spec in bspec["regions"].items()
        }


@lru_cache(maxsize=8)
def load_reference(path: str) -> Reference:
    return Reference(read_yaml(path))
