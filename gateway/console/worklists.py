"""Work lists of the back-office roles: warehouse (stock, movements), finance (bills,
anomalies, held earnings, settlements), callbacks (the day's calls), complaints and HQ audit.

Each list is declared once: the API path it reads, the API operation whose roles may read
it, and its columns. A screen shows the lists the user's role may read; an action is one
form and one API call. Phones and addresses come masked, as the API lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.billing import BILL_STATES as BILL_STATUSES
from schemas.callbacks import TASK_STATES as TASK_STATUSES
from services.complaints.domain.rules import SEVERITIES
from services.complaints.domain.rules import STATUSES as COMPLAINT_STATUSES


@dataclass(frozen=True)
class Column:
    label: str  # catalogue key
    path: str  # dotted key in an item
    kind: str = "text"  # text | time | money | code:<vocabulary>


@dataclass(frozen=True)
class Filter:
    param: str  # the API's query parameter
    label: str  # catalogue key
    choices: tuple[str, ...] = ()  # codes of ``vocabulary`` (a select); none: free text
    vocabulary: str = ""


@dataclass(frozen=True)
class WorkList:
    key: str
    api: str
    operation: str  # the API permission that lets a role read it
    columns: tuple[Column, ...]
    query: dict = field(default_factory=dict)
    link: str | None = None  # a row's page: a format with the item's keys
    filters: tuple[Filter, ...] = ()

    def request(self, args: Any) -> dict:
        """The API query for this list from the page's query string: its own filters and
        page (``<list>.<param>``, so two lists on one screen keep theirs apart)."""
        query = dict(self.query)
        for wanted in self.filters:
            typed = (args.get(f"{self.key}.{wanted.param}") or "").strip()
            if typed:
                query[wanted.param] = typed
        page = (args.get(f"{self.key}.page") or "").strip()
        if page.isdigit() and int(page) > 1:
            query["page"] = int(page)
        return query


@dataclass(frozen=True)
class Page:
    """What a list shows of its paging: where it is and whether there is more."""

    number: int
    total: int | None
    more: bool


def page_of(work_list: WorkList, query: dict, body: dict) -> Page:
    number = int(query.get("page", 1))
    size = int(query.get("page_size", body.get("page_size") or 20))
    total = body.get("total")
    shown = len(body.get("items", []))
    more = total > number * size if isinstance(total, int) else shown >= size
    return Page(number, total if isinstance(total, int) else None, more)


_ORDER = Column("order.id", "order_id")
_LOCATION, _SKU = Filter("location", "work.location"), Filter("sku", "job.sku")
LISTS = {
    "stock": WorkList("stock", "/api/v1/stock", "read_stock", (
        Column("work.location", "location"), Column("job.sku", "sku"),
        Column("work.part", "name"), Column("work.on_hand", "on_hand"),
        Column("work.reserved", "reserved"), Column("work.available", "available")),
        {"page_size": 100}, filters=(_LOCATION, _SKU, Filter(
            "below", "work.below", ("reorder", "safety"), "below"))),
    "movements": WorkList("movements", "/api/v1/stock/movements", "read_stock", (
        Column("work.at", "at", "time"), Column("work.location", "location"),
        Column("job.sku", "sku"), Column("work.kind", "kind", "code:movement"),
        Column("job.quantity", "quantity"), _ORDER), {"page_size": 50},
        filters=(_LOCATION, _SKU, Filter("order_id", "order.id"))),
    "bills": WorkList("bills", "/api/v1/bills", "list_bills", (
        Column("work.bill", "bill_id"), _ORDER, Column("order.status", "status", "code:bill"),
        Column("job.total", "total_fen", "money"), Column("work.at", "completed_at", "time")),
        {"page_size": 50}, filters=(Filter("status", "order.status", BILL_STATUSES, "bill"),
                                    Filter("order_id", "order.id"))),
    "anomalies": WorkList("anomalies", "/api/v1/charge-anomalies", "read_anomalies", (
        Column("work.at", "detected_at", "time"), _ORDER, Column("work.rule", "rule")),
        {"page_size": 50}),
    # earnings held after a callback that did not verify the job, for the review action
    "held": WorkList("held", "/api/v1/settlement/earnings", "read_settlement", (
        _ORDER, Column("work.centre", "service_centre_id"),
        Column("work.held_amount", "amount_fen", "money"), Column("work.held_why", "review"),
        Column("work.at", "created_at", "time")), {"held": "true", "page_size": 50}),
    "statements": WorkList("statements", "/api/v1/settlement/statements", "read_settlement", (
        Column("work.statement", "statement_id"), Column("work.centre", "service_centre_id"),
        Column("work.month", "month"), Column("order.status", "status"),
        Column("job.total", "total_fen", "money")), {"page_size": 50}),
    "callbacks": WorkList("callbacks", "/api/v1/callbacks/tasks", "read_callbacks", (
        Column("work.task", "task_id"), Column("work.kind", "kind", "code:task_kind"),
        Column("order.status", "status", "code:task_status"), _ORDER,
        Column("order.customer", "customer.name"), Column("field.phone", "customer.phone"),
        Column("work.due", "due_at", "time")), {"status": "open", "page_size": 50},
        "/console/work/callbacks/{task_id}",
        (Filter("status", "order.status", TASK_STATUSES, "task_status"),)),
    "complaints": WorkList("complaints", "/api/v1/complaints", "read_complaints", (
        Column("work.complaint", "complaint_id"),
        Column("order.status", "status", "code:complaint_status"),
        Column("work.category", "category", "code:complaint_category"),
        Column("work.severity", "severity", "code:severity"),
        Column("work.level", "escalation_level", "code:level"),
        Column("order.customer", "customer.name"), Column("field.phone", "customer.phone"),
        Column("work.ack_by", "deadlines.complaint_ack", "time"),
        Column("work.investigate_by", "deadlines.complaint_investigation", "time")),
        {"page_size": 50}, "/console/work/complaints/{complaint_id}",
        (Filter("status", "order.status", COMPLAINT_STATUSES, "complaint_status"),
         Filter("severity", "work.severity", SEVERITIES, "severity"),
         Filter("overdue", "work.overdue", ("true",), "yes_only"))),
}
# The screens: (path word, nav label, lists shown in order).
SCREENS = {
    "warehouse": ("nav.warehouse", ("stock", "movements")),
    "finance": ("nav.finance", ("bills", "anomalies", "held", "statements")),
    "callbacks": ("nav.callbacks", ("callbacks",)),
    "complaints": ("nav.complaints", ("complaints",)),
    "audit": ("nav.audit", ("anomalies", "complaints", "callbacks")),
}
# The role each screen is made for; others reach the same lists on their own screen.
SCREEN_ROLES = {"warehouse": ("warehouse", "admin"), "finance": ("finance",),
                "callbacks": ("callback_staff", "supervisor"),
                "complaints": ("complaint_handler", "supervisor"), "audit": ("hq_auditor",)}


def readable(screen: str, role: str, permissions: dict) -> tuple[WorkList, ...]:
    """The screen's lists this role may read, as the API's permission tables say."""
    return tuple(LISTS[key] for key in SCREENS[screen][1]
                 if role in permissions.get(LISTS[key].operation, ()))


def has_screen(screen: str, role: str, permissions: dict) -> bool:
    return role in SCREEN_ROLES[screen] and bool(readable(screen, role, permissions))


def value(item: dict, path: str) -> Any:
    for key in path.split("."):
        item = item.get(key) if isinstance(item, dict) else None
    return item


def answer_body(form: Any) -> dict:
    """A callback's answers: when the customer was not reached, only that and a comment."""
    reached = form.get("reached") == "yes"
    body: dict[str, Any] = {"reached": reached}
    if reached:
        body |= {"fixed": form.get("fixed") == "yes", "on_time": form.get("on_time") == "yes"}
        for score in ("attitude", "satisfaction"):
            number = (form.get(score) or "").strip()
            if number:
                body[score] = int(number) if number.isdigit() else number
        body["paid"] = (form.get("paid") or "").strip() or "0"  # yuan, as the customer says
    comment = (form.get("comment") or "").strip()
    return body | ({"comment": comment} if comment else {})


# -- one-form actions ---------------------------------------------------------------------
SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")  # an id that goes into a path
def _upper(form: Any, key: str) -> str:
    return (form.get(key) or "").strip().upper()


def _count(text: str) -> int | str:
    """A whole number typed; anything else as typed, for the API to refuse."""
    return int(text) if text.strip().isdigit() else text


def receipt_body(form: Any) -> dict:
    return {"location": _upper(form, "location"), "sku": _upper(form, "sku"),
            "accepted": _count(form.get("accepted") or "")}


def fen(yuan: str) -> int | str:
    """Yuan as typed (12.5) in fen (1250), the API's unit; unreadable text as typed."""
    try:
        amount = Decimal(yuan.strip())
    except InvalidOperation:
        return yuan
    return int((amount * 100).to_integral_value()) if amount.is_finite() else yuan


def payment_body(form: Any) -> dict:
    return {"method": form.get("method", ""), "amount_fen": fen(form.get("amount") or "")}


def review_body(form: Any) -> dict:
    """A held earning's decision; the amount (yuan) only when one is typed, for the API
    to judge against the action."""
    amount = (form.get("amount") or "").strip()
    return {"action": form.get("action", ""), "reason": (form.get("reason") or "").strip(),
            **({"amount_fen": fen(amount)} if amount else {})}


@dataclass(frozen=True)
class Action:
    api: str  # a format with the form's fields (the bill's id...)
    operation: str  # the API permission that lets a role take it
    body: Callable[[Any], dict]
    path_keys: tuple[str, ...] = ()


ACTIONS = {("warehouse", "receipt"): Action("/api/v1/stock/receipts", "receive_stock",
                                            receipt_body),
           ("finance", "payment"): Action("/api/v1/bills/{bill_id}/payments", "pay_bill",
                                          payment_body, ("bill_id",)),
           ("finance", "review"): Action("/api/v1/settlement/earnings/{order_id}/review",
                                         "review_earning", review_body, ("order_id",))}


def actions_of(screen: str, role: str, permissions: dict) -> tuple[str, ...]:
    return tuple(name for (where, name), action in ACTIONS.items()
                 if where == screen and role in permissions.get(action.operation, ()))
