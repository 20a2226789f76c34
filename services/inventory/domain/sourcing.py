"""Where a job's part comes from: the technician's van, else the nearest location with
stock (a transfer), else a backorder with the expected arrival; and when a job's
parts are all in hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.domain.parts import Part
from services.inventory.domain.catalogue import Location

# States of a job's part line.
SOURCING, RESERVED, IN_TRANSFER, BACKORDERED = "sourcing", "reserved", "in_transfer", "backordered"
CONSUMED, RELEASED = "consumed", "released"
WAITING = (IN_TRANSFER, BACKORDERED)
# Orders a technician may still ask parts for (diagnosis happens on site; a visit may
# need a second request while parts are awaited).
REQUESTABLE_STATES = ("accepted", "contacted", "scheduled", "on_site", "waiting_parts")


@dataclass(frozen=True)
class Candidate:
    location: Location
    available: int


def nearest_sources(candidates: Iterable[Candidate], quantity: int, lat: float, lon: float,
                    exclude: str | None) -> list[Location]:
    """Stores (warehouses, service centres) holding at least ``quantity`` free, nearest
    to (lat, lon) first. Other technicians' vans are not sources: their stock is for
    their own jobs."""
    usable = [c.location for c in candidates
              if c.available >= quantity and c.location.location_id != exclude
              and c.location.kind != "van"]
    return sorted(usable, key=lambda loc: (loc.distance_km(lat, lon), loc.location_id))


def transfer_eta(now: datetime, hours: float) -> datetime:
    return now + timedelta(hours=hours)


def backorder_eta(now: datetime, part: Part, inbound: Iterable[datetime]) -> datetime:
    """The earliest open transfer or purchase still to arrive, else the lead time."""
    future = sorted(at for at in inbound if at >= now)
    return future[0] if future else now + timedelta(days=part.lead_time_days)


def shortage_eta(lines: Iterable[dict]) -> datetime | None:
    """When every awaited line should be in: the latest expected arrival."""
    etas = [line["eta"] for line in lines if line["state"] in WAITING and line.get("eta")]
    return max(etas) if etas else None


SUPPLIER = "supplier"


def awaited_from(lines: Iterable[dict]) -> str | None:
    """Who the shortage waits for: the source of its slowest line — the warehouse or
    service centre a transfer comes from, or the supplier for a backorder."""
    waiting = [line for line in lines if line["state"] in WAITING and line.get("eta")]
    if not waiting:
        return None
    slowest = max(waiting, key=lambda line: line["eta"])
    return SUPPLIER if slowest["state"] == BACKORDERED else slowest.get("location")


def all_in_hand(lines: Iterable[dict]) -> bool:
    return all(line["state"] not in (SOURCING, *WAITING) for line in lines)


def split_use(used: int, held: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], int]:
    """Take ``used`` units from the order's holds (location, quantity) in order; returns
    what each hold gives and the rest to find unreserved."""
    taken, rest = [], used
    for location_id, quantity in held:
        if rest <= 0:
            break
        take = min(rest, quantity)
        if take > 0:
            taken.append((location_id, take))
            rest -= take
    return taken, rest
