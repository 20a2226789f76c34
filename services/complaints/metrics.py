"""Complaint metrics: the milestone counters and histogram under the names dispatch uses
(milestone="complaint_ack" / "complaint_investigation"), complaints opened, escalations,
penalty points and the complaint rate."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.complaints import AUTO_CHANNELS
from schemas.orders import CHANNELS
from services.common.metrics import milestone_metrics, zeroed
from services.common.reference import load_reference
from services.complaints.desk import REQUEST_TYPE, ZONE
from services.complaints.domain.rules import (
    CATEGORIES,
    LEVELS,
    MILESTONES,
    SERVICE_RESPONSIBILITY,
    SEVERITIES,
)


def complaint_targets(settings: dict) -> list[tuple[tuple[str, ...], float]]:
    """Every published complaint commitment, per branch and severity."""
    commitments = load_reference(settings["reference_data"]).commitments
    found = []
    for branch in settings["branches"]:
        for severity in SEVERITIES:
            for milestone in MILESTONES:
                rule = commitments.rule(branch, ZONE, REQUEST_TYPE, severity, milestone)
                if rule is not None:
                    found.append(((branch, ZONE, milestone, REQUEST_TYPE, severity),
                                  rule.target_seconds))
    return found


def complaint_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    branches = settings["branches"]
    return {
        **milestone_metrics(registry, complaint_targets(settings),
                            "Time from opening to milestone, in the milestone's calendar; "
                            "bucket edges are the commitment thresholds", 86400.0),
        "opened": zeroed(Counter("aftersales_complaints_opened_total", "Complaints opened",
                                 ["branch", "category", "channel"], registry=registry),
                         branches, CATEGORIES, (*CHANNELS, *AUTO_CHANNELS)),
        "escalations": zeroed(Counter("aftersales_complaint_escalations_total",
                                      "Complaints moved up the ladder (supervisor, hq)",
                                      ["branch", "level"], registry=registry),
                              branches, LEVELS[1:]),
        "penalties": zeroed(Counter(
            "aftersales_complaint_penalty_points_total",
            "Penalty points recorded for complaints taken above the branch",
            ["branch", "party"], registry=registry), branches, SERVICE_RESPONSIBILITY),
        "rate": Gauge("aftersales_complaint_rate_ratio",
                      "Service-responsibility complaints / completed orders, this month",
                      ["branch"], registry=registry),
    }
