"""The work-order state machine: every legal step, and every illegal one refused."""

import itertools

import pytest

from schemas.orders import ORDER_STATES
from services.common.errors import Conflict
from services.dispatch.domain.lifecycle import (
    ACTIVE_STATES,
    HELD_STATES,
    OPEN_STATES,
    TRANSITIONS,
    check,
    target_state,
)

# The lifecycle as the README describes it, written out independently of TRANSITIONS:
# (action, from) -> to.
OPEN = ("new", "escalated", "offered", "accepted", "contacted", "scheduled", "on_site",
        "waiting_parts")
EXPECTED: dict[tuple[str, str], str] = {
    ("offer", "new"): "offered",
    ("accept", "offered"): "accepted",
    ("reject", "offered"): "new",
    ("expire", "offered"): "new",
    ("contact", "accepted"): "contacted",
    ("appointment", "contacted"): "scheduled",
    ("appointment", "scheduled"): "scheduled",          # rescheduling
    ("appointment", "waiting_parts"): "scheduled",
    ("check-in", "contacted"): "on_site",
    ("check-in", "scheduled"): "on_site",
    ("check-in", "waiting_parts"): "on_site",
    ("wait-parts", "on_site"): "waiting_parts",
    ("leave", "on_site"): "scheduled",                  # a visit without completion
    ("resume", "waiting_parts"): "scheduled",
    ("complete", "on_site"): "completed",
    ("escalate", "new"): "escalated",
    **{("assign", state): "accepted" for state in
       ("new", "offered", "accepted", "contacted", "scheduled", "escalated")},
    **{("cancel", state): "cancelled" for state in
       ("new", "offered", "accepted", "contacted", "scheduled", "escalated", "waiting_parts")},
    **{("approve-delay", state): state for state in OPEN},  # the state does not change
    # inventory's news and the callback's verdict
    **{("parts-short", state): "waiting_parts" for state in
       ("accepted", "contacted", "scheduled", "on_site")},
    ("parts-arrived", "waiting_parts"): "scheduled",
    ("close", "completed"): "closed",
    # an order forecast late, offered to a technician who would make it (no slot booked)
    **{("reoffer", state): "offered" for state in ("offered", "accepted", "contacted")},
    # clocks stopped and restarted for another reason; the state does not change
    **{(action, state): state for action in ("pause", "unpause")
       for state in ("accepted", "contacted", "scheduled", "on_site")},
}
ACTIONS = sorted({action for action, _ in EXPECTED})
STATES = sorted(set(ORDER_STATES))
ALL_PAIRS = list(itertools.product(ACTIONS, STATES))
LEGAL = [pair for pair in ALL_PAIRS if pair in EXPECTED]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def test_the_table_has_exactly_the_expected_actions():
    assert set(TRANSITIONS) == set(ACTIONS)


@pytest.mark.parametrize(("action", "status"), LEGAL)
def test_legal_transition(action, status):
    assert target_state(action, status) == EXPECTED[(action, status)]
    assert check(action, status) is TRANSITIONS[action]


@pytest.mark.parametrize(("action", "status"), ILLEGAL)
def test_illegal_transition_is_a_conflict(action, status):
    with pytest.raises(Conflict) as caught:
        target_state(action, status)
    error = caught.value
    assert error.status == 409
    assert error.message == f"cannot {action} an order that is {status}"
    hint = error.fields["status"][0]
    assert hint.startswith(f"Order is {status}; {action} needs one of ")
    for source in TRANSITIONS[action].sources:
        assert source in hint


@pytest.mark.parametrize("status", ["new", "on_site", "completed"])
def test_unknown_action_is_a_conflict(status):
    with pytest.raises(Conflict, match="unknown action 'teleport'"):
        check("teleport", status)


@pytest.mark.parametrize("status", ["completed", "cancelled", "closed", "answered",
                                    "handed_to_complaints"])
def test_finished_orders_accept_no_step(status):
    """Only the callback's verdict closes a completed order."""
    for action in ACTIONS:
        if (action, status) != ("close", "completed"):
            with pytest.raises(Conflict):
                check(action, status)


def test_an_order_on_site_cannot_be_cancelled_or_reassigned():
    for action in ("cancel", "assign", "offer"):
        with pytest.raises(Conflict):
            check(action, "on_site")


def test_milestones_are_reached_by_contact_check_in_and_complete():
    reached = {action: t.milestone for action, t in TRANSITIONS.items() if t.milestone}
    assert reached == {"contact": "first_contact", "check-in": "arrival",
                       "complete": "resolution"}


def test_dispatcher_steps_are_not_technician_steps():
    office = {action for action, t in TRANSITIONS.items() if not t.technician_step}
    assert office == {"offer", "expire", "assign", "cancel", "escalate", "approve-delay",
                      "parts-short", "parts-arrived", "close", "reoffer"}


def test_state_groups():
    assert set(ACTIVE_STATES) == {"offered", "accepted", "contacted", "scheduled", "on_site",
                                  "waiting_parts"}
    assert set(OPEN_STATES) == set(OPEN)
    assert HELD_STATES == ACTIVE_STATES
    assert set(OPEN_STATES) <= set(ORDER_STATES)


def test_every_target_is_a_known_state_and_every_open_state_can_be_left():
    for transition in TRANSITIONS.values():
        assert set(transition.sources) <= {*OPEN_STATES, "completed"}
        assert transition.target is None or transition.target in ORDER_STATES
    for state in OPEN_STATES:
        leaving = [a for a, t in TRANSITIONS.items()
                   if state in t.sources and t.target not in (None, state)]
        assert leaving, f"{state} is a dead end"


def test_happy_path_walks_from_new_to_completed():
    path = ["offer", "accept", "contact", "appointment", "check-in", "wait-parts", "resume",
            "check-in", "complete"]
    status = "new"
    for action in path:
        status = target_state(action, status)
    assert status == "completed"
