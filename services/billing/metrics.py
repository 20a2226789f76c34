"""Billing's metrics (names agreed with monitoring)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


def billing_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    return {
        "anomalies": Counter("aftersales_charge_anomalies_total",
                             "Abnormal charges detected (收费异常), by rule",
                             ["branch", "rule"], registry=registry),
        "bills": Counter("aftersales_bills_total",
                         "Settlement statements made at completion, by the customer's "
                         "coverage (full: pays nothing, partial, none)",
                         ["branch", "coverage"], registry=registry),
        "settlement": Counter("aftersales_settlement_amount_fen_total",
                              "Service-centre earnings in fen as they reach each state "
                              "(pending, released, paid)", ["branch", "state"],
                              registry=registry),
    }
