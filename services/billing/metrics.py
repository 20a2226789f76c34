"""Billing's metrics (names agreed with monitoring)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from services.billing.domain.checks import RULES
from services.common.metrics import zeroed

COVERAGES = ("full", "partial", "none")
SETTLEMENT_STATES = ("pending", "released", "withheld", "paid")


def billing_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    branches = settings["branches"]
    return {
        "anomalies": zeroed(Counter("aftersales_charge_anomalies_total",
                                    "Abnormal charges detected (收费异常), by rule",
                                    ["branch", "rule"], registry=registry), branches, RULES),
        "bills": zeroed(Counter("aftersales_bills_total",
                                "Settlement statements made at completion, by the customer's "
                                "coverage (full: pays nothing, partial, none)",
                                ["branch", "coverage"], registry=registry),
                        branches, COVERAGES),
        "settlement": zeroed(Counter("aftersales_settlement_amount_fen_total",
                                     "Service-centre earnings in fen as they reach each state "
                                     "(pending, released, withheld by a reviewer, paid)",
                                     ["branch", "state"],
                                     registry=registry), branches, SETTLEMENT_STATES),
    }
