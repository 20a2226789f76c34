"""Inventory's metrics (names agreed with monitoring): stock below reorder point and
below safety stock, overdue warranty write-offs, movements, open backorders."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.metrics import zeroed
from services.inventory.domain.ledger import MOVEMENT_KINDS


def inventory_metric_definitions(registry: CollectorRegistry, settings: dict) -> dict:
    metrics = {
        "below_reorder": Gauge("aftersales_stock_below_reorder_items",
                               "Stock items (location x part) below their reorder point",
                               ["branch", "location_kind"], registry=registry),
        "below_safety": Gauge("aftersales_stock_below_safety_items",
                              "Common parts below safety stock (the 欠料 list)", ["branch"],
                              registry=registry),
        "writeoffs_overdue": Gauge("aftersales_warranty_writeoffs_overdue",
                                   "Warranty parts consumed whose old part is overdue",
                                   ["branch"], registry=registry),
        "movements": zeroed(Counter("aftersales_stock_movements_total",
                                    "Stock ledger movements written", ["branch", "kind"],
                                    registry=registry), settings["branches"], MOVEMENT_KINDS),
        "backorders_open": Gauge("aftersales_parts_backorders_open",
                                 "Parts backordered for jobs and not yet in", ["branch"],
                                 registry=registry),
    }
    for branch in settings.get("branches", []):  # every series exists from the start, at 0
        for kind in MOVEMENT_KINDS:
            metrics["movements"].labels(branch, kind)
    return metrics
