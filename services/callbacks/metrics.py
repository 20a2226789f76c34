"""Callback metrics: the callback commitment under the shared milestone names, outcomes,
and the month's rates per branch."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.callbacks import OUTCOMES
from schemas.orders import DISPATCHED_TYPES, PRIORITIES, ZONES
from services.callbacks.base import MILESTONE
from services.common.metrics import milestone_metrics, zeroed
from services.common.reference import load_reference

RATES = {
    "satisfaction": ("aftersales_callback_satisfaction_ratio",
                     "Satisfied (4-5) among reached callbacks this month; target >= 0.85"),
    "first_time_fix": ("aftersales_first_time_fix_ratio",
                       "Fixed at the first visit among reached first-visit callbacks, month"),
    "repeat_repair": ("aftersales_repeat_repair_ratio",
                      "Not fixed (repeat repair) among reached callbacks this month"),
    "unreachable": ("aftersales_callback_unreachable_ratio",
                    "Unreachable among finished callbacks this month"),
    "audit_discrepancy": ("aftersales_audit_discrepancy_ratio",
                          "HQ re-calls contradicting the branch's record this month"),
}


def callback_targets(settings: dict) -> list[tuple[tuple[str, ...], float]]:
    """Every published callback commitment (fails on start if one does not parse)."""
    reference = load_reference(settings["reference_data"])
    found = []
    for branch in settings["branches"]:
        for zone in ZONES:
            for request_type in DISPATCHED_TYPES:
                for priority in PRIORITIES:
                    rule = reference.commitments.rule(branch, zone, request_type, priority,
                                                      MILESTONE)
                    if rule is not None:
                        found.append(((branch, zone, MILESTONE, request_type, priority),
                                      rule.target_seconds))
    return found


def callback_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    metrics = {
        **milestone_metrics(registry, callback_targets(settings),
                            "Time from completion to the callback's outcome; bucket edges "
                            "are the commitment thresholds", 259200.0),
        "completed": zeroed(Counter("aftersales_callbacks_completed_total",
                                    "Callbacks finished, by outcome", ["branch", "outcome"],
                                    registry=registry), settings["branches"], OUTCOMES),
        "created": Counter("aftersales_callback_tasks_created_total",
                           "Callback tasks created (orders and schedules)", registry=registry),
    }
    for key, (name, text) in RATES.items():
        metrics[key] = Gauge(name, text, ["branch"], registry=registry)
    return metrics
