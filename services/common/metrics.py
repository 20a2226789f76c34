"""Prometheus metrics per service container.

Each container owns a ``CollectorRegistry`` (no global registry, so several containers in
one test process never collide). Every entrypoint's latency and errors are recorded by
worker hooks; the service exposes ``GET /metrics`` on its own port.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class ServiceMetrics:
    """What a worker sees: the registry plus the service's own named metrics."""

    def __init__(self, registry: CollectorRegistry, custom: dict[str, Any]) -> None:
        self.registry = registry
        self.custom = custom

    def __getattr__(self, name: str) -> Any:
        try:
            return self.custom[name]
        except KeyError:
            raise AttributeError(name) from None

    def exposition(self) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest(self.registry).decode()


MILESTONE_LABELS = ["branch", "zone", "milestone", "request_type", "priority"]


def milestone_metrics(registry: CollectorRegistry,
                      targets: list[tuple[tuple[str, ...], float]], duration_help: str,
                      default_bucket: float) -> dict[str, Any]:
    """The commitment metrics, one set of names for every service that measures
    commitments (dispatch, callbacks, complaints; told apart by the milestone label): the
    published targets as gauges, met and breached counters, and the time taken with bucket
    edges on the targets. Each published label set starts at 0: Prometheus takes a
    series' first sample as its start, so a counter born at 1 would hide its first
    milestone from rate() and the SLO rules."""
    commitment = Gauge("aftersales_commitment_target_seconds",
                       "Published commitment per milestone", MILESTONE_LABELS,
                       registry=registry)
    met = Counter("aftersales_milestone_met_total", "Milestones reached in time",
                  MILESTONE_LABELS, registry=registry)
    breached = Counter("aftersales_milestone_breached_total",
                       "Milestones whose deadline passed (counted at the deadline)",
                       MILESTONE_LABELS, registry=registry)
    delayed = Counter("aftersales_milestone_met_after_approved_delay_total",
                      "Milestones reached after their published deadline, by a later one a "
                      "supervisor approved with the customer informed (neither met nor "
                      "breached)", MILESTONE_LABELS, registry=registry)
    for labels, seconds in targets:
        commitment.labels(*labels).set(seconds)
        met.labels(*labels)
        breached.labels(*labels)
        delayed.labels(*labels)
    duration = Histogram("aftersales_milestone_duration_seconds", duration_help,
                         MILESTONE_LABELS, registry=registry,
                         buckets=sorted({seconds for _, seconds in targets})
                         or (default_bucket,))
    return {"commitment": commitment, "met": met, "breached": breached,
            "met_after_approved_delay": delayed, "duration": duration}


def zeroed(counter: Counter, *values: Iterable[str]) -> Counter:
    """Every label set of ``counter`` (one iterable of values per label) exported at 0
    from start-up: the first event then shows as an increase (``increase()`` and the
    burn-rate rules see nothing of a series that appears already at 1)."""
    for labels in itertools.product(*values):
        counter.labels(*labels)
    return counter


def chassis_gauges(registry: CollectorRegistry) -> dict[str, Gauge]:
    """Gauges every service refreshes from a timer (ServiceBase.refresh_chassis_gauges)."""
    return {
        "outbox_oldest_unsent": Gauge(
            "aftersales_outbox_oldest_unsent_seconds",
            "Age of the oldest outbox entry not yet published (0 when none waits)",
            ["service"], registry=registry),
        "dead_letters": Gauge(
            "aftersales_dead_letter_messages",
            "Messages in the dead-letter queues of the queues this service consumes",
            ["queue"], registry=registry),
        "calendar_covered_days": Gauge(
            "aftersales_calendar_covered_days",
            "Days from today to the last day a calendar's statutory holidays are known "
            "(past it, every weekday counts as worked)",
            ["calendar"], registry=registry),
    }


def runtime_collectors(registry: CollectorRegistry) -> None:
    """The process's CPU, memory, open files and start time, Python's version and garbage
    collections: prometheus_client's own collectors, read at scrape time (nothing on the
    hot path). They read the running process, so sharing them across registries is safe."""
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)


class Metrics(DependencyProvider):
    def __init__(self, define: Callable[[CollectorRegistry, dict], dict[str, Any]] | None = None):
        self.define = define
        self._started: dict[Any, float] = {}

    def register(self, registry: CollectorRegistry, config: dict) -> dict[str, Any]:
        """Every metric this service exports, registered in ``registry`` (also what the
        dashboard test reads to learn the names the code really exports)."""
        metrics: dict[str, Any] = {
            "latency": Histogram(
                "aftersales_entrypoint_duration_seconds", "Entrypoint latency",
                ["service", "entrypoint", "kind"], registry=registry, buckets=LATENCY_BUCKETS),
            "errors": Counter(
                "aftersales_entrypoint_errors_total", "Entrypoints that raised",
                ["service", "entrypoint", "kind", "error"], registry=registry),
            **chassis_gauges(registry),
        }
        runtime_collectors(registry)
        if self.define:
            metrics.update(self.define(registry, config))
        return metrics

    def setup(self) -> None:
        self.registry = CollectorRegistry()
        self.service = self.container.service_name
        custom = self.register(self.registry, self.container.config)
        self.latency, self.errors = custom.pop("latency"), custom.pop("errors")
        self.handle = ServiceMetrics(self.registry, custom)

    def get_dependency(self, worker_ctx) -> ServiceMetrics:
        return self.handle

    def worker_setup(self, worker_ctx) -> None:
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:
        started = self._started.pop(worker_ctx, None)
        entrypoint = worker_ctx.entrypoint
        name = entrypoint.method_name
        kind = type(entrypoint).__name__
        if started is not None:
            self.latency.labels(self.service, name, kind).observe(time.perf_counter() - started)
        if exc_info is not None:
            self.errors.labels(self.service, name, kind, exc_info[0].__name__).inc()

    def worker_teardown(self, worker_ctx) -> None:
        self._started.pop(worker_ctx, None)
