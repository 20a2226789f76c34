"""The national parts catalogue and the stock locations: plain data, checked on load."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from services.common.domain.money import to_fen

LOCATION_KINDS = ("warehouse", "service_centre", "van")
SKU = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")


def yuan_to_fen(text: str) -> int:
    """A catalogue price: '12.50' -> 1250 (see money.to_fen); never a float, never < 0."""
    if isinstance(text, (float, bool)):
        raise ValueError("prices are written as strings of yuan, never floats")
    fen = to_fen(str(text))
    if fen < 0:
        raise ValueError(f"not a price: {text!r}")
    return fen


@dataclass(frozen=True)
class Part:
    sku: str
    name: str
    category: str
    compatible_categories: tuple[str, ...]
    unit: str
    list_price_fen: int
    cost_price_fen: int
    warranty_part: bool
    main_part: bool
    lead_time_days: int

    def fits(self, product_category: str | None) -> bool:
        return product_category is None or product_category in self.compatible_categories


@dataclass(frozen=True)
class Location:
    location_id: str
    branch: str
    kind: str
    name: str
    lat: float
    lon: float
    technician_id: str | None = None

    def distance_km(self, lat: float, lon: float) -> float:
        """Great-circle distance (haversine)."""
        p1, p2 = math.radians(self.lat), math.radians(lat)
        dp, dl = p2 - p1, math.radians(lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 6371.0 * 2 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Levels:
    reorder_point: int
    safety_stock: int


def parse_part(row: dict[str, Any]) -> Part:
    sku = str(row["sku"])
    if not SKU.match(sku):
        raise ValueError(f"bad sku {sku!r}")
    lead = int(row.get("lead_time_days", 7))
    if lead < 0:
        raise ValueError(f"{sku}: lead_time_days must not be negative")
    return Part(sku, str(row["name"]), str(row["category"]),
                tuple(row["compatible_categories"]), str(row["unit"]),
                yuan_to_fen(row["list_price"]), yuan_to_fen(row["cost_price"]),
                bool(row["warranty_part"]), bool(row["main_part"]), lead)


def parse_location(row: dict[str, Any]) -> Location:
    if row["kind"] not in LOCATION_KINDS:
        raise ValueError(f"location {row['id']}: kind must be one of {LOCATION_KINDS}")
    if row["kind"] == "van" and not row.get("technician_id"):
        raise ValueError(f"van {row['id']} needs its technician_id")
    return Location(str(row["id"]), str(row["branch"]), row["kind"], str(row["name"]),
                    float(row["lat"]), float(row["lon"]), row.get("technician_id"))


class Catalogue:
    """Parts, locations and stock levels, validated once per process."""

    def __init__(self, parts: list[dict], settings: dict[str, Any]) -> None:
        self.parts = {part.sku: part for part in map(parse_part, parts)}
        self.locations = {loc.location_id: loc
                          for loc in map(parse_location, settings["locations"])}
        self.vans = {loc.technician_id: loc for loc in self.locations.values()
                     if loc.kind == "van"}
        self.common_parts = frozenset(settings.get("common_parts", []))
        self.writeoff_overdue_days = int(settings.get("writeoff_overdue_days", 30))
        self.transfer_hours = float(settings.get("transfer_hours", 24))
        self._levels = settings.get("levels", {})
        self._part_levels = settings.get("part_levels", {})
        self._location_levels = settings.get("location_levels", {})
        unknown = (self.common_parts | set(self._part_levels)) - set(self.parts)
        if unknown:
            raise ValueError(f"inventory settings name unknown parts: {sorted(unknown)}")

    def levels(self, location: Location, sku: str) -> Levels:
        spec = dict(self._levels.get(location.kind, {}))
        spec.update(self._part_levels.get(sku, {}).get(location.kind, {}))
        spec.update(self._location_levels.get(location.location_id, {}).get(sku, {}))
        return Levels(int(spec.get("reorder_point", 0)), int(spec.get("safety_stock", 0)))

    def branch_locations(self, branch: str) -> list[Location]:
        return [loc for loc in self.locations.values() if loc.branch == branch]
