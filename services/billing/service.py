"""Billing service: nameko entrypoints only. Owns quotes, bills, payments, refunds,
abnormal-charge detection and service-centre settlement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from schemas.billing import (
    AnomalyOut,
    AnomalyQuery,
    ApprovalIn,
    BillingFacts,
    BillOut,
    BillQuery,
    DecisionIn,
    EarningOut,
    EarningQuery,
    EarningReviewIn,
    PaymentIn,
    QuoteIn,
    QuoteOut,
    RefundIn,
    SettlementRunIn,
    StatementOut,
)
from services.billing.biller import Biller
from services.billing.domain.schedule import FeeSchedule
from services.billing.metrics import billing_metric_definitions
from services.billing.store import ANOMALIES, BILLS, EARNINGS, BillingStore, ensure_indexes
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.config import read_yaml
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.contracts import load, plain, read_event

DEFAULT_FEE_SCHEDULE = "deploy/config/fee_schedule.yaml"
DEFAULT_PARTS_CATALOGUE = "deploy/config/parts_catalogue.yaml"


@lru_cache(maxsize=4)
def load_schedule(schedule_path: str, catalogue_path: str) -> FeeSchedule:
    return FeeSchedule(read_yaml(schedule_path), read_yaml(catalogue_path)["parts"])


class ScheduleProvider(DependencyProvider):
    """The national fee schedule and parts catalogue, loaded and checked at start-up."""

    def setup(self) -> None:
        config = self.container.config
        self.schedule = load_schedule(config.get("fee_schedule", DEFAULT_FEE_SCHEDULE),
                                      config.get("parts_catalogue", DEFAULT_PARTS_CATALOGUE))

    def get_dependency(self, worker_ctx) -> FeeSchedule:
        return self.schedule


def _out(schema, doc: dict, id_key: str) -> dict:
    resource = {k: plain(v) for k, v in doc.items() if not k.startswith("outbox")}
    resource[id_key] = doc["_id"]
    return schema.dump(resource)


_QUOTE_OUT, _BILL_OUT, _ANOMALY_OUT = QuoteOut(), BillOut(), AnomalyOut()
_EARNING_OUT, _STATEMENT_OUT = EarningOut(), StatementOut()


class BillingService(ServiceBase):
    name = "billing"
    outbox_collections = (BILLS, ANOMALIES)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(billing_metric_definitions)
    schedule = ScheduleProvider()

    # -- plumbing --------------------------------------------------------------------
    @contextmanager
    def _biller(self) -> Iterator[Biller]:
        with self.unit() as uow:
            yield Biller(BillingStore(self.db), self.schedule, uow)

    @branch_rpc
    def status(self) -> dict:
        self.db.command("ping")
        return {"service": self.name, "ready": True}

    # -- events ----------------------------------------------------------------------
    @reliable_handler("intake", "order_created")
    def on_order_created(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._biller() as biller:
            biller.record_order(event["data"])

    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._biller() as biller:
            biller.bill_completion(event, event["data"])

    @reliable_handler("inventory", "parts_consumed")
    def on_parts_consumed(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._biller() as biller:
            biller.parts_consumed(event, event["data"])

    @reliable_handler("callbacks", "callback_done")
    def on_callback_done(self, envelope: dict) -> None:
        event = read_event(envelope, needs=("order_id",))  # the order and the answers given
        with self._biller() as biller:
            biller.callback_done(event, event["data"])

    @reliable_handler("complaints", "refund_requested")
    def on_refund_requested(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._biller() as biller:
            biller.refund_requested(event, event["data"])

    @timer(interval=5)
    def sweep_unconsumed_parts(self) -> None:
        with self._biller() as biller:
            biller.sweep_unconsumed()

    # -- quotes and the completion check ---------------------------------------------
    @branch_rpc
    def check_completion(self, order_id: str, branch: str, facts: dict) -> dict:
        with self._biller() as biller:
            return biller.check_completion(order_id, load(BillingFacts(), facts))

    @branch_rpc
    def create_quote(self, payload: dict, branch: str, actor: dict) -> dict:
        with self._biller() as biller:
            quote = biller.make_quote(load(QuoteIn(), payload), branch, actor)
        return _out(_QUOTE_OUT, quote, "quote_id")

    @branch_rpc
    def approve_quote(self, quote_id: str, payload: dict, branch: str, actor: dict) -> dict:
        approval = load(ApprovalIn(), payload)
        with self._biller() as biller:
            quote = biller.approve_quote(quote_id, branch, approval, actor)
        return _out(_QUOTE_OUT, quote, "quote_id")

    @branch_rpc
    def get_quote(self, quote_id: str, branch: str, actor: dict) -> dict:
        with self._biller() as biller:
            quote = biller._own_quote(quote_id, branch, actor)
        return _out(_QUOTE_OUT, quote, "quote_id")

    # -- bills -----------------------------------------------------------------------
    @branch_rpc
    def get_bill(self, bill_id: str, branch: str, actor: dict) -> dict:
        with self._biller() as biller:
            bill = biller._bill(bill_id, branch, actor)
        return _out(_BILL_OUT, bill, "bill_id")

    @branch_rpc
    def list_bills(self, params: dict, branch: str) -> dict:
        return self._page(BILLS, branch, load(BillQuery(), params), ("status", "order_id"),
                          "completed_at", _BILL_OUT, "bill_id")

    @branch_rpc
    def pay_bill(self, bill_id: str, payload: dict, branch: str, actor: dict) -> dict:
        with self._biller() as biller:
            bill = biller.pay(bill_id, branch, load(PaymentIn(), payload), actor)
        return _out(_BILL_OUT, bill, "bill_id")

    @branch_rpc
    def request_refund(self, bill_id: str, payload: dict, branch: str, actor: dict) -> dict:
        with self._biller() as biller:
            bill = biller.request_refund(bill_id, branch, load(RefundIn(), payload), actor)
        return _out(_BILL_OUT, bill, "bill_id")

    @branch_rpc
    def decide_refund(self, bill_id: str, refund_id: str, approve: bool, payload: dict,
                      branch: str, actor: dict) -> dict:
        note = load(DecisionIn(), payload)["note"]
        with self._biller() as biller:
            bill = biller.decide_refund(bill_id, branch, refund_id, approve, note, actor)
        return _out(_BILL_OUT, bill, "bill_id")

    # -- anomalies and settlement ----------------------------------------------------
    @branch_rpc
    def list_anomalies(self, params: dict, branch: str) -> dict:
        return self._page(ANOMALIES, branch, load(AnomalyQuery(), params),
                          ("rule", "order_id"), "detected_at", _ANOMALY_OUT, "anomaly_id")

    @branch_rpc
    def list_earnings(self, params: dict, branch: str) -> dict:
        return self._page(EARNINGS, branch, load(EarningQuery(), params),
                          ("service_centre_id", "state"), "created_at", _EARNING_OUT,
                          "order_id")

    @branch_rpc
    def review_earning(self, order_id: str, payload: dict, branch: str, actor: dict
                       ) -> dict:
        review = load(EarningReviewIn(), payload)
        with self._biller() as biller:
            earning = biller.review_earning(order_id, branch, review, actor)
        return _out(_EARNING_OUT, earning, "order_id")

    @branch_rpc
    def run_settlement(self, payload: dict, branch: str) -> dict:
        month = load(SettlementRunIn(), payload)["month"]
        lease = timedelta(seconds=self.config["outbox"]["lease_seconds"])
        with self._biller() as biller:
            ids = biller.run_settlement(branch, month, lease)
        docs = BillingStore(self.db).statements_of(branch, ids)
        return {"month": month, "items": [_out(_STATEMENT_OUT, d, "statement_id")
                                          for d in docs]}

    @branch_rpc
    def list_statements(self, branch: str) -> dict:
        docs = BillingStore(self.db).statements_of(branch)
        return {"items": [_out(_STATEMENT_OUT, d, "statement_id") for d in docs]}

    @branch_rpc
    def pay_statement(self, statement_id: str, branch: str) -> dict:
        with self._biller() as biller:
            statement = biller.pay_statement(statement_id, branch)
        return _out(_STATEMENT_OUT, statement, "statement_id")

    @branch_rpc
    def fee_schedule(self) -> dict:
        """The version in force now, in fen, for display."""
        version = self.schedule.version_at(self.clock.now())
        return {"version": version.version,
                "effective_from": version.effective_from.isoformat(),
                "visit_fen": version.visit_fen, "inspection_fen": version.inspection_fen,
                "remote": {"free_radius_km": str(version.free_radius_km),
                           "per_km_fen": version.per_km_fen},
                "labour": version.labour,
                "customer_parts_at": version.customer_parts_at,
                "parts": {sku: {"name": p.name,
                                "list_fen": version.part_prices[sku].list_fen,
                                "cost_fen": version.part_prices[sku].cost_fen,
                                "compatible_categories": list(p.compatible_categories),
                                "main_part": p.main_part}
                          for sku, p in self.schedule.parts.items()}}

    def _page(self, name: str, branch: str, query_in: dict, keys: tuple[str, ...],
              sort: str, schema, id_key: str) -> dict:
        total, docs = BillingStore(self.db).page(name, branch, query_in, keys, sort)
        return {"total": total, "page": query_in["page"], "page_size": query_in["page_size"],
                "items": [_out(schema, doc, id_key) for doc in docs]}
