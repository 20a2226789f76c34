"""A parts request retried after a failure part-way holds the part once: where the first
try already holds it, even when that location has no stock left to offer the retry."""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from services.common.unit_of_work import UnitOfWork
from services.inventory.keeper import Keeper
from services.inventory.settings import load_catalogue
from services.inventory.store import InventoryStore, ensure_indexes

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
PART = "GWH-IGN-01"


class FailsOnceAfterHolding(InventoryStore):
    """The hold is in the ledger, then recording it on the job fails (a store outage)."""

    failed = False

    def set_line(self, *args, **kwargs) -> None:
        if not self.failed:
            self.failed = True
            raise AutoReconnect("the primary stepped down")
        super().set_line(*args, **kwargs)


def _keeper(store: InventoryStore) -> Keeper:
    return Keeper(store, load_catalogue({}),
                  UnitOfWork("inventory", NOW, NOW + timedelta(seconds=15)))


def test_a_retried_parts_request_holds_the_part_once(mongo, db_prefix):
    db = mongo[f"{db_prefix}_inventory"]
    ensure_indexes(db)
    keeper = _keeper(InventoryStore(db))
    centre = keeper.catalogue.locations["SH-SC-PD"]
    for location, units in (("SH-SC-PD", 1), ("SH-WH", 5)):  # the nearest has just one
        keeper.receive("SH", {"location": location, "sku": PART, "accepted": units,
                              "rejected": 0}, "test")
    order = {"order_id": "SH-20261120-000123", "branch": "SH", "status": "on_site",
             "technician_id": None, "product": {"category": "gas_water_heater"},
             "lat": centre.lat, "lon": centre.lon}
    request = {"parts": [{"sku": PART, "quantity": 1}], "request_id": "r1"}

    with pytest.raises(AutoReconnect):
        _keeper(FailsOnceAfterHolding(db)).request_parts(order, request, "test")
    job = _keeper(InventoryStore(db)).request_parts(order, request, "test")  # the retry

    assert [(line["state"], line["location"]) for line in job["lines"]] == [
        ("reserved", "SH-SC-PD")]
    held = {doc["location"]: doc["reserved"] for doc in db.stock.find({"sku": PART})}
    assert held == {"SH-SC-PD": 1, "SH-WH": 0}
