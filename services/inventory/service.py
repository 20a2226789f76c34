"""Inventory service: nameko entrypoints only. Owns parts stock, its ledger and the parts
of each job."""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from schemas.events import EventEnvelope
from schemas.inventory import (
    CountIn,
    DecisionIn,
    MovementQuery,
    OldPartReturnIn,
    PartsRequestIn,
    PurchaseIn,
    ReceiptIn,
    ReservationIn,
    StatusQuery,
    StockQuery,
    StockRequestIn,
    TransferIn,
)
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.config import read_yaml
from services.common.contracts import load
from services.common.errors import AppError
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.inventory import queries
from services.inventory.domain.catalogue import Catalogue
from services.inventory.keeper import Keeper, read_gauges
from services.inventory.metrics import inventory_metric_definitions
from services.inventory.settings import DEFAULT_SETTINGS, load_catalogue
from services.inventory.store import JOBS, STOCK, InventoryStore, ensure_indexes

_ENVELOPE = EventEnvelope()
SCHEMAS = {"receive": ReceiptIn, "reserve": ReservationIn, "release": ReservationIn,
           "transfer": TransferIn, "purchase": PurchaseIn, "request": StockRequestIn,
           "count": CountIn}


class CatalogueProvider(DependencyProvider):
    def setup(self) -> None:
        self.catalogue = load_catalogue(self.container.config)

    def get_dependency(self, worker_ctx) -> Catalogue:
        return self.catalogue


class InventoryService(ServiceBase):
    name = "inventory"
    outbox_collections = (JOBS, STOCK)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(inventory_metric_definitions)
    catalogue = CatalogueProvider()

    def _keeper(self) -> Keeper:
        now = self.clock.now()
        return Keeper(InventoryStore(self.db), self.catalogue, now, self.claim_until(now))

    def _finish(self, keeper: Keeper) -> None:
        for collection, doc_id, events in keeper.effects.written:
            self.relay_now(collection, doc_id, events, keeper.claim_until)
        for branch, kind in keeper.effects.movements:
            self.metrics.movements.labels(branch, kind).inc()

    def _run(self, method: str, *args):
        keeper = self._keeper()
        try:
            return getattr(keeper, method)(*args)
        finally:
            self._finish(keeper)

    @branch_rpc
    def status(self) -> dict:
        self.db.command("ping")
        return {"service": self.name, "ready": True}

    # -- commands ----------------------------------------------------------------------
    @branch_rpc
    def request_parts(self, order: dict, payload: dict, by: str) -> dict:
        """``order``: the dispatch order the gateway checked (branch, holder, status)."""
        return self._run("request_parts", order, load(PartsRequestIn(), payload), by)

    @branch_rpc
    def stock_command(self, command: str, payload: dict, branch: str, by: str) -> dict:
        """receive | reserve | release | transfer | purchase | request | count."""
        schema = SCHEMAS.get(command)
        if schema is None:
            raise AppError(f"unknown command {command}")
        method = {"transfer": "create_transfer", "purchase": "create_purchase",
                  "request": "create_request"}.get(command, command)
        return self._run(method, branch, load(schema(), payload), by)

    @branch_rpc
    def transfer_step(self, transfer_id: str, step: str, branch: str, by: str) -> dict:
        if step not in ("send", "receive"):
            raise AppError(f"unknown transfer step {step}")
        return self._run(f"{step}_transfer", branch, transfer_id, by)

    @branch_rpc
    def decide_request(self, request_id: str, approve: bool, payload: dict, branch: str,
                       by: str) -> dict:
        note = load(DecisionIn(), payload)["note"]
        return self._run("decide", branch, request_id, approve, by, note)

    @branch_rpc
    def return_old_part(self, order_id: str, payload: dict, branch: str, by: str) -> dict:
        return self._run("return_old_part", branch, order_id, load(OldPartReturnIn(), payload),
                         by)

    @branch_rpc
    def load_opening_stock(self, branch: str) -> int:
        """Demo data: the configured opening stock, received through the ledger (once)."""
        keeper = self._keeper()
        try:
            return queries.load_opening_stock(keeper, branch,
                                              read_yaml(self.config.get("inventory_settings")
                                                        or DEFAULT_SETTINGS))
        finally:
            self._finish(keeper)

    # -- queries -----------------------------------------------------------------------
    @branch_rpc
    def parts(self) -> list[dict]:
        return queries.parts(self.catalogue)

    @branch_rpc
    def job(self, order_id: str, branch: str) -> dict:
        return self._keeper().job_view(order_id, branch)

    @branch_rpc
    def stock(self, params: dict, branch: str) -> dict:
        return queries.stock(self._keeper(), load(StockQuery(), params), branch)

    @branch_rpc
    def movements(self, params: dict, branch: str) -> dict:
        return queries.movements(self._keeper(), load(MovementQuery(), params), branch)

    @branch_rpc
    def listing(self, what: str, params: dict, branch: str) -> dict:
        """backorders | transfers | requests | writeoffs, filtered by status / overdue."""
        return queries.listing(self._keeper(), what, load(StatusQuery(), params), branch)

    @branch_rpc
    def valuation(self, branch: str) -> dict:
        return self._keeper().valuation(branch)

    # -- events ------------------------------------------------------------------------
    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        event = _ENVELOPE.load(envelope)
        keeper = self._keeper()
        try:
            keeper.on_completed(event["branch"], event["data"], event["event_id"])
        finally:
            self._finish(keeper)

    @reliable_handler("dispatch", "order_cancelled")
    def on_order_cancelled(self, envelope: dict) -> None:
        event = _ENVELOPE.load(envelope)
        keeper = self._keeper()
        try:
            keeper.on_cancelled(event["data"]["order_id"])
        finally:
            self._finish(keeper)

    # -- timers ------------------------------------------------------------------------
    @timer(interval=10)
    def fill_backorders(self) -> None:
        """Stock freed by releases or adjustments reaches waiting backorders (each claimed
        under a lease, so replicas never fill one twice)."""
        keeper = self._keeper()
        try:
            for branch in self.config["branches"]:
                keeper.fill_backorders(branch)
        finally:
            self._finish(keeper)

    @timer(interval=5)
    def refresh_gauges(self) -> None:
        gauges = read_gauges(InventoryStore(self.db), self.catalogue, self.config["branches"],
                             self.clock.now())
        for (branch, kind), count in gauges.below_reorder.items():
            self.metrics.below_reorder.labels(branch, kind).set(count)
        for name in ("below_safety", "writeoffs_overdue", "backorders_open"):
            gauge = getattr(self.metrics, name)
            for branch, count in getattr(gauges, name).items():
                gauge.labels(branch).set(count)
