"""Milestone outcomes against stored deadlines, and the pause of the resolution clock."""

from __future__ import annotations

from datetime import datetime, timedelta


def outcome(reached_at: datetime, deadline: datetime | None) -> str:
    """A milestone reached by its deadline is met; later is breached (the sweeper usually
    counted it already, at the deadline)."""
    if deadline is None:
        return "met"
    return "met" if reached_at <= deadline else "breached"


def is_at_risk(now: datetime, started: datetime, deadline: datetime, share: float) -> bool:
    """Still open, not yet overdue, but past ``share`` of its window."""
    return started < deadline and risk_mark(started, deadline, share) <= now < deadline


def risk_mark(started: datetime, deadline: datetime, share: float) -> datetime:
    """When an open milestone becomes "at risk": ``share`` of its window has passed."""
    return started + (deadline - started) * share


def resumed_deadline(deadline: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """A paused clock (waiting for parts the customer was told of) moves the deadline by the
    pause's length."""
    return deadline + max(resumed_at - paused_at, timedelta(0))
