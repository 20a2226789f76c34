"""Complaint rules (投诉): categories, severity, the lifecycle, escalation, penalties, money
and the complaint rate. Pure: no nameko, pymongo or marshmallow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

CATEGORIES = ("attitude", "timeliness", "repair_quality", "charges", "parts",
              "product_quality", "other")
SEVERITIES = ("low", "medium", "high", "critical")
RESPONSIBILITIES = ("branch", "service_centre", "technician", "product_quality", "customer",
                    "none")
# Complaints that count against the service (确属服务责任) in the complaint rate.
SERVICE_RESPONSIBILITY = ("branch", "service_centre", "technician")
RESOLUTIONS = ("explanation", "compensation", "reservice", "exchange", "refund")
STATUSES = ("open", "acknowledged", "investigated", "resolved", "closed")
MILESTONES = ("complaint_ack", "complaint_investigation")
# Escalation ladder: each missed deadline moves a complaint one rung up.
LEVELS = ("branch", "supervisor", "hq")
HIGH_SEVERITY_CHANNELS = ("media", "12315")
RATE_TARGET = 0.03

# action -> states it may be taken from, and the state it leads to
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("open",), "acknowledged"),
    "conclude": (("acknowledged",), "investigated"),
    "resolve": (("investigated",), "resolved"),
    "confirm": (("resolved",), "closed"),
    "reopen": (("resolved", "closed"), "acknowledged"),
}


class IllegalStep(Exception):
    """An action the complaint's state does not allow."""


def next_status(action: str, status: str) -> str:
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise IllegalStep(f"cannot {action} a complaint that is {status}")
    return target


def initial_severity(channel: str, requested: str | None = None) -> str:
    if requested:
        return requested
    return "high" if channel in HIGH_SEVERITY_CHANNELS else "medium"


def raise_severity(severity: str) -> str:
    """A repeated complaint about the same matter: one step up, critical at most."""
    index = SEVERITIES.index(severity)
    return SEVERITIES[min(index + 1, len(SEVERITIES) - 1)]


def matter_key(branch: str, order_ids: list[str], phone: str | None, serial: str | None,
               category: str) -> str:
    """What makes two complaints "the same matter": the order complained about, else the
    customer and unit (or product category)."""
    if order_ids:
        return f"{branch}|order:{sorted(order_ids)[0]}"
    return f"{branch}|phone:{phone or '-'}|unit:{serial or category}"


def escalation_after_breach(level: str) -> str | None:
    """The next rung after a missed deadline, or None when already at HQ."""
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def penalty(responsibility: str, party_id: str | None, above_branch: bool,
            points: dict[str, int]) -> dict | None:
    """A complaint the customer raised above the branch (越级投诉) costs the responsible
    service party the configured points; none when the service is not responsible."""
    if not above_branch or responsibility not in SERVICE_RESPONSIBILITY:
        return None
    return {"party": responsibility, "party_id": party_id,
            "points": int(points.get(responsibility, 0))}


@dataclass(frozen=True)
class CallbackVerdict:
    category: str
    severity: str
    reason: str


def callback_complaint(data: dict) -> CallbackVerdict | None:
    """Does a callback's answer open a complaint? Dissatisfied (≤ 2) or paid ≠ billed."""
    satisfaction = data.get("satisfaction")
    unhappy = (satisfaction is not None and int(satisfaction) <= 2) or \
        data.get("outcome") == "dissatisfied"
    if data.get("paid_differs"):
        return CallbackVerdict("charges", "high", "paid_differs")
    if not unhappy:
        return None
    attitude = data.get("attitude")
    if attitude is not None and int(attitude) <= 2:
        category = "attitude"
    elif data.get("on_time") is False:
        category = "timeliness"
    elif data.get("fixed") is False:
        category = "repair_quality"
    else:
        category = "other"
    severity = "high" if satisfaction is not None and int(satisfaction) <= 1 else "medium"
    return CallbackVerdict(category, severity, "dissatisfied")


def month_of(instant: datetime, tz: ZoneInfo) -> str:
    """The branch-local month a complaint or a completion counts in: "YYYY-MM"."""
    return instant.astimezone(tz).strftime("%Y-%m")


def complaint_rate(service_complaints: int, completed_orders: int) -> float:
    """Service-responsibility complaints per completed order; 0 with no completions."""
    return service_complaints / completed_orders if completed_orders else 0.0
