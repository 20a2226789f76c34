"""The peak-season simulation's accounting, on a tiny day, and that the shipped policy is
the dispatcher itself (the figures are in bench/report, made by make bench-sim)."""

import math

from bench.peak_season import (
    FCFS,
    REFERENCE_PATH,
    SHIPPED,
    ZONES,
    ShippedSimulation,
    make_orders,
    make_roster,
    measure,
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
