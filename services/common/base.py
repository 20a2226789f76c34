"""What every service has: its database, clock, metrics endpoint, event topology and the
outbox relay."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import eventlet
from kombu.exceptions import OperationalError
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from nameko.web.handlers import http

from services.common.clock import Clock
from services.common.domain.calendars import coverage_gaps
from services.common.health import live, ready
from services.common.messaging import (
    Topology,
    consumed_dead_letter_queues,
    queue_depths,
    reliable_dispatcher,
)
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.common.outbox import OutboxRelay, SentMarks, oldest_unsent_age
from services.common.reference import Reference, load_reference
from services.common.request_id import RequestIdProvider
from services.common.routes import SUBSCRIPTIONS
from services.common.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def routed(source: str, kind: str) -> bool:
    """Whether some consumer subscribes to ``kind`` of ``source`` (read at call time, so a
    consumer added to the route table is served without a code change)."""
    return any(sub.source == source and sub.event_type == kind for sub in SUBSCRIPTIONS)


# Writers relay their own events at once (unit_of_work.py); this timer re-sends only what
# a crash left, after the writer's lease (outbox.lease_seconds, 15 s): polling more
# often than every couple of seconds would only ask an idle store.
RELAY_INTERVAL_SECONDS = 2
CHASSIS_GAUGES_INTERVAL_SECONDS = 5


class ClockProvider(DependencyProvider):
    """The container's clock; tests replace ``provider.clock`` with a FixedClock."""

    def setup(self) -> None:
        self.clock = Clock()

    def get_dependency(self, worker_ctx) -> Clock:
        return self.clock


class ReferenceProvider(DependencyProvider):
    def setup(self) -> None:
        self.reference = load_reference(self.container.config["reference_data"])
        for gap in coverage_gaps(self.reference.calendars, date.today()):
            log.warning("%s: install a newer chinese_calendar once the State Council "
                        "publishes the next year's schedule", gap)

    def get_dependency(self, worker_ctx) -> Reference:
        return self.reference


class ConfigProvider(DependencyProvider):
    def get_dependency(self, worker_ctx) -> dict[str, Any]:
        return self.container.config


class SentMarksProvider(DependencyProvider):
    """Writes the outbox's sent marks in batches, every few tens of milliseconds."""

    FLUSH_SECONDS = 0.05

    def setup(self) -> None:
        self.marks = SentMarks()
        self._running = False

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._flush_loop)

    def _flush_loop(self) -> None:
        while self._running:
            eventlet.sleep(self.FLUSH_SECONDS)
            self.marks.flush()

    def stop(self) -> None:
        self._running = False
        self.marks.flush()

    def get_dependency(self, worker_ctx) -> SentMarks:
        return self.marks


class ServiceBase:
    """Mixin for nameko service classes. Subclasses name their outbox collections."""

    name = "base"
    outbox_collections: tuple[str, ...] = ()

    db = MongoDatabase()
    clock = ClockProvider()
    config = ConfigProvider()
    reference = ReferenceProvider()
    metrics = Metrics()
    publish = reliable_dispatcher()
    topology = Topology(SUBSCRIPTIONS)
    sent_marks = SentMarksProvider()
    request_ids = RequestIdProvider()

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        return self.metrics.exposition()

    @live("GET", "/health/live")
    def health_live(self, request):
        """Liveness, answered without a worker (services/common/health.py)."""

    @ready("GET", "/health")
    @ready("GET", "/health/ready")
    def health_check(self, request):
        """Readiness: the store answers a ping. Answered without a worker."""

    def _relay(self) -> OutboxRelay:
        lease = timedelta(seconds=self.config["outbox"]["lease_seconds"])
        return OutboxRelay([self.db[name] for name in self.outbox_collections],
                           self.publish, lease, self.sent_marks)

    @timer(interval=RELAY_INTERVAL_SECONDS)
    def relay_outbox(self) -> None:
        self._relay().relay_due(self.clock.now())

    @timer(interval=CHASSIS_GAUGES_INTERVAL_SECONDS)
    def refresh_chassis_gauges(self) -> None:
        """Outbox lag and dead letters: read-only, so every replica may refresh them."""
        age = oldest_unsent_age([self.db[name] for name in self.outbox_collections],
                                self.clock.now())
        self.metrics.outbox_oldest_unsent.labels(self.name).set(age)
        today = self.clock.now().date()
        for name, calendar in self.reference.calendars.items():
            if calendar.covered_until is not None:
                self.metrics.calendar_covered_days.labels(name).set(
                    (calendar.covered_until - today).days)
        queues = consumed_dead_letter_queues(self.name, SUBSCRIPTIONS)
        try:
            depths = queue_depths(self.config["AMQP_URI"], queues)
        except (OperationalError, OSError):
            log.warning("dead-letter queue depths unavailable", exc_info=True)
            return  # the last values stay; the broker's own alerts cover its outage
        for queue, depth in depths.items():
            self.metrics.dead_letters.labels(queue).set(depth)

    def claim_until(self, now):
        """End of the lease a writer takes on the events it writes and relays itself."""
        until = now + timedelta(seconds=self.config["outbox"]["lease_seconds"])
        # Mongo keeps milliseconds: the lease must compare equal once stored.
        return until.replace(microsecond=until.microsecond // 1000 * 1000)

    @contextmanager
    def unit(self) -> Iterator[UnitOfWork]:
        """One call's unit of work (services/common/unit_of_work.py), finished here: what
        it wrote is relayed and what it reached is counted, whether the call succeeded or
        not (what was written is in the store either way)."""
        now = self.clock.now()
        uow = UnitOfWork(self.name, now, self.claim_until(now),
                         lambda kind: routed(self.name, kind))
        try:
            yield uow
        finally:
            self._settle(uow)

    def _settle(self, uow: UnitOfWork) -> None:
        for collection, doc_id, events in uow.written:
            self.relay_now(collection, doc_id, events, uow.claim_until)
        for name, labels, amount in uow.counts:
            self._metric(name, labels).inc(amount)
        for name, labels, value in uow.observations:
            self._metric(name, labels).observe(value)
        for reached in uow.milestones:
            if reached.outcome is not None:
                self._metric(reached.outcome, reached.labels).inc()
            if reached.seconds >= 0:
                self._metric("duration", reached.labels).observe(reached.seconds)

    def _metric(self, name: str, labels: tuple[str, ...]):
        metric = getattr(self.metrics, name)
        return metric.labels(*labels) if labels else metric

    def relay_now(self, collection: str, doc_id: Any, events: list[dict], lease_until) -> None:
        """Fast path: publish a document's new events right after the write. If this fails
        or the process dies, the timer above re-sends them once the lease runs out."""
        if events:  # after the reply: the caller does not wait for the broker's confirm
            eventlet.spawn_n(self._relay_claimed, self._relay(), self.db[collection], doc_id,
                             events, lease_until)

    @staticmethod
    def _relay_claimed(relay: OutboxRelay, collection, doc_id, events, lease_until) -> None:
        try:
            relay.relay_claimed(collection, doc_id, events, lease_until)
        except Exception:
            log.warning("immediate relay failed; the outbox timer will retry", exc_info=True)
