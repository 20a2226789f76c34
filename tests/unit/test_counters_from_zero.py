"""Every service's labelled counters are exported at 0 for every label set from start-up,
so the first event is an increase the rules can see."""

import pytest
from prometheus_client import CollectorRegistry, Counter

from services.billing.metrics import billing_metric_definitions
from services.callbacks.metrics import callback_metric_definitions
from services.common.config import load_settings
from services.common.metrics import zeroed
from services.complaints.metrics import complaint_metric_definitions
from services.intake.service import define_metrics as intake_metric_definitions
from services.inventory.metrics import inventory_metric_definitions

SETTINGS = load_settings()


def samples(registry: CollectorRegistry, name: str) -> list:
    return [s for family in registry.collect() for s in family.samples
            if s.name == f"{name}_total"]


@pytest.mark.parametrize(("define", "name", "labels"), [
    (callback_metric_definitions, "aftersales_callbacks_completed",
     {"outcome": "unreachable"}),
    (complaint_metric_definitions, "aftersales_complaints_opened",
     {"category": "charges", "channel": "12315"}),
    (complaint_metric_definitions, "aftersales_complaint_escalations", {"level": "hq"}),
    (complaint_metric_definitions, "aftersales_complaint_penalty_points",
     {"party": "technician"}),
    (intake_metric_definitions, "aftersales_intake_requests",
     {"channel": "hotline", "request_type": "repair", "outcome": "existing"}),
    (billing_metric_definitions, "aftersales_bills", {"coverage": "partial"}),
    (billing_metric_definitions, "aftersales_settlement_amount_fen", {"state": "paid"}),
    (billing_metric_definitions, "aftersales_charge_anomalies",
     {"rule": "charge_on_covered"}),
    (inventory_metric_definitions, "aftersales_stock_movements", {"kind": "consume"}),
])
def test_a_fresh_service_exports_its_counters_at_zero(define, name, labels):
    registry = CollectorRegistry()
    define(registry, SETTINGS)
    found = samples(registry, name)
    for branch in SETTINGS["branches"]:
        assert [s.value for s in found if s.labels == {"branch": branch, **labels}] == [0.0]


def test_zeroed_makes_every_combination():
    registry = CollectorRegistry()
    zeroed(Counter("c", "c", ["a", "b"], registry=registry), ("x", "y"), ("1", "2", "3"))
    assert len(samples(registry, "c")) == 6
