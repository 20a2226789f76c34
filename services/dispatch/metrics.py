"""The SLA metrics: histograms with bucket edges on the commitment thresholds, met/breached
counters, overdue and at-risk gauges, and the commitments themselves as gauges."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.orders import DISPATCHED_TYPES, PRIORITIES, ZONES
from services.common.metrics import MILESTONE_LABELS, milestone_metrics
from services.common.reference import load_reference
from services.dispatch.domain.ledger import CAUSES

LABELS = MILESTONE_LABELS
DISPATCH_MILESTONES = ("first_contact", "arrival", "resolution")  # the order's own


def sla_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    reference = load_reference(settings["reference_data"])
    branches = settings["branches"]
    published = list(reference.commitments.published(branches, ZONES, DISPATCHED_TYPES,
                                                     PRIORITIES))
    milestones = milestone_metrics(
        registry, published, "Time from received to milestone, in the milestone's "
        "calendar; bucket edges are the commitment thresholds", 86400.0)
    counters = _counters(registry)
    for (branch, zone, _, request_type, _), _ in published:  # every label set from 0
        counters["completed"].labels(branch, zone, request_type)
    definitions = {
        **milestones, **counters,
        "overdue": Gauge("aftersales_open_overdue_orders",
                         "Open orders past a milestone's deadline", LABELS, registry=registry),
        "at_risk": Gauge("aftersales_open_at_risk_orders",
                         "Open orders past most of a milestone's window", LABELS,
                         registry=registry),
        "queued": Gauge("aftersales_dispatch_queued_orders", "Orders waiting for a technician",
                        ["branch"], registry=registry),
        "forecast_late": Gauge(
            "aftersales_dispatch_forecast_late_orders", "Open orders forecast to arrive "
            "after their arrival deadline: held ones from the holder's list, queued ones as "
            "the queue will be served (domain/forecast.py); the last pass", ["branch"],
            registry=registry),
        "unaccepted_emergencies": Gauge(
            "aftersales_dispatch_unaccepted_emergencies", "Emergencies nobody has accepted "
            "by their first-contact deadline (new, offered or escalated): a supervisor is "
            "paged", ["branch"], registry=registry),
        "unqualified": Gauge(
            "aftersales_dispatch_unqualified_orders", "Queued orders no technician of the "
            "branch is qualified for (certificates, zone; load and shift aside): they wait "
            "until one is registered or updated", ["branch"], registry=registry),
        "delay_seconds": Counter(
            "aftersales_milestone_delay_seconds", "Time from received to a milestone "
            "reached, in the milestone's calendar, by cause (the order's delay ledger)",
            ["branch", "milestone", "cause"], registry=registry),
        "parts_wait_seconds": Counter(
            "aftersales_milestone_parts_wait_seconds", "Of the delay ledger's parts time, "
            "by who was awaited: a warehouse or service centre (its location id), the "
            "supplier, or unknown (before inventory said)",
            ["branch", "milestone", "source"], registry=registry),
        "reoffered": Counter(
            "aftersales_dispatch_reoffers_total", "Orders forecast late offered to a "
            "technician who would make it", ["branch"], registry=registry),
        "received_to_offered": Histogram(
            "aftersales_received_to_offered_seconds", "From received to first offer",
            ["branch"], registry=registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600)),
    }
    for branch in branches:
        for milestone in DISPATCH_MILESTONES:
            for cause in CAUSES:
                definitions["delay_seconds"].labels(branch, milestone, cause)
            for source in ("supplier", "unknown"):  # locations appear with their first wait
                definitions["parts_wait_seconds"].labels(branch, milestone, source)
        definitions["offers"].labels(branch)
        definitions["reoffered"].labels(branch)
        definitions["forecast_late"].labels(branch)
        definitions["unaccepted_emergencies"].labels(branch)
        definitions["unqualified"].labels(branch)
    return definitions


def _counters(registry: CollectorRegistry) -> dict[str, Counter]:
    return {
        "completed": Counter("aftersales_orders_completed_total", "Orders completed",
                             ["branch", "zone", "request_type"], registry=registry),
        "offers": Counter("aftersales_dispatch_offers_total", "Offers made", ["branch"],
                          registry=registry),
    }
