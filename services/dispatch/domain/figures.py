"""Commitment compliance from orders' milestones: the wallboard's figures and the operator
report. Pure: takes order documents (as plain dicts), returns counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.domain.commitments import MILESTONES

# A milestone's outcome falls at most this long after the order was received (the longest
# commitment is a few working days; approved delays can stretch it): orders received
# earlier than ``since - LOOKBACK`` cannot have an outcome in the period.
LOOKBACK = timedelta(days=21)


@dataclass(frozen=True)
class Outcome:
    branch: str
    zone: str
    milestone: str
    met: bool
    at: datetime  # when it was met, or the deadline it breached


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def outcomes(order: dict) -> list[Outcome]:
    """Each counted milestone of one order: met at its time, or breached at its deadline."""
    found = []
    for milestone in MILESTONES:
        state = (order.get("milestones") or {}).get(milestone) or {}
        result = state.get("outcome")
        if result == "met" and state.get("at"):
            at = state["at"]
        elif result == "breached" and (order.get("deadlines") or {}).get(milestone):
            at = order["deadlines"][milestone]
        else:
            continue
        found.append(Outcome(order["branch"], order["zone"], milestone, result == "met",
                             _aware(at)))
    return found


def share(met: int, breached: int) -> float | None:
    """On-time share, or None when nothing was counted (shown as '—', not 0 %)."""
    total = met + breached
    return round(met / total, 4) if total else None


def compliance(orders: Iterable[dict], since: datetime, until: datetime) -> list[dict]:
    """Met / breached / on-time share per branch, zone and milestone for outcomes in
    [since, until), sorted."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for order in orders:
        for item in outcomes(order):
            if since <= item.at < until:
                slot = counts.setdefault((item.branch, item.zone, item.milestone), [0, 0])
                slot[0 if item.met else 1] += 1
    rows = []
    for (branch, zone, milestone), (met, breached) in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1], MILESTONES.index(kv[0][2]))):
        rows.append({"branch": branch, "zone": zone, "milestone": milestone, "met": met,
                     "breached": breached, "on_time_share": share(met, breached)})
    return rows


LATE_OUTCOMES = ("breached", "met_after_approved_delay")


def delays(orders: Iterable[dict], since: datetime, until: datetime) -> list[dict]:
    """Where the time went (the orders' delay ledgers), per branch, milestone and cause,
    for milestones reached in [since, until): hours in all, and in those reached late."""
    sums: dict[tuple[str, str, str], list[float]] = {}
    for order in orders:
        for milestone, state in (order.get("milestones") or {}).items():
            at = state.get("at")
            if not state.get("ledger") or at is None or not since <= _aware(at) < until:
                continue
            late = state.get("outcome") in LATE_OUTCOMES
            for cause, seconds in state["ledger"].items():
                slot = sums.setdefault((order["branch"], milestone, cause), [0.0, 0.0])
                slot[0] += seconds
                slot[1] += seconds if late else 0.0
    return [{"branch": branch, "milestone": milestone, "cause": cause,
             "hours": round(total / 3600, 2), "late_hours": round(late / 3600, 2)}
            for (branch, milestone, cause), (total, late) in sorted(
                sums.items(), key=lambda kv: (kv[0][0], _rank(kv[0][1]), -kv[1][0]))]


def _rank(milestone: str) -> int:
    return MILESTONES.index(milestone) if milestone in MILESTONES else len(MILESTONES)


def totals(rows: list[dict]) -> dict:
    met = sum(row["met"] for row in rows)
    breached = sum(row["breached"] for row in rows)
    return {"met": met, "breached": breached, "on_time_share": share(met, breached)}


def overdue_by_milestone(status: dict[tuple[str, ...], tuple[int, int]],
                         branch: str) -> dict[str, int]:
    """Sum the gauges' (overdue, at_risk) counts of one branch per milestone."""
    summed = dict.fromkeys(MILESTONES, 0)
    for labels, (overdue, _at_risk) in status.items():
        if labels[0] == branch:
            summed[labels[2]] += overdue
    return summed
