"""Which branch an object belongs to, read from the ids that name it.

Order numbers are ``<BRANCH>-<YYYYMMDD>-<seq>`` and complaint numbers
``CP-<BRANCH>-<YYYYMMDD>-<seq>``; the ids derived from them (callback tasks ``CB-<order>``,
bills, write-offs) carry the order number inside. So a reference that crosses branches can
be seen without asking the service that owns the object: the first check wherever an id
enters a service (an RPC's payload, an event's data). The owning store's own
``branch`` filter is the second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# The branch code followed by a date and a sequence: inside an order or complaint number,
# wherever it stands in a derived id.
_BRANCH_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2,8})-\d{8}-\d{4,6}(?!\d)")

# Scheduled visits' callback tasks (``SV-<schedule>-<YYYYMMDD>-<unit>``) carry no branch,
# though a schedule id ending in capitals and a numeric unit look like an order number.
SCHEDULED_VISIT_PREFIX = "SV-"

# Keys whose values name one of our branch-numbered objects. Not every ``*_id``: call ids,
# purchase and receipt ids come from outside and may look like anything.
_REFERENCE_KEYS = frozenset({
    "order_id", "order_ids", "intake_order_id", "last_order_id", "complaint_id",
    "task_id", "bill_id", "anomaly_id", "customer_id"})


def branch_of(object_id: Any) -> str | None:
    """The branch an id names, or None for ids that carry none (quotes, technicians)."""
    if not isinstance(object_id, str) or object_id.startswith(SCHEDULED_VISIT_PREFIX):
        return None
    found = _BRANCH_NUMBER.search(object_id)
    return found.group(1) if found else None


def belongs_to(object_id: Any, branch: str) -> bool:
    """False only when the id names another branch; an id without a branch passes here
    and is left to the owning store's ``branch`` filter."""
    named = branch_of(object_id)
    return named is None or named == branch


def _references(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, id) under a reference key, through nested dicts and lists."""
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            yield from _references(inner, str(inner_key))
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, key)
    elif key in _REFERENCE_KEYS:
        yield key, value


def foreign_references(data: Any, branch: str) -> list[str]:
    """``key=id`` for each id in ``data`` that names a branch other than ``branch``, and
    for a ``branch`` field that is not ``branch`` (an order created for another branch)."""
    found = [f"{key}={value}" for key, value in _references(data)
             if not belongs_to(value, branch)]
    if isinstance(data, dict) and data.get("branch") not in (None, branch):
        found.append(f"branch={data['branch']}")
    return found


def refusal(event_branch: str | None, served: list[str] | tuple[str, ...] | None,
            data: Any) -> str | None:
    """Why an event must not be acted on in this deployment, or None when it may:
    it names no branch, a branch this deployment does not serve, or objects of another
    branch than its own."""
    if not event_branch:
        return "跨分支拒绝 / cross-branch refused: the event names no branch"
    if served and event_branch not in served:
        return (f"跨分支拒绝 / cross-branch refused: branch {event_branch} is not served "
                f"here ({', '.join(served)})")
    foreign = foreign_references(data, event_branch)
    if foreign:
        return (f"跨分支拒绝 / cross-branch refused: a {event_branch} event names another "
                f"branch's objects: {', '.join(sorted(foreign))}")
    return None
