"""What each screen shows, read from the API's answers: the form turned into the API's
request body, an order's milestones against their deadlines, the queue in deadline order.

Nothing here decides a business outcome: deadlines, risk marks, states and the steps
each state allows come from the API's answer and the declared lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.complaints import STEP_SCHEMAS
from services.complaints.domain.rules import RESOLUTIONS, RESPONSIBILITIES
from services.complaints.domain.rules import TRANSITIONS as COMPLAINT_TRANSITIONS
from services.dispatch.domain.lifecycle import OPEN_STATES, TRANSITIONS
from services.intake.domain.customers import MIN_PREFIX_DIGITS

TECHNICIAN_STEPS = ("accept", "reject", "contact", "check-in", "complete")
_CUSTOMER_FIELDS = ("name", "phone", "address", "region_code")
_PRODUCT_FIELDS = ("category", "brand", "model", "serial_number", "purchase_date")


def request_body(form: Any) -> dict:
    """The new-request form as the body of ``POST /api/v1/requests``; blank optional
    fields left out, so the API applies its own defaults."""
    customer = {key: form.get(key, "").strip() for key in _CUSTOMER_FIELDS}
    customer["vip"] = form.get("vip") == "on"
    product = {key: form.get(key, "").strip() for key in _PRODUCT_FIELDS}
    product = {key: value for key, value in product.items() if value}
    body = {"customer": customer, "product": product,
            "request_type": form.get("request_type", ""),
            "description": form.get("description", "").strip(),
            "channel": form.get("channel", "")}
    if form.get("override_priority"):  # the agent's own priority, with the reason (audited)
        body["priority_override"] = {"priority": form.get("override_priority"),
                                     "reason": form.get("reason", "").strip()}
    return body


def enough_digits(phone: str) -> bool:
    """Whether the phone typed so far is enough to look the customer up (the API's own
    minimum; fewer digits would match too many households)."""
    return sum(ch.isdigit() for ch in phone) >= MIN_PREFIX_DIGITS


def field_errors(fields: dict, prefix: str = "") -> dict[str, str]:
    """The API's nested field errors, flat: {"customer.phone": "message"}."""
    flat: dict[str, str] = {}
    for key, value in (fields or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(field_errors(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = " ".join(str(item) for item in value)
        else:
            flat[name] = str(value)
    return flat


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Milestone:
    name: str
    deadline: str | None
    reached: str | None
    outcome: str | None
    overdue: bool
    at_risk: bool


def milestones(order: dict, now: datetime | None = None) -> list[Milestone]:
    """Each milestone's deadline against the time it was reached, and whether an open
    one is past its deadline or past the point the API marks as at risk."""
    now = now or datetime.now(UTC)
    rows = []
    reached = order.get("milestones") or {}
    risk = order.get("risk_at") or {}
    for name, deadline in (order.get("deadlines") or {}).items():
        mark = reached.get(name) or {}
        running = not mark.get("at") and order.get("status") in OPEN_STATES and deadline
        overdue = bool(running and _moment(deadline) <= now)
        at_risk = bool(running and not overdue and risk.get(name)
                       and _moment(risk[name]) <= now)
        rows.append(Milestone(name, deadline, mark.get("at"), mark.get("outcome"), overdue,
                              at_risk))
    return rows


@dataclass(frozen=True)
class QueueRow:
    order: dict
    next_milestone: Milestone | None
    overdue: list[str]
    at_risk: list[str]


def queue_row(order: dict, now: datetime) -> QueueRow:
    rows = milestones(order, now)
    open_rows = [row for row in rows if not row.reached and row.deadline]
    first = min(open_rows, key=lambda row: _moment(row.deadline), default=None)
    return QueueRow(order, first, [row.name for row in rows if row.overdue],
                    [row.name for row in rows if row.at_risk])


def queue(orders: list[dict], now: datetime | None = None) -> list[QueueRow]:
    """Open orders, the nearest deadline first; an order with none left goes last."""
    now = now or datetime.now(UTC)
    rows = [queue_row(order, now) for order in orders]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda row: _moment(row.next_milestone.deadline)
                  if row.next_milestone else far)


def rows(orders: list[dict], now: datetime | None = None) -> list[QueueRow]:
    """Orders as given (a technician's list comes in the order they work it)."""
    now = now or datetime.now(UTC)
    return [queue_row(order, now) for order in orders]


def open_statuses() -> tuple[str, ...]:
    return OPEN_STATES


def steps_for(status: str) -> list[str]:
    """The technician's steps the lifecycle allows from ``status``."""
    return [step for step in TECHNICIAN_STEPS if status in TRANSITIONS[step].sources]


JOB_STEPS = ("contact", "appointment", "check-in", "leave", "complete")


def job_steps(status: str) -> list[str]:
    """The forms a job page offers in ``status``: the technician's steps the lifecycle
    allows, and parts while the lifecycle lets a shortage hold the job."""
    steps = [step for step in JOB_STEPS if status in TRANSITIONS[step].sources]
    return steps + (["parts"] if status in TRANSITIONS["parts-short"].sources else [])


_STEP_FIELDS = {"accept": ("note",), "contact": ("note",), "check-in": ("note",),
                "reject": ("reason",), "complete": ("diagnosis", "fault_code", "repair_done")}


def step_body(action: str, form: Any) -> dict:
    """A technician's step form as the body of ``POST /api/v1/orders/<id>/<action>``."""
    body = {key: form.get(key, "").strip() for key in _STEP_FIELDS.get(action, ())}
    return {key: value for key, value in body.items() if value}


def assignable(status: str) -> bool:
    """The lifecycle lets a dispatcher assign (or move) an order in this state."""
    return status in TRANSITIONS["assign"].sources


# -- the dispatcher's schedule board (排班表) ---------------------------------------------
BOARD_HOURS = tuple(range(8, 21))  # the hours a visit is booked in, the branch's clock


@dataclass(frozen=True)
class Visit:
    order: dict
    start: datetime
    end: datetime

    @property
    def hours(self) -> tuple[int, ...]:
        """The board's hours this visit covers (an hour started counts)."""
        last = self.end.hour if self.end.minute or self.end.second else self.end.hour - 1
        return tuple(hour for hour in BOARD_HOURS if self.start.hour <= hour <= last)


def schedule(technicians: list[dict], orders: list[dict], day: str
             ) -> dict[str, dict[int, list[Visit]]]:
    """Each technician's booked visits on ``day`` (ISO date), by hour of the board; an
    order booked with a technician not listed is left out."""
    board: dict[str, dict[int, list[Visit]]] = {
        tech["technician_id"]: {hour: [] for hour in BOARD_HOURS} for tech in technicians}
    for order in orders:
        slot = order.get("appointment") or {}
        row = board.get(order.get("technician_id") or "")
        if row is None or not slot.get("start") or not slot["start"].startswith(day):
            continue
        visit = Visit(order, _moment(slot["start"]), _moment(slot.get("end") or slot["start"]))
        for hour in visit.hours:
            row[hour].append(visit)
    return board


def zone_of(rows: list[QueueRow], zone: str) -> list[QueueRow]:
    """The queue narrowed to one zone (the list API has no zone filter)."""
    return [row for row in rows if not zone or row.order.get("zone") == zone]


# -- complaints ---------------------------------------------------------------------------
COMPLAINT_STEPS = tuple(STEP_SCHEMAS)
COMPLAINT_CHOICES = {"responsibility": RESPONSIBILITIES, "kind": RESOLUTIONS}
# Form fields that are yes/no (a select with "true"/"false").
_YES_NO = {"satisfied"}


def complaint_steps(status: str) -> list[str]:
    """The steps the complaint's lifecycle allows from ``status``."""
    return [step for step, (sources, _) in COMPLAINT_TRANSITIONS.items() if status in sources]


def complaint_body(action: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The API's body for a complaint step from its form: blank fields left out (the API
    says which are required), yes/no as booleans."""
    fields = STEP_SCHEMAS[action]().fields
    body: dict[str, Any] = {}
    for name in fields:
        value = (form.get(name) or "").strip()
        if value:
            body[name] = value == "true" if name in _YES_NO else value
    return body
