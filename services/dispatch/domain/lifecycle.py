"""The work-order state machine. Each action lists the states it may start from and the
state it leads to; anything else is an illegal transition (HTTP 409, nothing changes)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import Conflict

INITIAL_STATE = "new"  # received, not yet with anyone
ACTIVE_STATES = ("offered", "accepted", "contacted", "scheduled", "on_site", "waiting_parts")
OPEN_STATES = ("new", "escalated", *ACTIVE_STATES)
# States in which a technician holds the order (counts against their cap).
HELD_STATES = ACTIVE_STATES


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str | None  # None: stays in its state
    milestone: str | None = None  # the commitment milestone this step reaches
    technician_step: bool = True  # performed by the technician holding the order


TRANSITIONS: dict[str, Transition] = {
    "offer": Transition(("new",), "offered", technician_step=False),
    "accept": Transition(("offered",), "accepted"),
    "reject": Transition(("offered",), "new"),
    "expire": Transition(("offered",), "new", technician_step=False),
    "contact": Transition(("accepted",), "contacted", milestone="first_contact"),
    "appointment": Transition(("contacted", "scheduled", "waiting_parts"), "scheduled"),
    "check-in": Transition(("contacted", "scheduled", "waiting_parts"), "on_site",
                           milestone="arrival"),
    "wait-parts": Transition(("on_site",), "waiting_parts"),
    # A visit ended without completion (customer absent, a second person or a special
    # tool needed): booked again, the arrival milestone kept from the first visit.
    "leave": Transition(("on_site",), "scheduled"),
    "resume": Transition(("waiting_parts",), "scheduled"),
    # The clocks stopped for another reason the reference data names (the customer is
    # away, asked to wait...), the order staying where it is; unpause restarts them.
    "pause": Transition(("accepted", "contacted", "scheduled", "on_site"), None),
    "unpause": Transition(("accepted", "contacted", "scheduled", "on_site"), None),
    "complete": Transition(("on_site",), "completed", milestone="resolution"),
    "assign": Transition(("new", "offered", "accepted", "contacted", "scheduled", "escalated"),
                         "accepted", technician_step=False),
    "cancel": Transition(("new", "offered", "accepted", "contacted", "scheduled", "escalated",
                          "waiting_parts"), "cancelled", technician_step=False),
    "escalate": Transition(("new",), "escalated", technician_step=False),
    # Forecast late with its holder: offered to a technician who would make it, while the
    # customer has no booked slot yet.
    "reoffer": Transition(("offered", "accepted", "contacted"), "offered",
                          technician_step=False),
    "approve-delay": Transition(OPEN_STATES, None, technician_step=False),
    # Inventory's news and the callback's verdict (events, not people's steps).
    "parts-short": Transition(("accepted", "contacted", "scheduled", "on_site"),
                              "waiting_parts", technician_step=False),
    "parts-arrived": Transition(("waiting_parts",), "scheduled", technician_step=False),
    "close": Transition(("completed",), "closed", technician_step=False),
}


def check(action: str, status: str) -> Transition:
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise Conflict(f"unknown action {action!r}")
    if status not in transition.sources:
        raise Conflict(f"cannot {action} an order that is {status}",
                       {"status": [f"Order is {status}; {action} needs one of "
                                   f"{', '.join(transition.sources)}."]})
    return transition


def target_state(action: str, status: str) -> str:
    transition = check(action, status)
    return transition.target or status


def callback_verdict(status: str, outcome: str) -> bool | None:
    """How a callback's outcome closes an order: True closed verified, False closed
    unverified (the customer could not be reached), None stays as it is."""
    if status != "completed":
        return None
    if outcome == "satisfied":
        return True
    if outcome == "unreachable":
        return False
    return None
