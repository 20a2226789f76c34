"""Who may take an order, and in what order they are asked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.common.domain.geo import haversine_km

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Technician:
    technician_id: str
    certificates: frozenset[str]
    zones: frozenset[str]
    lat: float
    lon: float
    shift: str
    cap: int
    active_jobs: int
    active: bool = True
    service_centre: str | None = None  # an authorised service centre's technician


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]
    start: time
    end: time  # an end before the start means the shift runs past midnight

    def covers(self, instant: datetime) -> bool:
        local = instant.astimezone(LOCAL_TZ)
        clock = local.time()
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return local.weekday() in self.days
        yesterday = (local - timedelta(days=1)).weekday()
        return yesterday in self.days and clock < self.end


def parse_shift(spec: dict) -> Shift:
    def parse(text: str) -> time:
        hours, minutes = (int(p) for p in text.split(":"))
        return time(23, 59, 59, 999999) if hours == 24 else time(hours, minutes)

    return Shift(frozenset(spec["days"]), parse(spec["start"]), parse(spec["end"]))


def required_certificates(rules: Iterable[dict], category: str, request_type: str) -> set[str]:
    """Every certificate whose rule names the category (and the request type, if any)."""
    return {
        rule["certificate"] for rule in rules
        if rule["category"] == category and rule.get("request_type") in (None, request_type)
    }


def is_eligible(tech: Technician, needed: set[str], zone: str, shifts: dict[str, Shift],
                now: datetime) -> bool:
    shift = shifts.get(tech.shift)
    return (is_qualified(tech, needed, zone) and tech.active_jobs < tech.cap
            and shift is not None and shift.covers(now))


def rank_candidates(techs: Iterable[Technician], needed: set[str], zone: str, lat: float,
                    lon: float, shifts: dict[str, Shift], now: datetime,
                    exclude: Iterable[str] = (), urgent: bool = False) -> list[Technician]:
    """Eligible technicians, nearest first, then the least loaded. For an urgent order
    (an emergency) those with nothing in hand come first: they can leave now."""
    skip = set(exclude)
    eligible = [t for t in techs
                if t.technician_id not in skip and is_eligible(t, needed, zone, shifts, now)]
    return sorted(eligible, key=lambda t: (urgent and t.active_jobs > 0,
                                           round(haversine_km(lat, lon, t.lat, t.lon), 1),
                                           t.active_jobs / t.cap, t.technician_id))


@dataclass(frozen=True)
class Unqualified:
    """Why nobody on the roster could ever take an order (load and shift aside): the
    certificates the best-placed technician lacks (缺证), and whether anyone covers the
    order's zone at all."""

    missing: tuple[str, ...]
    zone: str
    zone_covered: bool

    def as_facts(self) -> dict:
        return {"missing": list(self.missing), "zone": self.zone,
                "zone_covered": self.zone_covered}


def is_qualified(tech: Technician, needed: set[str], zone: str) -> bool:
    """Could ever take the order: active, holds every certificate, covers the zone."""
    return tech.active and needed <= tech.certificates and zone in tech.zones


def qualification_gap(techs: Iterable[Technician], needed: set[str],
                      zone: str) -> Unqualified | None:
    """None when someone on the roster is qualified; else what is missing. The missing
    certificates are the smallest gap among the active technicians covering the zone
    (among all active ones when nobody covers it): what one technician would need."""
    active = [t for t in techs if t.active]
    if any(is_qualified(t, needed, zone) for t in active):
        return None
    in_zone = [t for t in active if zone in t.zones]
    gaps = [needed - t.certificates for t in (in_zone or active)]
    smallest = min(gaps, key=lambda gap: (len(gap), sorted(gap)), default=needed)
    return Unqualified(tuple(sorted(smallest)), zone, bool(in_zone))
