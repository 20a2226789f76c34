"""When a technician's slot counter is corrected, and the ``held_by`` mark it is checked
against."""

from datetime import UTC, datetime, timedelta

from services.dispatch.domain.capacity import SlotCheck, Verdict, judge, still_wrong
from services.dispatch.store import holder, watch_changes, watch_fields

AT = datetime(2026, 11, 20, tzinfo=UTC)


EVERY = timedelta(seconds=60)


def seen(holding: set[str], held: set[str]) -> SlotCheck:
    return SlotCheck(frozenset(holding), frozenset(held))


def test_slots_that_match_the_held_orders_are_left_alone():
    verdict = judge(seen({"A", "B"}, {"A", "B"}), None, AT, EVERY)
    assert verdict == Verdict() and not verdict.corrects


def test_a_first_mismatch_is_only_noted_with_when_it_was_seen():
    verdict = judge(seen({"A", "X"}, {"A", "Y"}), None, AT, EVERY)
    assert not verdict.corrects
    assert verdict.note == {"at": AT, "stale": ["X"], "missing": ["Y"]}


def test_the_same_slot_wrong_an_interval_later_is_corrected_while_others_move():
    noted = {"at": AT, "stale": ["X"], "missing": ["Y"]}
    # Meanwhile A was given back, B and C taken, Z is between its two writes: the busy
    # technician's slots moved all the time, yet X and Y are still wrong.
    verdict = judge(seen({"B", "C", "X", "Z"}, {"B", "C", "Y"}), noted, AT + EVERY, EVERY)
    assert verdict.give_back == {"X"} and verdict.add == {"Y"}
    assert verdict.note == {"at": AT + EVERY, "stale": ["Z"], "missing": []}


def test_a_slot_that_settled_meanwhile_is_not_touched():
    noted = {"at": AT, "stale": ["X"], "missing": []}
    verdict = judge(seen({"A"}, {"A"}), noted, AT + EVERY, EVERY)
    assert verdict == Verdict()  # the note goes too


def test_a_note_younger_than_an_interval_is_kept_not_trusted():
    # A pass that overran its interval overlaps the next: X, seen wrong twice a second
    # apart, may be a worker between its two writes; it is judged against the older note.
    noted = {"at": AT, "stale": ["X"], "missing": []}
    verdict = judge(seen({"X"}, set()), noted, AT + timedelta(seconds=1), EVERY)
    assert not verdict.corrects and verdict.note is noted
    naive = {**noted, "at": AT.replace(tzinfo=None)}  # as the store gives it back
    assert judge(seen({"X"}, set()), naive, AT + EVERY, EVERY).give_back == {"X"}


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


def test_a_correction_the_orders_no_longer_call_for_is_dropped():
    verdict = Verdict(give_back=frozenset({"X", "Y"}), add=frozenset({"Z", "W"}))
    # Meanwhile X came to hold the technician again and W let go of them.
    assert still_wrong(verdict, frozenset({"X", "Z"})) == Verdict(
        give_back=frozenset({"Y"}), add=frozenset({"Z"}))
