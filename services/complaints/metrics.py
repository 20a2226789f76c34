"""Complaint metrics: the milestone counters and histogram under the names dispatch uses
(milestone="complaint_ack" / "complaint_investigation"), complaints opened, escalations,
penalty points and the complaint rate."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.reference import load_reference
from services.complaints.desk import REQUEST_TYPE, ZONE
from services.complaints.domain.rules import MILESTONES, SEVERITIES

LABELS = ["branch", "zone", "milestone", "request_type", "priority"]


def complaint_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    commitments = load_reference(settings["reference_data"]).commitments
    commitment = Gauge("aftersales_commitment_target_seconds",
                       "Published commitment per milestone", LABELS, registry=registry)
    thresholds = set()
    for branch in settings["branches"]:
        for severity in SEVERITIES:
            for milestone in MILESTONES:
                rule = commitments.rule(branch, ZONE, REQUEST_TYPE, severity, milestone)
                if rule is not None:
                    commitment.labels(branch, ZONE, milestone, REQUEST_TYPE,
                                      severity).set(rule.target_seconds)
                    thresholds.add(rule.target_seconds)
    return {
        "duration": Histogram(
            "aftersales_milestone_duration_seconds",
            "Time from opening to milestone, in the milestone's calendar; bucket edges are "
            "the commitment thresholds", LABELS, registry=registry,
            buckets=sorted(thresholds) or (86400,)),
        "met": Counter("aftersales_milestone_met_total", "Milestones reached in time", LABELS,
                       registry=registry),
        "breached": Counter("aftersales_milestone_breached_total",
                            "Milestones whose deadline passed (counted at the deadline)",
                            LABELS, registry=registry),
        "opened": Counter("aftersales_complaints_opened_total", "Complaints opened",
                          ["branch", "category", "channel"], registry=registry),
        "escalations": Counter("aftersales_complaint_escalations_total",
                               "Complaints moved up the ladder (supervisor, hq)",
                               ["branch", "level"], registry=registry),
        "penalties": Counter("aftersales_complaint_penalty_points_total",
                             "Penalty points recorded for complaints taken above the branch",
                             ["branch", "party"], registry=registry),
        "rate": Gauge("aftersales_complaint_rate_ratio",
                      "Service-responsibility complaints / completed orders, this month",
                      ["branch"], registry=registry),
    }
