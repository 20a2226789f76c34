"""One call's work, finished in one place.

A service opens a unit for each call (``with self.unit() as uow:``, services/common/base.py)
and hands it to its application object. The unit holds the call's time, the lease it
takes on the events it writes (it relays them itself right after the write; the outbox
timer takes over if that fails), the events written, and what to count. When the call
ends, the service relays the events and counts the outcomes, whether the call succeeded
or not: what was written is in the store either way.

Outcomes that belong to a write are gathered in an ``Outcomes`` first and taken into the
unit only once the write is in, so a write that fails or loses a race, then is retried,
counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.outbox import new_event
from services.common.request_id import current as current_request_id

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Reached:
    """A milestone reached: met or breached (None when the breach sweeper counted it
    already), and the seconds it took (negative when not to be observed)."""

    labels: Labels  # branch, zone, milestone, request_type, priority (or severity)
    outcome: str | None
    seconds: float


@dataclass
class Outcomes:
    """What to count: metric name (as the service's metric definitions name it), labels,
    and an amount to add or a value to observe."""

    counts: list[tuple[str, Labels, float]] = field(default_factory=list)
    observations: list[tuple[str, Labels, float]] = field(default_factory=list)
    milestones: list[Reached] = field(default_factory=list)

    def count(self, metric: str, *labels: str, amount: float = 1) -> None:
        self.counts.append((metric, labels, amount))

    def observe(self, metric: str, *labels: str, value: float) -> None:
        self.observations.append((metric, labels, value))

    def reach(self, reached: Reached) -> None:
        """A milestone: counted under the shared milestone metrics (met / breached and
        the duration) by the service's chassis."""
        self.milestones.append(reached)


class UnitOfWork(Outcomes):
    """A call's time, the lease on the events it writes, those events, and its outcomes.
    ``routed`` tells which event kinds some consumer subscribes to (all, by default)."""

    def __init__(self, source: str, now: datetime, claim_until: datetime,
                 routed: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.source = source
        self.now = now
        self.claim_until = claim_until
        self.routed = routed or (lambda kind: True)
        self.written: list[tuple[str, Any, list[dict]]] = []

    def events(self, branch: str, /, *kinds: str, **data: Any) -> list[dict]:
        """New events of this call; only those some consumer subscribes to (the timeline
        records every step, the outbox only what is delivered)."""
        request_id = current_request_id()
        return [new_event(kind, self.source, branch, data, self.now, request_id)
                for kind in kinds if self.routed(kind)]

    def wrote(self, collection: str, doc_id: Any, events: list[dict]) -> None:
        """``events`` were written with the document: relay them when the call ends."""
        if events:
            self.written.append((collection, doc_id, events))

    def take(self, outcomes: Outcomes) -> None:
        """Outcomes of a write that is now in."""
        self.counts += outcomes.counts
        self.observations += outcomes.observations
        self.milestones += outcomes.milestones
