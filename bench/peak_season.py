"""A peak-season day (旺季) replayed through the real dispatcher.

A discrete-event simulation on a simulated clock, with no broker and no database. Orders
get their deadlines from the published commitments (deploy/config/reference.yaml, office
calendar for installations). The shipped policy is the dispatcher itself
(``services.dispatch.dispatcher.Dispatcher`` on dispatch's store kept in memory,
bench/memory_dispatch.py): it creates and offers the orders, drains its queue, passes
lapsed offers on, and takes the technicians' steps (accept, contact, check-in, complete).
The baseline, first-come-first-served to the nearest free technician, and the dispatcher
as it was before this simulation (``EDF before``) are models of those rules.

    make bench-sim          # writes bench/report/peak_season.md and the PNG plots

Model (each assumption is a constant below): a generated roster (copies of the demo
technicians, bases spread around their demo bases), arrivals over one day following an
hourly profile, a peak-season mix of installation / repair / maintenance with some
emergencies, travel at a city speed over haversine distance times a road factor, job
durations by request type, shifts and caps from the reference data, acceptance a few
minutes after the offer. A technician visits the jobs they hold earliest deadline first,
starts no trip outside their shift, and the simulation runs until every order has been
visited (or a week has passed: anything unvisited then counts as late).
"""

from __future__ import annotations

import heapq
import itertools
import random
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.memory_dispatch import MemoryDispatchStore
from schemas.orders import CompleteIn
from services.common.domain.geo import haversine_km
from services.common.errors import Conflict, Forbidden
from services.common.reference import Reference, load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.base import Actor
from services.dispatch.dispatcher import Dispatcher
from services.dispatch.domain.matching import (
    Shift,
    Technician,
    is_eligible,
    parse_shift,
    rank_candidates,
    required_certificates,
)
from services.dispatch.domain.queueing import (
    DRAIN_WINDOW,
    drain_order,
    offerable,
    queue_deadline,
    window_from,
    work_list_key,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PATH = ROOT / "deploy/config/reference.yaml"
ROSTER_PATH = ROOT / "deploy/config/demo_technicians.yaml"
REPORT_DIR = ROOT / "bench/report"

DAY_START = datetime(2026, 7, 13, 16, 0, tzinfo=UTC)  # Tuesday 14 July, 00:00 in Shanghai
LOADS = (1.0, 1.5, 2.0, 2.5, 3.0)
NORMAL_ORDERS_PER_DAY = 350          # both branches, off-season volume (1x)
ROSTER_COPIES = 3                    # 3 x 10 demo technicians per branch
SPEED_KMH = 25.0                     # city traffic
ROAD_FACTOR = 1.3                    # road distance over haversine distance
MIN_TRIP = timedelta(minutes=10)
ACCEPT_MINUTES = (2, 10)             # the technician accepts an offer after 2-10 minutes
TICK = timedelta(minutes=5)          # periodic drain (shifts start and end)
FORECAST_EVERY = timedelta(minutes=15)  # the arrival forecast (the service: every minute)
HORIZON = timedelta(days=7)
# Share of the day's orders arriving in each local hour, 00:00 .. 23:00.
HOURLY_PROFILE = (1, 0.5, 0.5, 0.5, 0.5, 1, 2, 4, 7, 9, 9, 8, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1)
BRANCH_SHARE = {"SH": 0.55, "SZ": 0.45}
REGION_WEIGHTS = {"310101": 2, "310104": 2, "310115": 3, "310117": 2, "310151": 1,
                  "440304": 3, "440305": 3, "440307": 2.5, "440310": 1.5}
REQUEST_MIX = {"installation": 0.40, "repair": 0.45, "maintenance": 0.15}
CATEGORY_MIX = {"air_conditioner": 0.5, "gas_water_heater": 0.2, "electric_water_heater": 0.15,
                "range_hood": 0.1, "gas_stove": 0.05}
EMERGENCY_SHARE = 0.06               # of repairs: gas leaks, electric leakage, flooding
WORK_HOURS = {"installation": 2.0, "repair": 1.25, "maintenance": 1.0}
ZONES = ("intensive", "standard", "remote")


# -- policies ----------------------------------------------------------------------------

Ranker = Callable[..., list[Technician]]


@dataclass(frozen=True)
class Policy:
    name: str
    queue_key: Callable[[dict], datetime]          # the queue's sort key
    order_head: Callable[[Sequence[dict], datetime], list[dict]]  # offering order of the head
    rank: Ranker                                   # candidates, best first
    choose: Callable[[list[Technician], datetime, datetime], list[Technician]]  # who may
    offer_on_arrival: bool                         # offered at creation if someone is free
    feasible_window: Callable[[datetime], datetime] | None  # a second window from here
    visit_key: Callable[[dict], Any] = lambda doc: (queue_deadline(doc), doc["_id"])


def nearest_free(techs, needed, zone, lat, lon, shifts, now, exclude=()) -> list[Technician]:
    """The baseline's choice: eligible technicians by distance alone."""
    skip = set(exclude)
    eligible = [t for t in techs
                if t.technician_id not in skip and is_eligible(t, needed, zone, shifts, now)]
    return sorted(eligible, key=lambda t: (haversine_km(lat, lon, t.lat, t.lon), t.technician_id))


def _received(order: dict) -> datetime:
    return order["received_at"]


def _as_is(items: Sequence, *_: Any) -> list:
    return list(items)


# The dispatcher's rules; ``simulate`` runs the dispatcher itself for it (ShippedSimulation).
SHIPPED = Policy("shipped", queue_deadline, drain_order, rank_candidates, offerable,
                 offer_on_arrival=True, feasible_window=window_from, visit_key=work_list_key)
FCFS = Policy("baseline FCFS", _received, _as_is, nearest_free, _as_is,
              offer_on_arrival=False, feasible_window=None)
# The shipped policy before the simulation: plain EDF over the queue's head, every slot open.
EDF_BEFORE = Policy("EDF before", queue_deadline, _as_is, rank_candidates, _as_is,
                    offer_on_arrival=True, feasible_window=None)
POLICIES = (SHIPPED, FCFS, EDF_BEFORE)
CHECK_SEEDS = (2026, 7, 11, 23, 42)  # the 2x requirement, on other days too


# -- the day's orders and the roster -----------------------------------------------------

@dataclass
class SimOrder:
    doc: dict[str, Any]                  # what the queue functions read
    branch: str
    zone: str
    request_type: str
    priority: str
    needed: frozenset[str]
    lat: float
    lon: float
    work: timedelta
    accept_after: timedelta
    deadline: datetime
    category: str = ""
    region_code: str = ""
    deadlines: dict[str, datetime] = field(default_factory=dict)
    arrived_at: datetime | None = None
    technician: str | None = None
    flagged_at: datetime | None = None  # first forecast late (the shipped policy)
    reoffered: int = 0

    @property
    def order_id(self) -> str:
        return self.doc["_id"]

    @property
    def on_time(self) -> bool:
        return self.arrived_at is not None and self.arrived_at <= self.deadline


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def arrival_times(rng: random.Random, count: int) -> list[datetime]:
    hours = rng.choices(range(24), weights=HOURLY_PROFILE, k=count)
    return sorted(DAY_START + timedelta(hours=h + rng.random()) for h in hours)


def make_orders(reference: Reference, load: float, seed: int,
                per_day: int = NORMAL_ORDERS_PER_DAY) -> list[SimOrder]:
    rng = random.Random(seed)
    count = round(per_day * load)
    orders = []
    for n, received in enumerate(arrival_times(rng, count)):
        branch = _pick(rng, BRANCH_SHARE)
        region = reference.regions[_pick(rng, {code: w for code, w in REGION_WEIGHTS.items()
                                               if reference.regions[code].branch == branch})]
        category = _pick(rng, CATEGORY_MIX)
        request_type = _pick(rng, REQUEST_MIX)
        if request_type == "installation" and not reference.categories[category][
                "needs_installation"]:
            request_type = "repair"
        emergency = request_type == "repair" and rng.random() < EMERGENCY_SHARE
        priority = "emergency" if emergency else "normal"
        deadlines = reference.commitments.deadlines(branch, region.zone, request_type,
                                                    priority, received)
        orders.append(SimOrder(
            doc={"_id": f"{branch}-{n:05d}", "received_at": received, "priority": priority,
                 "deadlines": {"arrival": deadlines["arrival"]}},
            branch=branch, zone=region.zone, request_type=request_type, priority=priority,
            needed=frozenset(required_certificates(reference.certificate_rules, category,
                                                   request_type)),
            lat=region.lat + rng.uniform(-0.03, 0.03), lon=region.lon + rng.uniform(-0.03, 0.03),
            work=timedelta(hours=WORK_HOURS[request_type] * rng.uniform(0.7, 1.3)),
            accept_after=timedelta(minutes=rng.uniform(*ACCEPT_MINUTES)),
            deadline=deadlines["arrival"], category=category, region_code=region.code,
            deadlines=deadlines))
    return orders


def make_roster(copies: int = ROSTER_COPIES, seed: int = 7) -> list[Technician]:
    """``copies`` technicians per demo technician, bases within about 2 km of theirs."""
    rng = random.Random(seed)
    rows = yaml.safe_load(ROSTER_PATH.read_text())["technicians"]
    return [Technician(f"{row['id']}-{n}", frozenset(row["certificates"]),
                       frozenset(row["zones"]), row["lat"] + rng.uniform(-0.02, 0.02),
                       row["lon"] + rng.uniform(-0.02, 0.02), row["shift"], row["cap"], 0)
            for n in range(copies) for row in rows]


# -- the simulation ----------------------------------------------------------------------

@dataclass
class Crew:
    """One technician's moving parts: the roster entry (whose ``active_jobs`` the ranking
    reads), where they are, and the jobs accepted and not yet visited."""

    tech: Technician
    branch: str
    lat: float
    lon: float
    busy: bool = False
    accepted: list[SimOrder] = field(default_factory=list)


def trip(lat1: float, lon1: float, lat2: float, lon2: float) -> timedelta:
    hours = haversine_km(lat1, lon1, lat2, lon2) * ROAD_FACTOR / SPEED_KMH
    return max(timedelta(hours=hours), MIN_TRIP)


class Simulation:
    def __init__(self, policy: Policy, orders: list[SimOrder], roster: list[Technician],
                 shifts: dict[str, Shift]) -> None:
        self.policy = policy
        self.orders = orders
        self.shifts = shifts
        self.crews = {t.technician_id: Crew(t, t.technician_id.split("-")[0], t.lat, t.lon)
                      for t in roster}
        self.queues: dict[str, list[tuple[datetime, int, SimOrder]]] = {}
        self.events: list[tuple[datetime, int, str, Any]] = []
        self.seq = itertools.count()
        self.now = DAY_START
        self.unvisited = len(orders)

    # events
    def at(self, when: datetime, kind: str, payload: Any = None) -> None:
        heapq.heappush(self.events, (when, next(self.seq), kind, payload))

    def run(self) -> list[SimOrder]:
        for order in self.orders:
            self.at(order.doc["received_at"], "arrive", order)
        self.at(DAY_START, "tick")
        end = DAY_START + HORIZON
        while self.events and self.unvisited:
            self.now, _, kind, payload = heapq.heappop(self.events)
            if self.now > end:
                break
            getattr(self, "_on_" + kind)(payload)
        return self.orders

    # dispatch, as the dispatcher does it
    def _technicians(self, branch: str) -> list[Technician]:
        return [c.tech for c in self.crews.values() if c.branch == branch]

    def _offer(self, order: SimOrder) -> bool:
        ranked = self.policy.choose(
            self.policy.rank(self._technicians(order.branch), set(order.needed), order.zone,
                             order.lat, order.lon, self.shifts, self.now),
            queue_deadline(order.doc), self.now)
        if not ranked:
            return False
        crew = self.crews[ranked[0].technician_id]
        crew.tech = replace(crew.tech, active_jobs=crew.tech.active_jobs + 1)
        order.technician = crew.tech.technician_id
        self.at(self.now + order.accept_after, "accept", order)
        return True

    def _someone_free(self, branch: str) -> bool:
        return any(t.active and t.active_jobs < t.cap and self.shifts[t.shift].covers(self.now)
                   for t in self._technicians(branch))

    def _enqueue(self, order: SimOrder) -> None:
        key = self.policy.queue_key(order.doc)
        insort(self.queues.setdefault(order.branch, []), (key, next(self.seq), order))

    def _drain(self, branch: str) -> None:
        queue = self.queues.get(branch) or []
        if not queue or not self._someone_free(branch):
            return
        window = queue[:DRAIN_WINDOW]
        if self.policy.feasible_window is not None:  # as store.queued(due_from=...)
            start = bisect_left(queue, (self.policy.feasible_window(self.now),))
            window = queue[start:start + DRAIN_WINDOW] + window
        by_id = {o.order_id: o for _, _, o in window}
        offered = {doc["_id"] for doc in self.policy.order_head([o.doc for _, _, o in window],
                                                                self.now)
                   if self._offer(by_id[doc["_id"]])}
        if offered:
            queue[:] = [entry for entry in queue if entry[2].order_id not in offered]

    # handlers
    def _on_arrive(self, order: SimOrder) -> None:
        if not (self.policy.offer_on_arrival and self._offer(order)):
            self._enqueue(order)
            self._drain(order.branch)

    def _on_accept(self, order: SimOrder) -> None:
        crew = self.crews[order.technician]
        crew.accepted.append(order)
        self._start_next(crew)

    def _on_tick(self, _: Any) -> None:
        for crew in self.crews.values():
            self._start_next(crew)
        for branch in self.queues:
            self._drain(branch)
        self.at(self.now + TICK, "tick")

    def _on_reach(self, payload: tuple[Crew, SimOrder]) -> None:
        crew, order = payload
        order.arrived_at = self.now
        self.unvisited -= 1
        crew.lat, crew.lon = order.lat, order.lon
        self.at(self.now + order.work, "done", crew)

    def _on_done(self, crew: Crew) -> None:
        crew.busy = False
        crew.tech = replace(crew.tech, active_jobs=crew.tech.active_jobs - 1)
        self._start_next(crew)
        self._drain(crew.branch)

    def _start_next(self, crew: Crew) -> None:
        shift = self.shifts[crew.tech.shift]
        if crew.busy or not crew.accepted or not shift.covers(self.now):
            return
        order = min(crew.accepted, key=lambda o: self.policy.visit_key(o.doc))
        crew.accepted.remove(order)
        crew.busy = True
        self.at(self.now + trip(crew.lat, crew.lon, order.lat, order.lon), "reach",
                (crew, order))


class ShippedSimulation(Simulation):
    """The shipped policy is not modelled: the real dispatcher (``Dispatcher``: creating
    and offering, the queue drained as the service's timer drains it, lapsed offers
    passed on, the technicians' steps) runs on dispatch's store kept in memory. Only the
    technicians (when they accept, travel, work) and the customers are simulated."""

    def __init__(self, orders: list[SimOrder], roster: list[Technician],
                 shifts: dict[str, Shift], reference: Reference) -> None:
        super().__init__(SHIPPED, orders, roster, shifts)
        self.reference = reference
        self.store = MemoryDispatchStore(roster, {tech_id: crew.branch
                                                  for tech_id, crew in self.crews.items()})
        self.by_id = {order.order_id: order for order in orders}
        self.visiting: dict[str, SimOrder] = {}  # technician id -> the job they are at

    reoffer = True  # orders forecast late offered to a technician who would make it

    def _dispatcher(self) -> Dispatcher:
        return Dispatcher(self.store, self.reference,
                          UnitOfWork("dispatch", self.now, self.now), OFFER_TIMEOUT)

    def _step(self, order: SimOrder, action: str, payload: dict | None = None) -> bool:
        """A technician's step on their order; False when it no longer is theirs (the
        offer lapsed before they accepted)."""
        actor = Actor("technician", order.branch, order.technician)
        try:
            self._dispatcher().step(order.order_id, action, payload or {}, actor)
        except (Conflict, Forbidden):
            return False
        return True

    def _offers_made(self) -> None:
        """Each new offer: its technician accepts a few minutes later."""
        for order_id, technician_id in self.store.take_offers():
            order = self.by_id[order_id]
            self._hand_back(order)
            order.technician = technician_id
            self.at(self.now + order.accept_after, "accept", (order, technician_id))

    def _hand_back(self, order: SimOrder) -> None:
        """An order offered to someone else leaves its previous technician's list."""
        if order.technician is not None:
            crew = self.crews[order.technician]
            if order in crew.accepted:
                crew.accepted.remove(order)

    def _forecast(self) -> None:
        """The service's forecast timer: orders forecast late are flagged (the first time
        is kept, to measure the forecast) and, with ``reoffer``, offered again."""
        dispatcher = self._dispatcher()
        for branch in BRANCH_SHARE:
            late = [seen for seen in dispatcher.forecast_arrivals(branch) if seen.late]
            for seen in late:
                order = self.by_id[seen.order_id]
                order.flagged_at = order.flagged_at or self.now
            if self.reoffer:
                before = {seen.order_id: self.by_id[seen.order_id].technician for seen in late}
                dispatcher.reoffer_late(late)
                for order_id, previous in before.items():
                    if self.store.orders[order_id]["status"] == "offered" and \
                            self.store.orders[order_id]["offer"]["technician_id"] != previous:
                        self.by_id[order_id].reoffered += 1
                self._offers_made()

    def _drain(self, branch: str) -> None:
        self._dispatcher().drain_queue(branch)
        self._offers_made()

    def _on_arrive(self, order: SimOrder) -> None:
        self._dispatcher().create_from_event(creation_event(order))
        self._offers_made()

    def _on_accept(self, payload: tuple[SimOrder, str]) -> None:
        order, technician_id = payload
        if order.technician == technician_id and self._step(order, "accept"):
            self._step(order, "contact")
            super()._on_accept(order)

    def _on_tick(self, _: Any) -> None:
        """The service's timers: lapsed offers passed on, the queue drained."""
        self._dispatcher().expire_offers()
        if (self.now - DAY_START) % FORECAST_EVERY < TICK:
            self._forecast()
        for branch in BRANCH_SHARE:
            self._drain(branch)
        for crew in self.crews.values():
            self._start_next(crew)
        self.at(self.now + TICK, "tick")

    def _on_reach(self, payload: tuple[Crew, SimOrder]) -> None:
        crew, order = payload
        if order.technician != crew.tech.technician_id:  # offered to another on the way
            crew.lat, crew.lon, crew.busy = order.lat, order.lon, False
            self._start_next(crew)
            return
        self._step(order, "check-in", {"confirmed_by_customer": True})
        self.visiting[crew.tech.technician_id] = order
        super()._on_reach(payload)

    def _on_done(self, crew: Crew) -> None:
        self._step(self.visiting.pop(crew.tech.technician_id), "complete", COMPLETION)
        crew.busy = False
        self._start_next(crew)
        self._drain(crew.branch)


OFFER_TIMEOUT = timedelta(minutes=15)  # deploy/config/services.yaml: offer_timeout_seconds
COMPLETION = CompleteIn().load({"diagnosis": "模拟", "fault_code": "SIM",
                                "repair_done": "模拟", "warranty": "in_warranty"})


def creation_event(order: SimOrder) -> dict[str, Any]:
    """What intake's ``order_created`` carries, for the dispatcher to create the order."""
    return {"order_id": order.order_id, "branch": order.branch, "zone": order.zone,
            "region_code": order.region_code, "lat": order.lat, "lon": order.lon,
            "request_type": order.request_type, "priority": order.priority,
            "received_at": order.doc["received_at"],
            "deadlines": {m: at.isoformat() for m, at in order.deadlines.items()},
            "product": {"category": order.category}, "customer": {},
            "warranty": {"status": "in_warranty"}}


# -- measuring ---------------------------------------------------------------------------

@dataclass
class Result:
    policy: str
    load: float
    orders: int
    on_time: float
    by_zone: dict[str, float]
    emergency_on_time: float
    unvisited: int


def share(orders: list[SimOrder]) -> float:
    return sum(o.on_time for o in orders) / len(orders) if orders else float("nan")


def simulate(policy: Policy, load: float, reference: Reference, seed: int = 2026,
             copies: int = ROSTER_COPIES, per_day: int = NORMAL_ORDERS_PER_DAY,
             reoffer: bool = True) -> list[SimOrder]:
    """The day's orders after the run (the same orders for every policy at one load);
    ``reoffer`` False: the shipped policy with its forecast flagging only."""
    shifts = {name: parse_shift(spec) for name, spec in reference.shifts.items()}
    orders = make_orders(reference, load, seed + int(load * 100), per_day)
    if policy is SHIPPED:
        simulation = ShippedSimulation(orders, make_roster(copies), shifts, reference)
        simulation.reoffer = reoffer
        return simulation.run()
    return Simulation(policy, orders, make_roster(copies), shifts).run()


def measure(policy: Policy, load: float, reference: Reference, **options: Any) -> Result:
    orders = simulate(policy, load, reference, **options)
    return Result(policy.name, load, len(orders), share(orders),
                  {z: share([o for o in orders if o.zone == z]) for z in ZONES},
                  share([o for o in orders if o.priority == "emergency"]),
                  sum(o.arrived_at is None for o in orders))


def sweep(reference: Reference, loads: Sequence[float] = LOADS) -> dict[str, list[Result]]:
    return {p.name: [measure(p, load, reference) for load in loads] for p in POLICIES}


def margins_at(load: float, reference: Reference) -> list[tuple[int, float]]:
    """(seed, shipped minus baseline in points) at one load, for several days."""
    return [(seed, 100 * (measure(SHIPPED, load, reference, seed=seed).on_time
                          - measure(FCFS, load, reference, seed=seed).on_time))
            for seed in CHECK_SEEDS]


@dataclass
class ForecastQuality:
    load: float
    breaches: int        # orders a technician held that arrived late (or never)
    flagged_ahead: int   # of those, flagged forecast late an hour before the deadline
    flags: int           # orders ever flagged
    false_alarms: int    # of those, on time after all
    on_time_without: float  # the shipped policy flagging only
    on_time_with: float     # and offering orders forecast late again
    reoffered: int


def forecast_quality(load: float, reference: Reference, seed: int = 2026) -> ForecastQuality:
    """The forecast judged on a day run without re-offers (a re-offer would change the
    outcome it predicted), and the on-time share with and without them."""
    flagging = simulate(SHIPPED, load, reference, seed=seed, reoffer=False)
    late = [o for o in flagging if o.technician and not o.on_time]
    flagged = [o for o in flagging if o.flagged_at]
    acting = simulate(SHIPPED, load, reference, seed=seed)
    return ForecastQuality(
        load, len(late),
        sum(o.flagged_at is not None and o.flagged_at <= o.deadline - timedelta(hours=1)
            for o in late),
        len(flagged), sum(o.on_time for o in flagged), share(flagging), share(acting),
        sum(o.reoffered for o in acting))


def forecast_markdown(rows: list[ForecastQuality]) -> str:
    lines = ["", "## The arrival forecast", "",
             "| load | breaches | flagged ≥ 1 h ahead | recall | flags | false alarms | "
             "on time, flags only | on time, with re-offers | re-offers |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.load:g}x | {r.breaches} | {r.flagged_ahead} | "
            f"{100 * r.flagged_ahead / max(r.breaches, 1):.0f} % | {r.flags} | "
            f"{r.false_alarms} ({100 * r.false_alarms / max(r.flags, 1):.0f} %) | "
            f"{100 * r.on_time_without:.1f} | {100 * r.on_time_with:.1f} | {r.reoffered} |")
    return "\n".join(lines) + "\n"


# -- the report --------------------------------------------------------------------------

def plot(results: dict[str, list[Result]], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("all zones", lambda r: r.on_time)] + [
        (zone, lambda r, z=zone: r.by_zone[z]) for zone in ZONES]
    fig, grid = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True, sharey=True)
    for ax, (title, value) in zip(grid.flat, panels, strict=True):
        for (name, rows), style in zip(results.items(), ("o-", "s--", "^:"), strict=False):
            ax.plot([r.load for r in rows], [100 * value(r) for r in rows], style, label=name,
                    color="grey" if name == EDF_BEFORE.name else None)
        ax.axvline(2.0, color="black", linewidth=0.6, alpha=0.4)
        ax.set_title(f"On-time arrival: {title}")
        ax.set_ylim(0, 102)
        ax.grid(alpha=0.3)
    for ax in grid[1]:
        ax.set_xlabel("load (x normal volume)")
    for ax in grid[:, 0]:
        ax.set_ylabel("on site by the deadline (%)")
    grid[0, 0].legend(loc="lower left")
    fig.suptitle("Peak-season day: on-time arrival share against load")
    fig.tight_layout()
    path = out / "peak_season_on_time.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def markdown(results: dict[str, list[Result]], margins: list[tuple[int, float]]) -> str:
    lines = ["# Peak-season day: on-time arrival share", "",
             f"{NORMAL_ORDERS_PER_DAY} orders/day at 1x (both branches), "
             f"{ROSTER_COPIES * 20} technicians, seeded (reproducible). Shares in %. "
             "`shipped`: what the dispatcher does now; `EDF before`: the dispatcher before "
             "the simulation (plain earliest-deadline-first, every slot open); "
             "`baseline FCFS`: first come first served, nearest free technician. "
             "`unvisited`: orders no technician of the roster is qualified for (counted "
             "late).", "",
             "| policy | load | orders | all | intensive | standard | remote | emergency |"
             " unvisited |", "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        for r in rows:
            zones = " | ".join(f"{100 * r.by_zone[z]:.1f}" for z in ZONES)
            lines.append(f"| {name} | {r.load:g}x | {r.orders} | {100 * r.on_time:.1f} | "
                         f"{zones} | {100 * r.emergency_on_time:.1f} | {r.unvisited} |")
    shipped, fcfs = results[SHIPPED.name], results[FCFS.name]
    lines += ["", "| load | shipped − baseline (points, all zones) |", "|---|---|"]
    lines += [f"| {s.load:g}x | {100 * (s.on_time - f.on_time):+.1f} |"
              for s, f in zip(shipped, fcfs, strict=True)]
    lines += ["", "At 2x on other days (seeds): " + ", ".join(
        f"seed {seed}: {margin:+.1f}" for seed, margin in margins) + " points."]
    return "\n".join(lines) + "\n"


def main() -> None:
    reference = load_reference(str(REFERENCE_PATH))
    results = sweep(reference)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    text = markdown(results, margins_at(2.0, reference)) + forecast_markdown(
        [forecast_quality(load, reference) for load in (1.0, 2.0)])
    (REPORT_DIR / "peak_season.md").write_text(text)
    plot(results, REPORT_DIR)
    print(text)


if __name__ == "__main__":
    main()
