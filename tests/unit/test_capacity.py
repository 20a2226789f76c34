"""Which of a technician's slots reconciliation corrects, and the ``held_by`` mark it
checks them against."""

from datetime import UTC, datetime, timedelta

from services.dispatch.domain.capacity import audit
from services.dispatch.store import holder, watch_changes, watch_fields

AT = datetime(2026, 11, 20, tzinfo=UTC)
GRACE = timedelta(seconds=60)


def test_slots_that_match_the_held_orders_are_left_alone():
    slots = [("SH-1", AT), ("SH-2", AT)]
    assert audit(slots, {"SH-1", "SH-2"}, AT + timedelta(hours=1), GRACE).clean


def test_a_slot_no_order_holds_is_given_back_once_older_than_the_grace():
    slots = [("SH-1", AT), ("SH-2", AT + timedelta(seconds=30))]
    found = audit(slots, {"SH-1"}, AT + timedelta(seconds=60), GRACE)
    assert found.stale == [] and found.missing == []  # SH-2's worker may be mid-write
    found = audit(slots, {"SH-1"}, AT + timedelta(seconds=90), GRACE)
    assert found.stale == ["SH-2"] and found.missing == []


def test_a_busy_technician_is_audited_slot_by_slot():
    """Slots taken and given back all the time do not hide the one that leaked."""
    now = AT + timedelta(minutes=5)
    slots = [("SH-OLD", AT)] + [(f"SH-{n}", now - timedelta(seconds=n)) for n in range(5)]
    found = audit(slots, {"SH-0", "SH-1", "SH-2"}, now, GRACE)
    assert found.stale == ["SH-OLD"]


def test_an_order_holding_the_technician_without_a_slot_is_missing_one():
    found = audit([("SH-1", AT)], {"SH-1", "SH-9"}, AT, GRACE)
    assert found.missing == ["SH-9"] and found.stale == []


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
