"""Intake service: nameko entrypoints only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter

from schemas.customers import CustomerOut, CustomerPage, CustomerQuery, MergeIn, PhoneIn
from schemas.feeds import FeedRequestIn
from schemas.orders import CHANNELS, REQUEST_TYPES, ServiceRequestIn
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.errors import NotFound
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics, zeroed
from services.common.mongo import MongoDatabase
from services.contracts import dump_order, load, plain, read_event
from services.intake.customer_file import CustomerFile
from services.intake.customer_store import CustomerStore
from services.intake.desk import IntakeDesk
from services.intake.domain.customers import fault_found
from services.intake.feeds import decode_body, feed_consumer
from services.intake.numbering import OrderNumbersProvider
from services.intake.store import REQUESTS, IntakeStore, ensure_indexes

_REQUEST_IN = ServiceRequestIn()
_FEED_IN = FeedRequestIn()
_PHONE_IN = PhoneIn()
_CUSTOMER_QUERY = CustomerQuery()
_MERGE_IN = MergeIn()
_CUSTOMER_OUT = CustomerOut()
_CUSTOMER_PAGE = CustomerPage()


def define_metrics(registry: CollectorRegistry, settings: dict) -> dict:
    requests = Counter("aftersales_intake_requests_total",
                       "Requests received, by outcome (created or existing order)",
                       ["branch", "channel", "request_type", "outcome"], registry=registry)
    return {"requests": zeroed(requests, settings["branches"], CHANNELS, REQUEST_TYPES,
                               ("created", "existing"))}


class IntakeService(ServiceBase):
    name = "intake"
    outbox_collections = (REQUESTS,)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(define_metrics)
    order_numbers = OrderNumbersProvider()

    @contextmanager
    def _desk(self) -> Iterator[IntakeDesk]:
        with self.unit() as uow:
            yield IntakeDesk(IntakeStore(self.db), self.reference, self.config["branches"],
                             uow, self.order_numbers, self._customers())

    def _customers(self) -> CustomerFile:
        return CustomerFile(CustomerStore(self.db), IntakeStore(self.db))

    @branch_rpc
    def create_request(self, payload: dict, acting_branch: str | None = None,
                       agent: str | None = None) -> dict:
        """``agent``: who took the request (the gateway's caller), kept with an override."""
        return self._take(load(_REQUEST_IN, payload), acting_branch, agent)

    @feed_consumer()
    def on_feed_request(self, body, properties: dict) -> dict:
        """A CTI system's request from the ``intake.requests`` queue (see schemas/feeds.py);
        returns the answer sent to ``reply_to``. Invalid messages raise and are
        dead-lettered with their field errors."""
        request = load(_FEED_IN, decode_body(body))
        order = self._take(request, None, "cti_feed")
        return {"ok": True, "call_id": request["call_id"], "order_id": order["order_id"],
                "created": order["created"], "status": order["status"],
                "reminders": order.get("reminders", 0)}

    def _take(self, request: dict, acting_branch: str | None, agent: str | None = None
              ) -> dict:
        with self._desk() as desk:
            result = desk.receive(request, acting_branch, agent)
        self.metrics.requests.labels(result.order["branch"], request["channel"],
                                     request["request_type"],
                                     "created" if result.created else "existing").inc()
        return dump_order(result.order, created=result.created)

    @branch_rpc
    def get_request(self, order_id: str, branch: str | None = None) -> dict:
        doc = IntakeStore(self.db).by_order_id(order_id, branch)
        if doc is None:
            raise NotFound(f"order {order_id} not found")
        return dump_order(doc)

    # -- the customer file (客户档案) ---------------------------------------------------
    @branch_rpc
    def find_customers(self, params: dict, branch: str) -> dict:
        """Households of ``branch`` whose phone is, or starts with (7 digits or more),
        ``params["phone"]``; each with its units and open requests."""
        query = load(_CUSTOMER_QUERY, params)
        items = self._customers().find(branch, query["phone"])
        return _CUSTOMER_PAGE.dump({"items": [plain(item) for item in items]})

    @branch_rpc
    def get_customer(self, customer_id: str, branch: str) -> dict:
        return _CUSTOMER_OUT.dump(plain(self._customers().view(branch, customer_id)))

    @branch_rpc
    def add_customer_phone(self, customer_id: str, payload: dict, branch: str) -> dict:
        phone = load(_PHONE_IN, payload)["phone"]
        return self._change_customer(
            lambda customers, now: customers.add_phone(branch, customer_id, phone, now))

    @branch_rpc
    def merge_customers(self, customer_id: str, payload: dict, branch: str) -> dict:
        """Another record of the household (``payload["customer_id"]``) joins this one."""
        other = load(_MERGE_IN, payload)["customer_id"]
        return self._change_customer(
            lambda customers, now: customers.merge(branch, customer_id, other, now))

    def _change_customer(self, change: Callable[[CustomerFile, datetime], dict]) -> dict:
        """One change of the customer file, at the call's time; the customer after it."""
        with self.unit() as uow:
            view = change(self._customers(), uow.now)
        return _CUSTOMER_OUT.dump(plain(view))

    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        self._record_end(envelope, "completed")

    @reliable_handler("dispatch", "order_cancelled")
    def on_order_cancelled(self, envelope: dict) -> None:
        self._record_end(envelope, "cancelled")

    @reliable_handler("callbacks", "callback_done")
    def on_callback_done(self, envelope: dict) -> None:
        """Not fixed, says the customer: a repeat repair (返修) of the same unit."""
        event = read_event(envelope, needs=("order_id", "task_id", "outcome"))
        data = event["data"]
        if data["outcome"] == "not_fixed":
            self._follow_up(data["order_id"], event["branch"], "repeat_repair",
                            data["task_id"])

    @reliable_handler("complaints", "reservice_requested")
    def on_reservice_requested(self, envelope: dict) -> None:
        event = read_event(envelope)
        data = event["data"]
        self._follow_up(data["order_id"], event["branch"], "reservice", data["complaint_id"])

    def _follow_up(self, original_id: str, branch: str, kind: str, ref: str) -> None:
        with self._desk() as desk:
            desk.create_follow_up(original_id, branch, kind, ref)

    def _record_end(self, envelope: dict, status: str) -> None:
        event = read_event(envelope, needs=("order_id",))
        IntakeStore(self.db).finish(event["data"]["order_id"], event["branch"], status,
                                    event["event_id"], event["occurred_at"],
                                    completed=status == "completed",
                                    fault=fault_found(event["data"].get("completion")))
