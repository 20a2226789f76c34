"""Inventory service: nameko entrypoints only. Owns parts stock, its ledger and the parts
of each job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from nameko.timer import timer

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
from services.common.errors import AppError
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.contracts import load, read_event
from services.inventory import queries
from services.inventory.domain.catalogue import Catalogue
from services.inventory.keeper import Keeper, read_gauges
from services.inventory.metrics import inventory_metric_definitions
from services.inventory.settings import DEFAULT_SETTINGS, load_catalogue
from services.inventory.store import JOBS, STOCK, InventoryStore, ensure_indexes

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

    @contextmanager
    def _keeper(self) -> Iterator[Keeper]:
        with self.unit() as uow:
            yield Keeper(InventoryStore(self.db), self.catalogue, uow)

    @branch_rpc
    def status(self) -> dict:
        self.db.command("ping")
        return {"service": self.name, "ready": True}

    # -- commands ----------------------------------------------------------------------
    @branch_rpc
    def request_parts(self, order: dict, payload: dict, by: str) -> dict:
        """``order``: the dispatch order the gateway checked (branch, holder, status)."""
        with self._keeper() as keeper:
            return keeper.request_parts(order, load(PartsRequestIn(), payload), by)

    @branch_rpc
    def stock_command(self, command: str, payload: dict, branch: str, by: str) -> dict:
        """receive | reserve | release | transfer | purchase | request | count."""
        schema = SCHEMAS.get(command)
        if schema is None:
            raise AppError(f"unknown command {command}")
        with self._keeper() as keeper:
            step = {"receive": keeper.receive, "reserve": keeper.reserve,
                    "release": keeper.release, "transfer": keeper.create_transfer,
                    "purchase": keeper.create_purchase, "request": keeper.create_request,
                    "count": keeper.count}[command]
            return step(branch, load(schema(), payload), by)

    @branch_rpc
    def transfer_step(self, transfer_id: str, step: str, branch: str, by: str) -> dict:
        with self._keeper() as keeper:
            move = {"send": keeper.send_transfer, "receive": keeper.receive_transfer}.get(step)
            if move is None:
                raise AppError(f"unknown transfer step {step}")
            return move(branch, transfer_id, by)

    @branch_rpc
    def decide_request(self, request_id: str, approve: bool, payload: dict, branch: str,
                       by: str) -> dict:
        note = load(DecisionIn(), payload)["note"]
        with self._keeper() as keeper:
            return keeper.decide(branch, request_id, approve, by, note)

    @branch_rpc
    def return_old_part(self, order_id: str, payload: dict, branch: str, by: str) -> dict:
        with self._keeper() as keeper:
            return keeper.return_old_part(branch, order_id, load(OldPartReturnIn(), payload),
                                          by)

    @branch_rpc
    def load_opening_stock(self, branch: str) -> int:
        """Demo data: the configured opening stock, received through the ledger (once)."""
        with self._keeper() as keeper:
            return queries.load_opening_stock(keeper, branch,
                                              read_yaml(self.config.get("inventory_settings")
                                                        or DEFAULT_SETTINGS))

    # -- queries -----------------------------------------------------------------------
    @branch_rpc
    def parts(self) -> list[dict]:
        return queries.parts(self.catalogue)

    @branch_rpc
    def job(self, order_id: str, branch: str) -> dict:
        with self._keeper() as keeper:
            return keeper.job_view(order_id, branch)

    @branch_rpc
    def stock(self, params: dict, branch: str) -> dict:
        with self._keeper() as keeper:
            return queries.stock(keeper, load(StockQuery(), params), branch)

    @branch_rpc
    def movements(self, params: dict, branch: str) -> dict:
        with self._keeper() as keeper:
            return queries.movements(keeper, load(MovementQuery(), params), branch)

    @branch_rpc
    def listing(self, what: str, params: dict, branch: str) -> dict:
        """backorders | transfers | requests | writeoffs, filtered by status / overdue."""
        with self._keeper() as keeper:
            return queries.listing(keeper, what, load(StatusQuery(), params), branch)

    @branch_rpc
    def valuation(self, branch: str) -> dict:
        with self._keeper() as keeper:
            return keeper.valuation(branch)

    # -- events ------------------------------------------------------------------------
    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        event = read_event(envelope, needs=("order_id", "completion"))
        with self._keeper() as keeper:
            keeper.on_completed(event["branch"], event["data"], event["event_id"])

    @reliable_handler("dispatch", "order_cancelled")
    def on_order_cancelled(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._keeper() as keeper:
            keeper.on_cancelled(event["data"]["order_id"])

    # -- timers ------------------------------------------------------------------------
    @timer(interval=10)
    def fill_backorders(self) -> None:
        """Stock freed by releases or adjustments reaches waiting backorders (each claimed
        under a lease, so replicas never fill one twice)."""
        with self._keeper() as keeper:
            for branch in self.config["branches"]:
                keeper.fill_backorders(branch)

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
