"""Dispatch service: nameko entrypoints only. Owns the work-order lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from schemas.orders import STEP_SCHEMAS, OrderQuery
from schemas.reports import ReportPeriod
from schemas.technicians import TechnicianIn, TechnicianOut, TechnicianPatch
from services.common.asking import ask
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
)
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.common.pacing import Pacer
from services.contracts import dump_order, load, read_event
from services.dispatch import reports
from services.dispatch.dispatcher import Actor, Dispatcher
from services.dispatch.domain import staff
from services.dispatch.domain.queueing import work_list_key
from services.dispatch.facts import billing_facts
from services.dispatch.metrics import sla_metric_definitions
from services.dispatch.staff_store import Roster
from services.dispatch.store import ORDERS, DispatchStore, ensure_indexes, rekey_queue

RECONCILE_TICK_SECONDS = 10  # how often each replica asks whether reconciliation is due
FORECAST_EVERY = timedelta(minutes=1)  # the held orders' arrival forecast, in one replica
REMIND_EVERY = timedelta(minutes=1)  # appointment reminders looked for, in one replica

_QUERY = OrderQuery()
_PERIOD = ReportPeriod()
_TECH_IN, _TECH_PATCH, _TECH_OUT = TechnicianIn(), TechnicianPatch(), TechnicianOut()


def _check_centre(store: DispatchStore, centre_id: str | None, branch: str) -> None:
    """A service centre (网点) is known by its technicians: one whose technicians work for
    another branch is not this branch's to staff."""
    if centre_id and not staff.centre_is_branchs(
            store.centre_branches([centre_id]).get(centre_id, set()), branch):
        raise InvalidInput("网点不属于本分支 / the service centre is not this branch's", {
            "service_centre_id": [f"本分支({branch})的网点 / A service centre of "
                                  f"{branch}."]})


def _tech_out(doc: dict) -> dict:
    return _TECH_OUT.dump({**doc, "technician_id": doc["_id"]})


class RosterProvider(DependencyProvider):
    """The container's short-lived technician roster (see Roster)."""

    def setup(self) -> None:
        self.roster = Roster()

    def get_dependency(self, worker_ctx) -> Roster:
        return self.roster


class DispatchService(ServiceBase):
    name = "dispatch"
    outbox_collections = (ORDERS,)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(sla_metric_definitions)
    pacer = Pacer()
    roster = RosterProvider()
    billing = RpcProxy("billing")

    # -- plumbing --------------------------------------------------------------------
    @contextmanager
    def _dispatcher(self) -> Iterator[Dispatcher]:
        settings = self.config["dispatch"]
        timeout = timedelta(seconds=settings["offer_timeout_seconds"])
        with self.unit() as uow:
            yield Dispatcher(DispatchStore(self.db, self.roster), self.reference, uow,
                             timeout, settings["at_risk_share"], timedelta(
                                 seconds=settings["emergency_offer_timeout_seconds"]))

    # -- events ----------------------------------------------------------------------
    @reliable_handler("intake", "order_created")
    def on_order_created(self, envelope: dict) -> None:
        data = read_event(envelope)["data"]
        # Offered at once if someone is free; None on a redelivery. Queued orders: see
        # drain_queue.
        with self._dispatcher() as dispatcher:
            dispatcher.create_from_event(data)

    @reliable_handler("intake", "reminder_received")
    def on_reminder_received(self, envelope: dict) -> None:
        """A 催单 shows on the order the dispatcher and technician see."""
        event = read_event(envelope)
        with self._dispatcher() as dispatcher:
            dispatcher.record_reminder(event["event_id"], event["data"],
                                       event["occurred_at"])

    @reliable_handler("inventory", "parts_short")
    def on_parts_short(self, envelope: dict) -> None:
        self._parts_event(envelope)

    @reliable_handler("inventory", "parts_arrived")
    def on_parts_arrived(self, envelope: dict) -> None:
        self._parts_event(envelope)

    def _parts_event(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._dispatcher() as dispatcher:
            handle = {"parts_short": dispatcher.parts_short,
                      "parts_arrived": dispatcher.parts_arrived}[event["type"]]
            handle(event["event_id"], event["data"])

    @reliable_handler("callbacks", "callback_done")
    def on_callback_done(self, envelope: dict) -> None:
        """Closes a completed order after its callback (verified, or unverified when the
        customer could not be reached)."""
        event = read_event(envelope)
        with self._dispatcher() as dispatcher:
            dispatcher.record_callback(event["event_id"], event["data"])

    @reliable_handler("dispatch", "exchange_requested")
    def on_exchange_requested(self, envelope: dict) -> None:
        """cannot_fix: the exchange or refund owed to the customer, on the dispatcher's
        escalations until the case that settles it exists."""
        event = read_event(envelope, needs=("order_id", "completion"))
        with self._dispatcher() as dispatcher:
            dispatcher.open_exchange_escalation(event["event_id"], event["data"])

    @reliable_handler("complaints", "complaint_opened")
    def on_complaint_opened(self, envelope: dict) -> None:
        self._note_complaint(envelope)

    @reliable_handler("complaints", "complaint_escalated")
    def on_complaint_escalated(self, envelope: dict) -> None:
        """The dispatcher and supervisor see on the order that its complaint went up a
        rung (branch supervisor, then HQ)."""
        self._note_complaint(envelope)

    def _note_complaint(self, envelope: dict) -> None:
        event = read_event(envelope)
        data = event["data"]
        details = {key: data.get(key) for key in ("complaint_id", "category", "severity",
                                                  "level", "reason") if data.get(key)}
        entry = {"at": event["occurred_at"], "step": event["type"], "by": "complaints",
                 "details": details}
        store = DispatchStore(self.db)
        for order_id in data["order_ids"]:
            store.note(order_id, event["branch"], event["event_id"], entry)

    # -- queries ---------------------------------------------------------------------
    @branch_rpc
    def get_order(self, order_id: str, branch: str) -> dict:
        doc = DispatchStore(self.db).get(order_id, branch)
        if doc is None:
            raise NotFound(f"order {order_id} not found")
        return dump_order(doc)

    @branch_rpc
    def list_orders(self, params: dict, branch: str, technician_id: str | None = None) -> dict:
        query_in = load(_QUERY, params)
        technician_id = technician_id or query_in["technician_id"]
        if query_in["order"] == "work":
            total, docs = work_list(DispatchStore(self.db), branch, technician_id, query_in)
        else:
            total, docs = DispatchStore(self.db).search(
                branch, query_in, technician_id,
                overdue_at=self.clock.now() if query_in["overdue"] else None)
        return {"total": total, "page": query_in["page"], "page_size": query_in["page_size"],
                "items": [dump_order(doc) for doc in docs]}

    # -- figures for the wallboard and the operator report ------------------------------
    @branch_rpc
    def board_figures(self, branch: str) -> dict:
        """Open orders by state, overdue by milestone, today's on-time share."""
        now = self.clock.now()
        with self._dispatcher() as dispatcher:
            status = dispatcher.open_milestone_status([branch])
        return reports.board(self.db, branch, now, status)

    @branch_rpc
    def compliance_report(self, since: str, until: str, branches: list[str] | None = None
                          ) -> dict:
        """Met / breached per branch, zone and milestone for outcomes in [since, until)."""
        period = load(_PERIOD, {"since": since, "until": until})
        served = [b for b in (branches or self.config["branches"])
                  if b in self.config["branches"]]
        return reports.compliance(self.db, served, period["since"], period["until"])

    # -- steps -----------------------------------------------------------------------
    @branch_rpc
    def step(self, order_id: str, action: str, payload: dict, actor: dict) -> dict:
        schema = STEP_SCHEMAS.get(action)
        if schema is None:
            raise NotFound(f"unknown action {action}")
        command = load(schema(), payload or {})
        if action == "complete":
            self._check_charge_approved(order_id, command, actor)
        with self._dispatcher() as dispatcher:
            doc = dispatcher.step(order_id, action, command, Actor(**actor))
        if action in ("reject", "complete", "cancel", "assign"):
            self._drain(doc["branch"])  # capacity was freed
        return dump_order(doc)

    def _check_charge_approved(self, order_id: str, completion: dict, actor: dict) -> None:
        """A chargeable job cannot be completed without the customer's approved quote.
        Billing owns the prices and the quotes, so it is asked now (bounded wait): the
        answer must hold at this moment, and dispatch keeps no copy of the pricing rules.
        Illegal steps and other technicians' orders are left to the step to refuse."""
        order = DispatchStore(self.db).get(order_id, actor["branch"])
        if order is None or order["status"] != "on_site":
            return
        if actor.get("role") == "technician" and order.get("technician_id") != actor.get(
                "technician_id"):
            return
        facts = billing_facts(order, completion)
        verdict = ask(self.billing.check_completion, order_id, order["branch"], facts,
                      seconds=self.config["rpc_timeout_seconds"], who="billing")
        if not verdict["ok"]:
            raise Conflict("chargeable work needs the customer's approved quote",
                           {"quote": verdict["reasons"]})

    # -- technicians -----------------------------------------------------------------
    @branch_rpc
    def create_technician(self, payload: dict, branch: str) -> dict:
        tech = load(_TECH_IN, payload)
        self._check_shift(tech["shift"])
        doc = {"_id": tech.pop("technician_id"), "branch": branch, **tech}
        store = DispatchStore(self.db, self.roster)
        _check_centre(store, tech.get("service_centre_id"), branch)
        try:
            store.insert_technician(doc)
        except DuplicateKeyError:
            raise Conflict(f"technician {doc['_id']} exists already") from None
        self._roster_changed(branch, doc["_id"])
        return _tech_out(doc)

    @branch_rpc
    def update_technician(self, technician_id: str, payload: dict, branch: str) -> dict:
        changes = load(_TECH_PATCH, payload)
        if not changes:
            raise InvalidInput("nothing to change", {"_schema": ["Give at least one field."]})
        if "shift" in changes:
            self._check_shift(changes["shift"])
        store = DispatchStore(self.db, self.roster)
        _check_centre(store, changes.get("service_centre_id"), branch)
        if not store.update_technician(technician_id, branch, changes):
            raise NotFound(f"technician {technician_id} not found")
        self._roster_changed(branch, technician_id)
        return _tech_out(store.technician(technician_id))

    @branch_rpc
    def foreign_staff(self, technician_ids: list[str], centre_ids: list[str],
                      branch: str) -> list[str]:
        """The ids another service may not name for the branch (it names technicians and
        centres but does not keep them): a technician who is not the branch's; a service
        centre whose technicians all work for other branches."""
        store = DispatchStore(self.db)
        technicians = store.technician_branches(technician_ids)
        centres = store.centre_branches(centre_ids)
        return sorted(
            {tech for tech in technician_ids if branch not in technicians.get(tech, set())}
            | {centre for centre in centre_ids
               if not staff.centre_is_branchs(centres.get(centre, set()), branch)})

    @branch_rpc
    def get_technician(self, technician_id: str, branch: str) -> dict:
        doc = DispatchStore(self.db).technician(technician_id, branch)
        if doc is None:
            raise NotFound(f"technician {technician_id} not found")
        return _tech_out(doc)

    @branch_rpc
    def list_technicians(self, branch: str) -> list[dict]:
        return [_tech_out(doc) for doc in DispatchStore(self.db).technicians_in(branch)]

    def _check_shift(self, shift: str) -> None:
        if shift not in self.reference.shifts:
            raise InvalidInput("unknown shift", {"shift": [
                f"One of: {', '.join(sorted(self.reference.shifts))}."]})

    # -- timers ----------------------------------------------------------------------
    def _drain(self, branch: str) -> None:
        with self._dispatcher() as dispatcher:
            dispatcher.drain_queue(branch)

    def _roster_changed(self, branch: str, technician_id: str) -> None:
        """A technician registered or updated: flagged orders they can take, then the queue."""
        with self._dispatcher() as dispatcher:
            dispatcher.offer_unqualified(branch, technician_id)
            dispatcher.drain_queue(branch)

    @timer(interval=1)
    def sweep(self) -> None:
        """Lapsed offers and breaches when the earliest falls due (common/pacing.py); the
        queue (shifts start and end)."""
        # what was written before a failure is counted: its marks are gone
        with self._dispatcher() as dispatcher:
            self.pacer.when_due("offers", dispatcher.now, dispatcher.next_offer_due,
                                dispatcher.expire_offers)
            self.pacer.when_due("breaches", dispatcher.now, dispatcher.next_breach_due,
                                dispatcher.sweep_breaches)
            for branch in self.config["branches"]:
                dispatcher.drain_queue(branch)

    @timer(interval=RECONCILE_TICK_SECONDS)
    def reconcile_capacity(self) -> None:
        """Every ``reconcile_seconds``, one replica (a lease): free slots recomputed from
        the orders held, so a process that died mid-write leaks nothing for good."""
        every = timedelta(seconds=self.config["dispatch"]["reconcile_seconds"])
        with self._dispatcher() as dispatcher:
            if dispatcher.store.claim_job("reconcile_capacity", dispatcher.now, every):
                dispatcher.reconcile_capacity(self.config["branches"], every)

    @timer(interval=RECONCILE_TICK_SECONDS)
    def forecast_arrivals(self) -> None:
        """Every minute, in one replica: each held order's arrival forecast from its
        holder's list; those forecast late are marked, counted, and offered to a
        technician who would make it."""
        with self._dispatcher() as dispatcher:
            if not dispatcher.store.claim_job("forecast_arrivals", dispatcher.now,
                                              FORECAST_EVERY):
                return
            rekey_queue(self.db)  # an older replica's keys, during a rolling update
            counts = {}
            for branch in self.config["branches"]:
                late = [seen for seen in dispatcher.forecast_arrivals(branch) if seen.late]
                counts[branch] = len(late)
                moved = dispatcher.reoffer_late(late)
                if moved:
                    self.metrics.reoffered.labels(branch).inc(moved)
            # every replica's gauge shows the last pass, whichever replica made it
            dispatcher.store.note_job("forecast_arrivals", {"late": counts})

    @timer(interval=RECONCILE_TICK_SECONDS)
    def remind_appointments(self) -> None:
        """Every minute, in one replica (a lease in the jobs collection): the customers
        whose appointment is tomorrow are due a reminder (``appointment_reminder_due``,
        once per appointment: each is a conditional write on the order)."""
        with self._dispatcher() as dispatcher:
            if dispatcher.store.claim_job("appointment_reminders", dispatcher.now,
                                          REMIND_EVERY):
                dispatcher.remind_appointments(self.config["branches"])

    @timer(interval=5)
    def refresh_gauges(self) -> None:
        with self._dispatcher() as dispatcher:
            status = dispatcher.open_milestone_status(self.config["branches"])
            unaccepted = dispatcher.unaccepted_emergencies(self.config["branches"])
        self.metrics.overdue.clear()
        self.metrics.at_risk.clear()
        for labels, (overdue, at_risk) in status.items():
            self.metrics.overdue.labels(*labels).set(overdue)
            self.metrics.at_risk.labels(*labels).set(at_risk)
        store = DispatchStore(self.db)
        for branch in self.config["branches"]:
            self.metrics.queued.labels(branch).set(store.queue_length(branch))
            self.metrics.unqualified.labels(branch).set(store.unqualified_count(branch))
        late = (store.job_figures("forecast_arrivals") or {}).get("late") or {}
        for branch in self.config["branches"]:
            self.metrics.forecast_late.labels(branch).set(late.get(branch, 0))
            self.metrics.unaccepted_emergencies.labels(branch).set(unaccepted[branch])


def work_list(store: DispatchStore, branch: str, technician_id: str | None, query_in: dict
              ) -> tuple[int, list[dict]]:
    """A technician's jobs in hand in the order they work them: emergencies first, then
    by place (a high-priority order as if due earlier)."""
    if not technician_id:
        raise InvalidInput("工作顺序只对一名技师的工单有意义 / the work order is one "
                           "technician's", {"technician_id": ["请指定技师。Name the technician."]})
    held = sorted(store.held_by(branch, technician_id, query_in), key=work_list_key)
    start = (query_in["page"] - 1) * query_in["page_size"]
    return len(held), held[start:start + query_in["page_size"]]
