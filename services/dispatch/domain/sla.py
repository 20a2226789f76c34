"""Milestone outcomes against stored deadlines, and the pauses of their clocks.

A milestone's clock stops for the reasons its commitment names (``pause_on`` in
deploy/config/reference.yaml, e.g. waiting for parts) and is measured on the
milestone's own calendar: paused office-hours time is office hours, not nights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.clock import as_utc
from services.common.domain.commitments import MILESTONES, Calendar, MilestoneRule

MET_AFTER_APPROVED_DELAY = "met_after_approved_delay"


def outcome(reached_at: datetime, deadline: datetime | None,
            before_delay: datetime | None = None) -> str:
    """A milestone reached by its deadline is met; later is breached (the sweeper usually
    counted it already, at the deadline). Reached after the deadline it had before a
    supervisor approved a delay (``before_delay``), but by the delayed one, it is its own
    outcome: never silently met."""
    if deadline is None:
        return "met"
    if reached_at > deadline:
        return "breached"
    if before_delay is not None and reached_at > before_delay:
        return MET_AFTER_APPROVED_DELAY
    return "met"


def is_at_risk(now: datetime, started: datetime, deadline: datetime, share: float) -> bool:
    """Still open, not yet overdue, but past ``share`` of its window."""
    return started < deadline and risk_mark(started, deadline, share) <= now < deadline


def risk_mark(started: datetime, deadline: datetime, share: float) -> datetime:
    """When an open milestone becomes "at risk": ``share`` of its window has passed."""
    return started + (deadline - started) * share


def is_late(order: dict, now: datetime) -> bool:
    """An unreached milestone of the order is at risk or past its deadline."""
    reached = order.get("milestones") or {}
    return any(as_utc(mark) <= now for milestone, mark in (order.get("risk_at") or {}).items()
               if "at" not in reached.get(milestone, {}))


def paused_by(reason: str, reached: set[str],
              rule_of: Callable[[str], MilestoneRule | None]) -> list[str]:
    """The unreached milestones whose commitment stops their clock for ``reason``."""
    return [m for m in MILESTONES if m not in reached
            and (rule := rule_of(m)) is not None and reason in rule.pause_on]


@dataclass(frozen=True)
class Resumed:
    deadline: datetime  # where the deadline moves: the time left at the pause, from now
    paused_seconds: float  # the pause, in the milestone's calendar


def resume(deadline: datetime, paused_at: datetime, resumed_at: datetime,
           calendar: Calendar) -> Resumed:
    """The clock restarts with what was left of it when it stopped; a deadline that had
    already passed at the pause stays where it was (the breach is not undone)."""
    restart = max(resumed_at, paused_at)  # a clock read backwards never shortens it
    paused = calendar.elapsed(paused_at, restart).total_seconds()
    if deadline <= paused_at:
        return Resumed(deadline, paused)
    left = calendar.elapsed(paused_at, deadline)
    return Resumed(max(calendar.add(restart, left), deadline), paused)


# -- an order's clocks, as the order keeps them --------------------------------------
def stood_still(order: dict, milestone: str) -> float:
    """Seconds a milestone's clock was paused. The resolution's is ``paused_seconds``
    (kept in full since before the pauses were per milestone)."""
    if milestone == "resolution":
        return order.get("paused_seconds", 0.0)
    return (order.get("paused") or {}).get(milestone, 0.0)


def before_delay(order: dict, milestone: str) -> datetime | None:
    """The milestone's deadline before the first delay a supervisor approved, if any, as
    later pauses moved it (``before_delay``; orders delayed earlier: the delay record)."""
    kept = (order.get("before_delay") or {}).get(milestone)
    if kept is not None:
        return as_utc(kept)
    previous = [as_utc(d["previous_deadline"]) for d in order.get("delays") or []
                if d.get("milestone") == milestone and d.get("previous_deadline")]
    return min(previous, default=None)


def as_resumed(order: dict, resumed: dict[str, Any], paused: dict[str, float]) -> dict:
    """The order as a pause's end leaves it: its moved deadlines, its clocks' time paused."""
    if not paused:
        return order
    deadlines = {**order["deadlines"], **{key.split(".", 1)[1]: value
                                         for key, value in resumed.items()
                                         if key.startswith("deadlines.")}}
    stood = dict(order.get("paused") or {})
    for milestone, seconds in paused.items():
        stood[milestone] = stood.get(milestone, 0.0) + seconds
    return {**order, "deadlines": deadlines, "paused": stood,
            "paused_seconds": order.get("paused_seconds", 0.0) + paused.get("resolution", 0.0)}
