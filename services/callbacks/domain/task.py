"""A change to a callback task, in the business's words: when it is due next (or that it
is done and leaves the queue), the facts it records, the call attempt or reschedule it
adds, and the events it causes. The store alone turns it into a database update
(services/callbacks/store.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class TaskChange:
    due_at: datetime | None = None  # in the queue again, due then
    done: bool = False  # finished: out of the queue and the deadline sweeper's sight
    facts: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)  # attempts, reschedules
    events: list[dict] = field(default_factory=list)
