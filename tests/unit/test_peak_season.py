"""The peak-season simulation's accounting, on a tiny day, and that the shipped policy is
the dispatcher itself (the figures are in bench/report, made by make bench-sim)."""

import functools
import math
from datetime import timedelta

from bench.peak_season import (
    FCFS,
    REFERENCE_PATH,
    SHIPPED,
    ZONES,
    ShippedSimulation,
    make_orders,
    make_roster,
    measure,
    share,
    simulate,
)
from services.common.reference import load_reference
from services.dispatch.domain.matching import parse_shift

REFERENCE = load_reference(str(REFERENCE_PATH))
TINY = {"copies": 1, "per_day": 40}


def test_the_shipped_policy_is_the_dispatcher_itself():
    shifts = {name: parse_shift(spec) for name, spec in REFERENCE.shifts.items()}
    simulation = ShippedSimulation(make_orders(REFERENCE, 2.0, 2026, per_day=40),
                                   make_roster(copies=1), shifts, REFERENCE)
    orders = simulation.run()
    stored = simulation.store.orders
    assert set(stored) == {order.order_id for order in orders}  # created by the dispatcher
    for order in orders:
        if order.arrived_at is not None:
            steps = [entry["step"] for entry in stored[order.order_id]["timeline"]]
            assert steps[:2] == ["created", "offered"] and steps[-3:] == [
                "contacted", "checked_in", "completed"]
            assert stored[order.order_id]["technician_id"] == order.technician
    assert not any(simulation.store.holding.values())  # every slot given back


def test_every_order_is_visited_or_counted_late():
    for policy in (SHIPPED, FCFS):
        orders = simulate(policy, 2.0, REFERENCE, **TINY)
        assert len(orders) == 80
        for order in orders:
            if order.arrived_at is None:
                assert not order.on_time
            else:
                assert order.arrived_at >= order.doc["received_at"]
                assert order.on_time == (order.arrived_at <= order.deadline)
                assert order.technician is not None


def test_shares_are_proportions_and_runs_repeat():
    first = measure(SHIPPED, 1.5, REFERENCE, **TINY)
    again = measure(SHIPPED, 1.5, REFERENCE, **TINY)
    assert first == again  # seeded: the same day, the same outcome
    assert first.orders == 60
    assert 0.0 <= first.on_time <= 1.0
    assert all(math.isnan(first.by_zone[zone]) or 0.0 <= first.by_zone[zone] <= 1.0
               for zone in ZONES)  # NaN: no order in that zone
    assert 0 <= first.unvisited <= first.orders


GUARD_SEED = 2026  # a full day at 2x: 700 orders, 60 technicians


@functools.cache
def _full_day_at_twice_the_load() -> tuple[list, list]:
    shifts = {name: parse_shift(spec) for name, spec in REFERENCE.shifts.items()}
    simulation = ShippedSimulation(make_orders(REFERENCE, 2.0, GUARD_SEED + 200),
                                   make_roster(), shifts, REFERENCE)
    orders = simulation.run()
    return orders, [simulation.store.orders[o.order_id] for o in orders]


def test_the_shipped_policy_beats_first_come_first_served_by_ten_points_at_twice_the_load():
    shipped, _ = _full_day_at_twice_the_load()
    baseline = simulate(FCFS, 2.0, REFERENCE, seed=GUARD_SEED)
    assert len(shipped) == len(baseline) == 700
    assert share(shipped) - share(baseline) >= 0.10


def test_orders_forecast_late_are_flagged_ahead_and_offered_to_who_would_make_it():
    orders, stored = _full_day_at_twice_the_load()
    late = [o for o in orders if o.technician and not o.on_time]
    ahead = [o for o in late if o.flagged_at and o.flagged_at <= o.deadline - timedelta(hours=1)]
    assert late and len(ahead) >= 0.8 * len(late)  # the forecast's recall, an hour ahead
    moved = [doc for doc in stored if any(e["step"] == "reoffered" for e in doc["timeline"])]
    assert moved and all(
        e["details"]["previous"] != e["details"]["technician_id"]
        for doc in moved for e in doc["timeline"] if e["step"] == "reoffered")
    assert any((doc.get("forecast") or {}).get("late") for doc in stored)
