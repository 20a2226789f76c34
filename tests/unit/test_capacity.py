"""When a technician's slot counter is corrected, and the ``held_by`` mark it is checked
against."""

from datetime import UTC, datetime

from services.dispatch.domain.capacity import SlotCheck, judge
from services.dispatch.store import holder, watch_changes, watch_fields

AT = datetime(2026, 11, 20, tzinfo=UTC)


def test_a_counter_that_matches_the_held_orders_is_left_alone():
    assert judge(SlotCheck(active_jobs=3, slots_version=7, held=3), None).action == "ok"


def test_a_first_mismatch_is_only_noted():
    verdict = judge(SlotCheck(active_jobs=3, slots_version=7, held=1), None)
    assert (verdict.action, verdict.held) == ("note", 1)


def test_the_same_mismatch_with_no_slot_moved_since_is_fixed():
    verdict = judge(SlotCheck(3, 7, 1), {"version": 7, "held": 1})
    assert (verdict.action, verdict.held) == ("fix", 1)


def test_a_slot_moved_or_a_different_count_means_looking_again():
    assert judge(SlotCheck(3, 8, 1), {"version": 7, "held": 1}).action == "note"
    assert judge(SlotCheck(3, 7, 2), {"version": 7, "held": 1}).action == "note"


def test_holder_is_the_offered_or_taking_technician_while_held():
    assert holder("offered", {"technician_id": "T1"}, None) == "T1"
    assert holder("on_site", None, "T2") == "T2"
    assert holder("new", None, None) is None
    assert holder("completed", None, "T2") is None


def _order(status: str, **extra) -> dict:
    return {"_id": "SH-1", "branch": "SH", "status": status, "received_at": AT,
            "deadlines": {"arrival": AT}, "offer": None, "technician_id": None, **extra}


def test_held_by_follows_the_order_through_its_lifecycle():
    offered = _order("offered", offer={"technician_id": "T1"})
    assert watch_fields(offered)["held_by"] == "T1"
    offered["held_by"] = "T1"
    sets, unsets = watch_changes(offered, {"status": "accepted", "technician_id": "T1",
                                           "offer": None})
    assert "held_by" not in sets and "held_by" not in unsets  # same technician
    sets, _ = watch_changes(offered, {"status": "accepted", "technician_id": "T9",
                                      "offer": None})
    assert sets["held_by"] == "T9"  # assigned to someone else
    _, unsets = watch_changes(offered, {"status": "new", "offer": None})
    assert "held_by" in unsets  # rejected or lapsed
    taken = _order("on_site", technician_id="T1", held_by="T1")
    _, unsets = watch_changes(taken, {"status": "completed"})
    assert "held_by" in unsets


def test_an_order_written_before_the_mark_existed_gets_it_on_its_next_write():
    legacy = _order("accepted", technician_id="T1")
    sets, _ = watch_changes(legacy, {"status": "contacted"})
    assert sets["held_by"] == "T1"
