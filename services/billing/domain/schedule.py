"""The national fee schedule and parts catalogue as values: versions by effective date,
prices in fen. Built from plain data (the YAML files); no I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.common.domain.money import to_fen
from services.common.domain.parts import parse_part

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Version:
    version: str
    effective_from: date
    visit_fen: int
    inspection_fen: int
    free_radius_km: Decimal
    per_km_fen: int
    labour: dict[str, dict[str, Any]]  # code -> {"name": str, tier: fen}

    def labour_fen(self, code: str, tier: str) -> int:
        return self.labour[code][tier]


@dataclass(frozen=True)
class Coverage:
    covered_causes: frozenset[str]
    customer_causes: frozenset[str]
    repeat_free_labour_days: int


class ScheduleError(ValueError):
    """The schedule or catalogue data is not usable."""


class FeeSchedule:
    def __init__(self, raw: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        try:
            self.versions = _versions(raw["versions"])
            cover = raw["coverage"]
            self.coverage = Coverage(frozenset(cover["covered_causes"]),
                                     frozenset(cover["customer_causes"]),
                                     int(cover["repeat_free_labour_days"]))
            tiers = raw["city_tiers"]
            self.default_tier: str = tiers["default"]
            self.tier_prefixes: dict[str, str] = {str(k): v for k, v in
                                                  (tiers.get("prefixes") or {}).items()}
            self.default_repair_code: str = raw["default_repair_code"]
            self.parts = {row["sku"]: parse_part(row) for row in parts}
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"fee schedule or parts catalogue invalid: {exc!r}") from exc
        for version in self.versions:
            if self.default_repair_code not in version.labour:
                raise ScheduleError(f"version {version.version} lacks the default repair code")

    def version_at(self, moment: datetime) -> Version:
        """The version in force at ``moment`` (its local date)."""
        day = moment.astimezone(LOCAL_TZ).date()
        usable = [v for v in self.versions if v.effective_from <= day]
        if not usable:
            raise ScheduleError(f"no fee schedule version in force on {day}")
        return usable[-1]

    def version(self, name: str) -> Version | None:
        return next((v for v in self.versions if v.version == name), None)

    def city_tier(self, region_code: str) -> str:
        matches = [p for p in self.tier_prefixes if region_code.startswith(p)]
        return self.tier_prefixes[max(matches, key=len)] if matches else self.default_tier


def _versions(rows: list[dict[str, Any]]) -> list[Version]:
    """Each row holds only its changes; merged onto the version before it."""
    merged: dict[str, Any] = {}
    versions = []
    for row in sorted(rows, key=lambda r: _as_date(r["effective_from"])):
        merged = {**merged, **row, "labour": {**merged.get("labour", {}),
                                              **(row.get("labour") or {})},
                  "remote": {**merged.get("remote", {}), **(row.get("remote") or {})}}
        labour = {code: {"name": spec["name"], **{tier: to_fen(price) for tier, price in
                                                  spec.items() if tier != "name"}}
                  for code, spec in merged["labour"].items()}
        versions.append(Version(
            str(merged["version"]), _as_date(merged["effective_from"]),
            to_fen(merged["visit_fee"]), to_fen(merged["inspection_fee"]),
            Decimal(str(merged["remote"]["free_radius_km"])),
            to_fen(merged["remote"]["per_km"]), labour))
    if not versions:
        raise ScheduleError("the fee schedule has no version")
    return versions


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
