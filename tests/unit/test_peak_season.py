"""The peak-season simulation's accounting, on a tiny day, and that it drives the policy
the dispatcher ships (the figures themselves are in bench/report, made by make bench-sim)."""

import math

from bench.peak_season import FCFS, REFERENCE_PATH, SHIPPED, ZONES, measure, simulate
from services.common.reference import load_reference
from services.dispatch import offering as dispatcher
from services.dispatch import store

REFERENCE = load_reference(str(REFERENCE_PATH))
TINY = {"copies": 1, "per_day": 40}


def test_the_shipped_policy_is_the_dispatchers():
    assert SHIPPED.rank is dispatcher.rank_candidates
    assert SHIPPED.choose is dispatcher.offerable
    assert SHIPPED.order_head is dispatcher.drain_order
    assert SHIPPED.feasible_window is dispatcher.feasible_from
    assert SHIPPED.queue_key is store.queue_deadline


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
