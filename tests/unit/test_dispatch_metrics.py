"""The dispatch SLA metrics start every published label set at zero, so Prometheus sees
the first milestone of each as an increase."""

from prometheus_client import CollectorRegistry

from services.common.config import load_settings
from services.dispatch.metrics import sla_metric_definitions


def _samples(registry: CollectorRegistry, name: str) -> list:
    return [s for family in registry.collect() for s in family.samples if s.name == name]


def test_counters_start_at_zero_for_every_published_commitment():
    registry = CollectorRegistry()
    sla_metric_definitions(registry, load_settings(environ={"BRANCH": "SZ"}))
    targets = _samples(registry, "aftersales_commitment_target_seconds")
    for name in ("aftersales_milestone_met_total", "aftersales_milestone_breached_total"):
        samples = _samples(registry, name)
        assert {tuple(sorted(s.labels.items())) for s in samples} == {
            tuple(sorted(s.labels.items())) for s in targets}, name
        assert {s.value for s in samples} == {0.0}
    completed = _samples(registry, "aftersales_orders_completed_total")
    assert {s.labels["branch"] for s in completed} == {"SZ"}
    assert {s.labels["zone"] for s in completed} == {"intensive", "standard", "remote"}
    offers = _samples(registry, "aftersales_dispatch_offers_total")
    assert [(s.labels, s.value) for s in offers] == [({"branch": "SZ"}, 0.0)]
