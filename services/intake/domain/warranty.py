"""Warranty status from the category's policy and the start date (三包)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class WarrantyPolicy:
    whole_unit_months: int
    main_part_months: int
    main_parts: tuple[str, ...]
    needs_installation: bool


@dataclass(frozen=True)
class Warranty:
    status: str  # in_warranty | main_parts_only | out_of_warranty | unknown
    start_date: date | None
    whole_unit_until: date | None
    main_parts_until: date | None
    main_parts: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "whole_unit_until": self.whole_unit_until.isoformat() if self.whole_unit_until
            else None,
            "main_parts_until": self.main_parts_until.isoformat() if self.main_parts_until
            else None,
            "main_parts": list(self.main_parts),
        }


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def warranty_start(policy: WarrantyPolicy, purchase_date: date | None,
                   installation_date: date | None) -> date | None:
    if policy.needs_installation and installation_date is not None:
        return installation_date
    return purchase_date or installation_date


def assess(policy: WarrantyPolicy, purchase_date: date | None,
           installation_date: date | None, on: date) -> Warranty:
    start = warranty_start(policy, purchase_date, installation_date)
    if start is None:
        # No proof of date: decided by the technician at diagnosis.
        return Warranty("unknown", None, None, None, policy.main_parts)
    whole_until = add_months(start, policy.whole_unit_months)
    main_until = add_months(start, max(policy.main_part_months, policy.whole_unit_months))
    if on < whole_until:
        status = "in_warranty"
    elif on < main_until:
        status = "main_parts_only"
    else:
        status = "out_of_warranty"
    return Warranty(status, start, whole_until, main_until, policy.main_parts)
