"""Callbacks service (回访): nameko entrypoints only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nameko.timer import timer

from schemas.callbacks import (
    AnswersIn,
    AuditQuery,
    ReportQuery,
    RescheduleIn,
    ScheduleIn,
    TaskOut,
    TaskQuery,
)
from services.callbacks.desk import CallbackDesk, Policy
from services.callbacks.metrics import RATES, callback_metric_definitions
from services.callbacks.store import TASKS, CallbackStore, ensure_indexes
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.domain.money import yuan
from services.common.errors import InvalidInput
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.common.pacing import Pacer
from services.contracts import load, plain, read_event

_ANSWERS, _RESCHEDULE, _SCHEDULE = AnswersIn(), RescheduleIn(), ScheduleIn()
_TASK_QUERY, _AUDIT_QUERY, _REPORT_QUERY = TaskQuery(), AuditQuery(), ReportQuery()
_TASK_OUT = TaskOut()
RELAY_FALLBACK_SECONDS = 5


def dump_task(doc: dict) -> dict:
    resource = {key: plain(value) for key, value in doc.items()
                if not key.startswith("outbox") and key not in ("paid_fen", "billed_fen")}
    resource["task_id"] = doc["_id"]
    for key in ("paid", "billed"):
        fen = doc.get(f"{key}_fen")
        resource[key] = None if fen is None else yuan(fen)
    return _TASK_OUT.dump(resource)


class CallbacksService(ServiceBase):
    name = "callbacks"
    outbox_collections = (TASKS,)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(callback_metric_definitions)
    pacer = Pacer()

    # -- plumbing --------------------------------------------------------------------
    @contextmanager
    def _desk(self) -> Iterator[CallbackDesk]:
        calendar = self.reference.calendars["24x7"]
        with self.unit() as uow:
            yield CallbackDesk(CallbackStore(self.db), self.reference,
                               Policy.from_settings(self.config, calendar), uow)

    # -- events ----------------------------------------------------------------------
    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        event = read_event(envelope, needs=("order_id", "completion"))
        data = event["data"]
        # a task inserted before a later failure is counted (a redelivery finds it)
        with self._desk() as desk:
            desk.task_from_completion({**data, "branch": event["branch"]})

    @reliable_handler("billing", "bill_settled")
    def on_bill_settled(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._desk() as desk:
            desk.bill_settled(event["data"], event["occurred_at"])

    @reliable_handler("complaints", "complaint_opened")
    def on_complaint_opened(self, envelope: dict) -> None:
        event = read_event(envelope)
        with self._desk() as desk:
            desk.complaint_opened(event["branch"], event["data"])

    # -- staff -----------------------------------------------------------------------
    @branch_rpc
    def list_tasks(self, params: dict, branch: str) -> dict:
        query_in = load(_TASK_QUERY, params)
        return self._page(query_in, CallbackStore(self.db).tasks_page(branch, query_in))

    @branch_rpc
    def get_task(self, task_id: str, branch: str) -> dict:
        with self._desk() as desk:
            return dump_task(desk.task(task_id, branch))

    @branch_rpc
    def claim_next(self, branch: str, staff: str) -> dict | None:
        with self._desk() as desk:
            task = desk.claim_next(branch, staff)
        return None if task is None else dump_task(task)

    @branch_rpc
    def claim(self, task_id: str, branch: str, staff: str) -> dict:
        with self._desk() as desk:
            return dump_task(desk.claim(task_id, branch, staff))

    @branch_rpc
    def release(self, task_id: str, branch: str, staff: str) -> dict:
        with self._desk() as desk:
            return dump_task(desk.release(task_id, branch, staff))

    @branch_rpc
    def record_call(self, task_id: str, payload: dict, branch: str, staff: str) -> dict:
        answers = load(_ANSWERS, payload)
        with self._desk() as desk:
            return dump_task(desk.record(task_id, branch, staff, answers))

    @branch_rpc
    def reschedule(self, task_id: str, payload: dict, branch: str, staff: str) -> dict:
        command = load(_RESCHEDULE, payload)
        with self._desk() as desk:
            return dump_task(desk.reschedule(task_id, branch, staff, command["at"],
                                             command["reason"]))

    # -- HQ audit ----------------------------------------------------------------------
    @branch_rpc
    def list_audits(self, params: dict, branch: str) -> dict:
        query_in = load(_AUDIT_QUERY, params)
        return self._page(query_in, CallbackStore(self.db).audits_page(branch, query_in))

    @branch_rpc
    def record_audit(self, task_id: str, payload: dict, branch: str, auditor: str) -> dict:
        answers = load(_ANSWERS, payload)
        with self._desk() as desk:
            return dump_task(desk.audit(task_id, branch, auditor, answers))

    @branch_rpc
    def report(self, params: dict, branch: str) -> dict:
        with self._desk() as desk:
            month, rates = desk.month_rates(branch, load(_REPORT_QUERY, params)["month"])
        return {"branch": branch, "month": month, **rates.__dict__}

    @branch_rpc
    def board_figures(self, branch: str) -> dict:
        """The wallboard's satisfaction figure: this month's satisfied share of reached
        callbacks (None until someone was reached)."""
        with self._desk() as desk:
            month, rates = desk.month_rates(branch)
        return {"month": month, "satisfaction_share": rates.satisfaction,
                "reached": rates.reached}

    # -- schedules -------------------------------------------------------------------
    @branch_rpc
    def create_schedule(self, payload: dict, branch: str) -> dict:
        spec = load(_SCHEDULE, payload)
        if spec.get("until") and spec["until"] < spec["first_run_at"]:
            raise InvalidInput("the schedule ends before it starts",
                               {"until": ["Must be after first_run_at."]})
        self._refuse_foreign_region(spec, branch)
        with self._desk() as desk:
            return _schedule_out(desk.add_schedule(spec, branch))

    def _refuse_foreign_region(self, spec: dict, branch: str) -> None:
        """A customer of another branch's region is that branch's to call."""
        code = (spec.get("customer") or {}).get("region_code")
        region = self.reference.regions.get(code) if code else None
        if code and (region is None or region.branch != branch):
            raise InvalidInput("地区不属于本分支 / the region is not this branch's", {
                "customer": {"region_code": [f"本分支({branch})的地区代码 / A region code "
                                             f"of {branch}."]}})

    @branch_rpc
    def list_schedules(self, branch: str) -> list[dict]:
        return [_schedule_out(doc) for doc in CallbackStore(self.db).schedules(branch)]

    @staticmethod
    def _page(query_in: dict, found: tuple[int, list[dict]]) -> dict:
        total, docs = found
        return {"total": total, "page": query_in["page"], "page_size": query_in["page_size"],
                "items": [dump_task(doc) for doc in docs]}

    # -- timers ----------------------------------------------------------------------
    # The store is shared and the work is rarely due: the timers tick every second but
    # touch the database only every few seconds (settings callbacks.*_seconds).
    @timer(interval=RELAY_FALLBACK_SECONDS)
    def relay_outbox(self) -> None:
        """Writers relay their own events at once; this only re-sends what a crash left
        (after the writer's lease), so it need not poll twice a second."""
        super().relay_outbox()

    @timer(interval=1)
    def sweep(self) -> None:
        """Breached commitments (counted at the deadline, once), schedules whose date has
        come, and follow-ups a crash left unsettled."""
        if not self.pacer.due("sweep", float(self.config["callbacks"]["sweep_seconds"])):
            return
        # what was written before a failure is counted: its marks are gone
        with self._desk() as desk:
            desk.sweep_breaches()
            desk.run_schedules()
            for task in desk.unsettled():
                desk.settle_follow_ups(task)

    @timer(interval=1)
    def refresh_gauges(self) -> None:
        if not self.pacer.due("gauges", float(self.config["callbacks"]["gauge_seconds"])):
            return
        with self._desk() as desk:
            months = {branch: desk.month_rates(branch)[1] for branch in self.config["branches"]}
        for branch, rates in months.items():
            for key in RATES:
                value = getattr(rates, key)
                gauge = getattr(self.metrics, key)
                if value is not None:  # no callbacks yet this month: no figure
                    gauge.labels(branch).set(value)


def _schedule_out(doc: dict) -> dict:
    out = {key: plain(value) for key, value in doc.items() if key != "_id"}
    out["schedule_id"] = doc["_id"]
    return out
