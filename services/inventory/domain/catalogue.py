"""The national parts catalogue and the stock locations: plain data, checked on load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.domain.geo import haversine_km
from services.common.domain.parts import parse_part

LOCATION_KINDS = ("warehouse", "service_centre", "van")


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
        return haversine_km(self.lat, self.lon, lat, lon)


@dataclass(frozen=True)
class Levels:
    reorder_point: int
    safety_stock: int


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

    def van_of(self, technician_id: str | None, branch: str) -> Location | None:
        """The technician's van, only if it is the branch's: a technician id another
        branch also uses never draws on, or returns parts to, that branch's van."""
        van = self.vans.get(technician_id or "")
        return van if van is not None and van.branch == branch else None

    def branch_locations(self, branch: str) -> list[Location]:
        return [loc for loc in self.locations.values() if loc.branch == branch]
