"""When periodic work touches the store: per container, in memory (no database).

Timers tick every second so that a deadline is acted on within a second of passing, but
an idle store should not be asked every second whether anything is due. Two ways:

- ``due(job, every_seconds)``: at most once every so many seconds (plain spacing);
- ``has_work(job, now)`` / ``next_due(job, earliest)``: a sweep looks up the earliest
  moment anything of its kind falls due, and sleeps until then, looking again at least
  every ``LOOK_AGAIN_SECONDS`` of real time (another replica's, or another process's,
  write may bring something due sooner; a deadline already past when it is written is
  then acted on within those seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from nameko.extensions import DependencyProvider

LOOK_AGAIN_SECONDS = 3.0


class Pacer(DependencyProvider):
    """Per-container spacing of periodic work (monotonic time, and the service's clock
    for due moments: tests that move a fixed clock move them too)."""

    def setup(self) -> None:
        self.last: dict[str, float] = {}
        self.looked: dict[str, float] = {}
        self.due_at: dict[str, datetime | None] = {}

    def due(self, job: str, every_seconds: float) -> bool:
        now = time.monotonic()
        if now - self.last.get(job, float("-inf")) < every_seconds:
            return False
        self.last[job] = now
        return True

    def when_due(self, job: str, now: datetime, next_due: Callable[[], datetime | None],
                 act: Callable[[], object]) -> None:
        """``act`` if what ``next_due`` looks up has fallen due; then remember the next
        due moment. Skipped, without a look-up, while nothing is due."""
        if not self.has_work(job, now):
            return
        due_at = next_due()
        if due_at is not None and due_at <= now:
            act()
            due_at = next_due()
        self.next_due(job, due_at)

    def has_work(self, job: str, now: datetime) -> bool:
        """Whether ``job``'s earliest known due moment has come, or it is time to look
        again."""
        if time.monotonic() - self.looked.get(job, float("-inf")) >= LOOK_AGAIN_SECONDS:
            return True
        due_at = self.due_at.get(job)
        return due_at is not None and due_at <= now

    def next_due(self, job: str, earliest: datetime | None) -> None:
        """What the store holds for ``job``, as just looked up: the earliest due moment
        (None: nothing pending)."""
        self.looked[job] = time.monotonic()
        self.due_at[job] = earliest

    def get_dependency(self, worker_ctx) -> Pacer:
        return self
