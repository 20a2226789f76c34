"""Queue order (emergencies, then still-feasible first, high priority placed earlier), the
technician's list, and the slot a small-cap technician keeps."""

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.matching import Technician, parse_shift, rank_candidates
from services.dispatch.domain.queueing import (
    HIGH_LEAD,
    RESERVE_HORIZON,
    drain_order,
    may_take,
    offerable,
    queue_deadline,
    queue_place,
    unaccepted_emergency,
    window_from,
    work_list_key,
)
from services.dispatch.store import queue_key, watch_changes

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


def _with(base: dict, priority: str) -> dict:
    return {**base, "priority": priority}


def test_an_emergency_goes_first_even_when_overdue_or_due_last():
    windows = [order("soon", 1), _with(order("gas-leak", 6), "emergency"),
               _with(order("late-emergency", -1), "emergency"), order("late", -2)]
    # among emergencies, as among the rest: the one that can still be on time first
    assert [o["_id"] for o in drain_order(windows, NOW)] == [
        "gas-leak", "late-emergency", "soon", "late"]


def test_a_high_priority_order_is_placed_as_if_due_the_lead_earlier():
    key_customer = _with(order("key-customer", 2.5), "high")
    assert queue_place(key_customer) == NOW + timedelta(hours=2.5) - HIGH_LEAD
    windows = [order("normal-2h", 2), key_customer, order("normal-1h", 0.25)]
    assert [o["_id"] for o in drain_order(windows, NOW)] == [
        "normal-1h", "key-customer", "normal-2h"]
    # ahead of orders due about as soon, not of every ordinary order whatever its deadline
    assert queue_place(_with(order("key-customer", 30), "high")) > queue_place(order("n", 3))


def test_the_store_key_sorts_like_the_drain_emergencies_first_then_by_place():
    orders = [{**_with(order(i, h), p), "branch": "SH"} for i, h, p in (
        ("n-1h", 1, "normal"), ("e-5h", 5, "emergency"), ("h-2h", 2.5, "high"),
        ("n-late", -3, "normal"))]
    by_key = sorted(orders, key=queue_key)
    assert [o["_id"] for o in by_key] == ["e-5h", "n-late", "h-2h", "n-1h"]
    # the drain's second window starts early enough to read the high order still on time
    assert queue_key({**orders[2]}) >= queue_key(
        {"branch": "SH", "deadlines": {}, "received_at": window_from(NOW)})


def test_raising_a_queued_orders_priority_moves_it_in_the_queue():
    queued = {**order("q", 3), "branch": "SH", "status": "new", "priority": "normal"}
    queued["queue_key"] = queue_key(queued)
    sets, _ = watch_changes(queued, {"priority": "high"})
    assert sets["queue_key"] == queue_key({**queued, "priority": "high"}) < queued["queue_key"]
    assert "queue_key" not in watch_changes(queued, {"reminders": 1})[0]


def test_a_technicians_list_puts_the_emergency_first_then_the_queue_order():
    jobs = [order("normal-1h", 1), _with(order("emergency-2h", 2), "emergency"),
            _with(order("high-2.5h", 2.5), "high")]
    assert [o["_id"] for o in sorted(jobs, key=work_list_key)] == [
        "emergency-2h", "high-2.5h", "normal-1h"]


def test_an_emergency_is_offered_first_to_a_technician_with_nothing_in_hand():
    near_busy = Technician("near", frozenset({"gas"}), frozenset({"standard"}), 31.2, 121.4,
                           "always", 4, 1)
    far_idle = Technician("far", frozenset({"gas"}), frozenset({"standard"}), 31.25, 121.45,
                          "always", 4, 0)
    shifts = {"always": parse_shift({"days": list(range(7)), "start": "00:00",
                                     "end": "24:00"})}
    args = ([near_busy, far_idle], {"gas"}, "standard", 31.2, 121.4, shifts, NOW)
    assert [t.technician_id for t in rank_candidates(*args)] == ["near", "far"]
    assert [t.technician_id for t in rank_candidates(*args, urgent=True)] == ["far", "near"]


@pytest.mark.parametrize(("priority", "status", "minutes", "paged"), [
    ("emergency", "new", 31, True),
    ("emergency", "offered", 30, True),
    ("emergency", "escalated", 45, True),
    ("emergency", "offered", 29, False),  # still within the first-contact target
    ("emergency", "accepted", 45, False),
    ("emergency", "contacted", 45, False),
    ("high", "offered", 45, False),
    ("normal", "new", 45, False),
])
def test_an_emergency_nobody_accepted_by_first_contact_pages(priority, status, minutes, paged):
    received = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    order = {"priority": priority, "status": status, "received_at": received,
             "deadlines": {"first_contact": received + timedelta(minutes=30)}}
    assert unaccepted_emergency(order, received + timedelta(minutes=minutes)) is paged
