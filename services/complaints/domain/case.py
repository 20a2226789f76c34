"""A change to a complaint case, in the business's words.

Each step (acknowledged, concluded, resolved, confirmed, reopened, a missed deadline, a
repeat of the same matter) is one ``CaseChange``: the status it leads to, the facts it
records or clears, what it adds to the case's records (repeats, escalations, penalties,
past rounds), the orders and sources it links, the events it causes, its line on the
timeline, and what to count once it is written. The store alone turns it into a database
update (services/complaints/store.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.common.unit_of_work import Outcomes


@dataclass
class CaseChange:
    status: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # set; "a.b" names a nested fact
    cleared: list[str] = field(default_factory=list)  # facts removed
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)  # record -> new entry
    linked: dict[str, list[str]] = field(default_factory=dict)  # order_ids / source_refs
    reopened: bool = False  # one more round of investigation
    new_source: str | None = None  # written only if this source is not linked yet
    events: list[dict] = field(default_factory=list)
    entry: dict[str, Any] | None = None
    outcomes: Outcomes = field(default_factory=Outcomes)
