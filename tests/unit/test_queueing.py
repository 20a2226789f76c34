"""Queue order (still-feasible first) and the slot a small-cap technician keeps."""

from datetime import UTC, datetime, timedelta

from services.dispatch.domain.matching import Technician
from services.dispatch.domain.queueing import (
    RESERVE_HORIZON,
    drain_order,
    may_take,
    offerable,
    queue_deadline,
)

NOW = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)


def order(order_id: str, due_in_hours: float | None) -> dict:
    deadlines = {} if due_in_hours is None else {
        "arrival": (NOW + timedelta(hours=due_in_hours)).replace(tzinfo=None)}
    return {"_id": order_id, "deadlines": deadlines, "received_at": NOW - timedelta(hours=1)}


def tech(cap: int, active_jobs: int, technician_id: str = "T1") -> Technician:
    return Technician(technician_id, frozenset({"gas"}), frozenset({"standard"}), 31.2, 121.4,
                      "always", cap, active_jobs)


def test_queue_deadline_is_the_arrival_deadline_in_utc_or_the_received_time():
    assert queue_deadline(order("a", 3)) == NOW + timedelta(hours=3)
    assert queue_deadline(order("a", 3)).tzinfo is UTC
    assert queue_deadline(order("b", None)) == NOW - timedelta(hours=1)


def test_still_feasible_orders_come_before_the_overdue_each_earliest_first():
    windows = [order("late-2", -2), order("late-1", -1), order("soon", 1), order("later", 5),
               order("late-2", -2), order("soon", 1)]  # the two windows overlap
    assert [o["_id"] for o in drain_order(windows, NOW)] == [
        "soon", "later", "late-2", "late-1"]


def test_an_order_due_exactly_now_still_counts_as_feasible():
    assert [o["_id"] for o in drain_order([order("late", -1), order("now", 0)], NOW)] == [
        "now", "late"]


def test_the_last_slot_of_a_small_cap_technician_waits_for_urgent_work():
    far = NOW + RESERVE_HORIZON + timedelta(minutes=1)
    near = NOW + RESERVE_HORIZON
    assert may_take(tech(3, 1), far, NOW)          # two slots free: anything
    assert not may_take(tech(3, 2), far, NOW)      # the last slot: not for a far deadline
    assert may_take(tech(3, 2), near, NOW)         # but for one due within the horizon
    assert may_take(tech(3, 2), NOW - timedelta(hours=1), NOW)  # and for an overdue one


def test_caps_of_one_and_large_pools_keep_no_reserve():
    far = NOW + timedelta(days=2)
    assert may_take(tech(1, 0), far, NOW)
    assert may_take(tech(20, 19), far, NOW)


def test_offerable_keeps_the_ranking_and_drops_who_may_not_take_it():
    ranked = [tech(2, 1, "near-busy"), tech(3, 0, "free"), tech(1, 0, "single")]
    far = NOW + timedelta(hours=24)
    assert [t.technician_id for t in offerable(ranked, far, NOW)] == ["free", "single"]
    assert [t.technician_id for t in offerable(ranked, NOW, NOW)] == [
        "near-busy", "free", "single"]
