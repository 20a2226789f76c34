"""The national fee schedule and parts catalogue as values: versions by effective date,
prices in fen. Built from plain data (the YAML files); no I/O here.

Each version carries every part's cost price and list price (the catalogue's, changed by
the versions that list a part) and the price a chargeable part costs the customer
(``customer_parts_at``: ``list`` up to 2026.1, ``cost`` from 2026.2 as seed 003 says:
保修期外零部件…只收成本费; 人为因素…均按成本价计)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.common.domain.money import to_fen
from services.common.domain.parts import Part, parse_part, yuan_to_fen

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


LIST, COST = "list", "cost"


@dataclass(frozen=True)
class PartPrice:
    list_fen: int            # 零售价: the value of covered parts claimed from the maker
    cost_fen: int            # 成本价: what the customer pays for a part, from 2026.2

    def at(self, basis: str) -> int:
        return self.cost_fen if basis == COST else self.list_fen


@dataclass(frozen=True)
class Version:
    version: str
    effective_from: date
    visit_fen: int
    inspection_fen: int
    free_radius_km: Decimal
    per_km_fen: int
    labour: dict[str, dict[str, Any]]  # code -> {"name": str, tier: fen}
    part_prices: dict[str, PartPrice]  # sku -> cost and list price in this version
    customer_parts_at: str = LIST      # the price of a part the customer pays: list | cost

    def labour_fen(self, code: str, tier: str) -> int:
        return self.labour[code][tier]


@dataclass(frozen=True)
class Coverage:
    """Who pays is one rule for every service (services.common.domain.coverage); the
    schedule keeps only its figures."""

    repeat_free_labour_days: int


class ScheduleError(ValueError):
    """The schedule or catalogue data is not usable."""


class FeeSchedule:
    def __init__(self, raw: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        try:
            self.parts = {row["sku"]: parse_part(row) for row in parts}
            self.versions = _versions(raw["versions"], self.parts)
            self.coverage = Coverage(int(raw["coverage"]["repeat_free_labour_days"]))
            tiers = raw["city_tiers"]
            self.default_tier: str = tiers["default"]
            self.tier_prefixes: dict[str, str] = {str(k): v for k, v in
                                                  (tiers.get("prefixes") or {}).items()}
            self.default_repair_code: str = raw["default_repair_code"]
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


def _versions(rows: list[dict[str, Any]], parts: dict[str, Part]) -> list[Version]:
    """Each row holds only its changes; merged onto the version before it. Part prices
    start from the catalogue's."""
    merged: dict[str, Any] = {"parts": {sku: {"list_price": p.list_price_fen,
                                              "cost_price": p.cost_price_fen}
                                        for sku, p in parts.items()}}
    versions = []
    for row in sorted(rows, key=lambda r: _as_date(r["effective_from"])):
        merged = {**merged, **row,
                  **{key: {**merged.get(key, {}), **(row.get(key) or {})}
                     for key in ("labour", "remote")},
                  "parts": _part_changes(merged["parts"], row.get("parts") or {}, parts)}
        labour = {code: {"name": spec["name"], **{tier: to_fen(price) for tier, price in
                                                  spec.items() if tier != "name"}}
                  for code, spec in merged["labour"].items()}
        versions.append(Version(
            str(merged["version"]), _as_date(merged["effective_from"]),
            to_fen(merged["visit_fee"]), to_fen(merged["inspection_fee"]),
            Decimal(str(merged["remote"]["free_radius_km"])),
            to_fen(merged["remote"]["per_km"]), labour,
            {sku: PartPrice(p["list_price"], p["cost_price"])
             for sku, p in merged["parts"].items()},
            _basis(merged.get("customer_parts_at", LIST))))
    if not versions:
        raise ScheduleError("the fee schedule has no version")
    return versions


def _part_changes(before: dict[str, dict[str, int]], changes: dict[str, Any],
                  parts: dict[str, Part]) -> dict[str, dict[str, int]]:
    """A version's new part prices (yuan text) over the ones before it, in fen."""
    after = dict(before)
    for sku, change in changes.items():
        if sku not in parts:
            raise ScheduleError(f"the schedule prices {sku}, which the catalogue lacks")
        after[sku] = {**before[sku], **{key: yuan_to_fen(change[key]) for key in
                                        ("list_price", "cost_price") if key in change}}
    return after


def _basis(value: Any) -> str:
    if value not in (LIST, COST):
        raise ScheduleError(f"customer_parts_at is list or cost, not {value!r}")
    return str(value)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
