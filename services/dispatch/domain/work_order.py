"""A change to a work order, in the business's words.

Each step of an order (an offer, the technician's contact, a pause for parts, the
callback's verdict...) is one ``Change``: the state it leads to (read from the lifecycle,
services/dispatch/domain/lifecycle.py), the facts it records, the time each milestone's clock
stood still (on the milestone's own calendar), the
technician tried, an approved delay, another service's event applied, the events it
causes and its line on the timeline. The store alone turns a change into a database
update (services/dispatch/store.py), conditional on the order being as it was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Change:
    status: str | None = None  # the state the order moves to; None: stays
    facts: dict[str, Any] = field(default_factory=dict)  # set; "a.b" names a nested fact
    paused: dict[str, float] = field(default_factory=dict)  # milestone -> clock stopped (s)
    tried: str | None = None  # a technician offered the order
    delay: dict[str, Any] | None = None  # an approved delay, kept with the others
    arrived: list[str | None] = field(default_factory=list)  # shortages whose parts came
    applied_event: str | None = None  # another service's event, applied once
    events: list[dict] = field(default_factory=list)
    entry: dict[str, Any] | None = None  # the line on the order's timeline

    @property
    def moves(self) -> bool:
        """Whether the order itself changes (not only its timeline and bookkeeping)."""
        return bool(self.status or self.facts or self.paused or self.tried
                    or self.delay)
