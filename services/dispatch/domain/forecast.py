"""When will the technician get there? A forecast from the live queue, not a fixed share.

A technician works down their list (``queueing.work_list_key``: emergencies first, then
by place): the job they are on ends a typical duration after they checked in; each job
ahead of an order costs the trip from the last one (haversine distance times a road
factor at a city speed) and its typical duration, and never starts before its booked
slot; no trip starts outside the technician's shift. An order forecast to arrive after
its arrival deadline is late: marked at risk with the forecast and the reason, and
offered again where another technician would make it (offering.py).

The pace (speed, road factor, typical job duration by request type) is the branch's to
set (``forecast`` in deploy/config/reference.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.common.clock import as_utc
from services.common.domain.geo import haversine_km
from services.dispatch.domain.matching import LOCAL_TZ, Shift, Technician
from services.dispatch.domain.queueing import work_list_key

SHIFT_SEARCH = timedelta(days=3)  # no shift within this: the forecast stops at the search


@dataclass(frozen=True)
class Pace:
    speed_kmh: float
    road_factor: float
    min_trip: timedelta
    job: dict[str, timedelta]  # typical duration by request type

    def trip(self, lat1: float, lon1: float, lat2: float, lon2: float) -> timedelta:
        hours = haversine_km(lat1, lon1, lat2, lon2) * self.road_factor / self.speed_kmh
        return max(timedelta(hours=hours), self.min_trip)

    def work(self, request_type: str) -> timedelta:
        return self.job.get(request_type, max(self.job.values()))


def parse_pace(spec: dict[str, Any]) -> Pace:
    return Pace(float(spec["speed_kmh"]), float(spec["road_factor"]),
                timedelta(minutes=spec["min_trip_minutes"]),
                {kind: timedelta(hours=hours) for kind, hours in spec["job_hours"].items()})


@dataclass(frozen=True)
class Job:
    """An order as its holder's list sees it."""

    order_id: str
    lat: float
    lon: float
    request_type: str
    rank: tuple  # work_list_key
    deadline: datetime | None  # arrival
    on_site_since: datetime | None = None  # checked in and still working
    not_before: datetime | None = None  # the booked slot's start


def job_of(order: dict[str, Any]) -> Job:
    """An order as a job of its holder's list. One whose arrival is reached (on site, or
    a second visit after parts) has no arrival deadline left to be late for."""
    arrived = ((order.get("milestones") or {}).get("arrival") or {}).get("at")
    slot = order.get("appointment") or {}
    deadline = None if arrived else order["deadlines"].get("arrival")
    # On site since this visit's arrival (a later visit's, not the first one's).
    on_site_since = (((order.get("visits") or [{}])[-1].get("arrived_at") or arrived)
                     if order["status"] == "on_site" else None)
    return Job(order["_id"], order["lat"], order["lon"], order["request_type"],
               work_list_key(order), as_utc(deadline) if deadline else None,
               as_utc(on_site_since) if on_site_since else None,
               as_utc(slot["start"]) if slot.get("start") else None)


def is_job_ahead(order: dict[str, Any]) -> bool:
    """Whether a held order takes the technician's time now: not while it waits for
    parts or stands paused (the customer away: nobody goes)."""
    return order["status"] != "waiting_parts" and order.get("paused_at") is None


@dataclass(frozen=True)
class Forecast:
    order_id: str
    arrival: datetime
    deadline: datetime | None
    jobs_ahead: int  # jobs the technician does first
    shift_wait: timedelta  # time the next trip waits for the shift to start
    trip: timedelta  # the last trip, to this order
    queued: bool = False  # forecast as the queue will be served (no holder yet)

    @property
    def late(self) -> bool:
        return self.deadline is not None and self.arrival > self.deadline

    def reason(self) -> dict[str, Any]:
        """Why, for the dispatcher's screen: what stands before the arrival."""
        return {"jobs_ahead": self.jobs_ahead,
                "shift_wait_minutes": round(self.shift_wait.total_seconds() / 60),
                "trip_minutes": round(self.trip.total_seconds() / 60)}


def in_shift(shift: Shift | None, at: datetime) -> tuple[datetime, timedelta]:
    """The first moment from ``at`` the shift covers, and the wait until then: now, or
    the next day's start of the shift (within ``SHIFT_SEARCH``; else the search's end)."""
    if shift is None or shift.covers(at):
        return at, timedelta(0)
    local = at.astimezone(LOCAL_TZ)
    for days in range(SHIFT_SEARCH.days + 1):
        day = (local + timedelta(days=days)).date()
        start = datetime.combine(day, shift.start, LOCAL_TZ).astimezone(at.tzinfo)
        if start >= at and shift.covers(start):
            return start, start - at
    return at + SHIFT_SEARCH, SHIFT_SEARCH


@dataclass(frozen=True)
class Free:
    """Where and when a technician's list ends: from there they take queued work."""

    technician: Technician
    at: datetime
    lat: float
    lon: float


def forecast(base: tuple[float, float], jobs: Iterable[Job], now: datetime, pace: Pace,
             shift: Shift | None) -> dict[str, Forecast]:
    """Each job's expected arrival, the technician working down their list from ``now``
    (starting at ``base``, or at the job they are on)."""
    return walk(base, jobs, now, pace, shift)[0]


def walk(base: tuple[float, float], jobs: Iterable[Job], now: datetime, pace: Pace,
         shift: Shift | None) -> tuple[dict[str, Forecast], tuple[datetime, float, float]]:
    """``forecast``, and when and where the list ends."""
    ordered = sorted(jobs, key=lambda job: (job.on_site_since is None, job.rank))
    free_at, (lat, lon) = now, base
    result: dict[str, Forecast] = {}
    for ahead, job in enumerate(ordered):
        if job.on_site_since is not None:  # the job in hand ends first
            free_at = max(free_at, job.on_site_since + pace.work(job.request_type))
        else:
            seen = _arrive(job, free_at, (lat, lon), ahead, pace, shift)
            result[job.order_id] = seen
            free_at = seen.arrival + pace.work(job.request_type)
        lat, lon = job.lat, job.lon
    return result, (free_at, lat, lon)


def _arrive(job: Job, free_at: datetime, where: tuple[float, float], ahead: int, pace: Pace,
            shift: Shift | None) -> Forecast:
    depart, waited = in_shift(shift, free_at)
    trip = pace.trip(*where, job.lat, job.lon)
    arrival = max(depart + trip, job.not_before or depart + trip)
    return Forecast(job.order_id, arrival, job.deadline, ahead, waited, trip)


def queue_forecast(queued: Sequence[tuple[Job, frozenset[str], str]], free: list[Free],
                   now: datetime, pace: Pace, shifts: dict[str, Shift]
                   ) -> dict[str, Forecast]:
    """Queued orders (in the drain's order, with the certificates and zone each needs)
    forecast as the queue will be served: each goes to the qualified technician who would
    reach it first once their list is done, whose list then ends there. An order nobody
    qualified could take is forecast at the end of the search: late."""
    result: dict[str, Forecast] = {}
    for job, needed, zone in queued:
        best: tuple[Forecast, Free] | None = None
        for slot in free:
            tech = slot.technician
            if tech.active and needed <= tech.certificates and zone in tech.zones:
                seen = _arrive(job, slot.at, (slot.lat, slot.lon), 0, pace,
                               shifts.get(tech.shift))
                if best is None or seen.arrival < best[0].arrival:
                    best = (seen, slot)
        if best is None:  # nobody qualified: no arrival in sight
            result[job.order_id] = Forecast(job.order_id, max(now, job.deadline or now)
                                            + SHIFT_SEARCH, job.deadline, 0, SHIFT_SEARCH,
                                            timedelta(0), queued=True)
            continue
        seen, slot = best
        result[job.order_id] = replace(seen, queued=True)
        free[free.index(slot)] = Free(slot.technician, seen.arrival + pace.work(job.request_type),
                                      job.lat, job.lon)
    return result
