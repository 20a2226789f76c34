"""Complaints service (投诉): nameko entrypoints only. Opens complaints from any channel,
from intake's hand-overs and from unhappy callbacks; tracks acknowledgement and
investigation against the commitments; escalates missed deadlines; reports the complaint
rate per branch and month."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy
from nameko.timer import timer

from schemas.complaints import (
    STEP_SCHEMAS,
    ComplaintIn,
    ComplaintOut,
    ComplaintQuery,
    ComplaintReportOut,
    ReportQuery,
)
from schemas.fields import DISPLAY_TZ
from services.common.asking import ask
from services.common.base import ServiceBase
from services.common.branch_guard import branch_rpc
from services.common.clock import as_utc
from services.common.config import ConfigError, read_yaml
from services.common.errors import NotFound
from services.common.messaging import reliable_handler
from services.common.metrics import Metrics
from services.common.mongo import MongoDatabase
from services.common.pacing import Pacer
from services.complaints.desk import Actor, ComplaintDesk
from services.complaints.domain import rules
from services.complaints.metrics import complaint_metric_definitions
from services.complaints.store import COMPLAINTS, ComplaintStore, ensure_indexes
from services.contracts import load, plain, read_event

_IN, _QUERY, _REPORT_QUERY = ComplaintIn(), ComplaintQuery(), ReportQuery()
_OUT, _REPORT_OUT = ComplaintOut(), ComplaintReportOut()


class ComplaintSettings(DependencyProvider):
    """The ``complaints`` block of the reference data: penalty points and the rate target."""

    def setup(self) -> None:
        raw = read_yaml(self.container.config["reference_data"]).get("complaints") or {}
        points = raw.get("penalty_points") or {}
        if any(key not in rules.SERVICE_RESPONSIBILITY or not isinstance(value, int)
               or value < 0 for key, value in points.items()):
            raise ConfigError("complaints.penalty_points: whole points >= 0 for "
                              f"{', '.join(rules.SERVICE_RESPONSIBILITY)}")
        self.settings = {"penalty_points": points,
                         "rate_target": float(raw.get("rate_target", rules.RATE_TARGET))}

    def get_dependency(self, worker_ctx) -> dict[str, Any]:
        return self.settings


def dump(doc: dict, **extra: Any) -> dict:
    resource = {key: plain(value) for key, value in doc.items()
                if not key.startswith("outbox") and key not in ("sweep_at", "open_matter",
                                                               "source_refs", "version")}
    return _OUT.dump({**resource, "complaint_id": doc["_id"], **extra})


class ComplaintsService(ServiceBase):
    name = "complaints"
    outbox_collections = (COMPLAINTS,)
    db = MongoDatabase(prepare=ensure_indexes)
    metrics = Metrics(complaint_metric_definitions)
    pacer = Pacer()
    complaint_settings = ComplaintSettings()
    dispatch = RpcProxy("dispatch")  # who the branch's technicians and centres are

    # -- plumbing --------------------------------------------------------------------
    @contextmanager
    def _desk(self) -> Iterator[ComplaintDesk]:
        with self.unit() as uow:
            yield ComplaintDesk(ComplaintStore(self.db), self.reference,
                                self.complaint_settings["penalty_points"], uow)

    def _refuse_foreign_staff(self, technicians: dict[str, str | None],
                              centres: dict[str, str | None], branch: str) -> None:
        """A technician or service centre a person names must be the branch's (field →
        id for each); those taken from the branch's completions are already."""
        technicians = {field: tech for field, tech in technicians.items() if tech}
        centres = {field: centre for field, centre in centres.items() if centre}
        if not technicians and not centres:
            return
        foreign = set(ask(self.dispatch.foreign_staff, sorted(set(technicians.values())),
                          sorted(set(centres.values())), branch,
                          seconds=self.config["rpc_timeout_seconds"], who="dispatch"))
        fields = {field: [f"本分支({branch})没有 {named} / No such technician or service "
                          f"centre in {branch}."]
                  for field, named in {**technicians, **centres}.items() if named in foreign}
        if fields:
            raise NotFound("技术员或网点不存在 / technician or service centre not found", fields)

    def _open(self, command: dict, branch: str, ref: str | None, by: str) -> tuple[dict, bool]:
        with self._desk() as desk:
            return desk.open(command, branch, ref, by)

    # -- events ----------------------------------------------------------------------
    @reliable_handler("intake", "complaint_received")
    def on_complaint_received(self, envelope: dict) -> None:
        """A complaint taken by intake (request type ``complaint``): kept as handed over,
        and opened as a case, once each."""
        event = read_event(envelope)
        data = event["data"]
        store = ComplaintStore(self.db)
        store.keep_received(data, event["branch"], event["event_id"], event["occurred_at"])
        customer = data.get("customer") or {}
        command = {
            "channel": data.get("channel", "hotline"), "category": "other", "source": "intake",
            "description": data.get("description"), "serial_number": (
                data.get("product") or {}).get("serial_number"),
            "customer": {key: customer.get(key) for key in ("name", "phone", "address")},
            "details": {"intake_order_id": data["order_id"]}}
        doc, _ = self._open(command, event["branch"], f"intake:{data['order_id']}", "intake")
        store.link_received(data["order_id"], doc["_id"])

    @reliable_handler("callbacks", "callback_done")
    def on_callback_done(self, envelope: dict) -> None:
        """Dissatisfied (≤ 2) or paid ≠ billed: a complaint linked to the order, once per
        callback task."""
        event = read_event(envelope, needs=("order_id", "task_id"))
        data = event["data"]
        verdict = rules.callback_complaint(data)
        if verdict is None:
            return
        details = {key: data.get(key) for key in (
            "task_id", "outcome", "satisfaction", "attitude", "on_time", "fixed", "paid_fen",
            "billed_fen", "paid_differs")}
        command = {"channel": "callback", "source": "callback", "category": verdict.category,
                   "severity": verdict.severity, "order_ids": [data["order_id"]],
                   "description": f"回访: {verdict.reason}", "details": details}
        self._open(command, event["branch"], f"callback:{data['task_id']}", "callbacks")

    @reliable_handler("dispatch", "order_completed")
    def on_order_completed(self, envelope: dict) -> None:
        """Completed orders per branch and month (the complaint rate's denominator), and who
        did the job (to link complaints about it)."""
        event = read_event(envelope, needs=("order_id",))
        data = event["data"]
        completion = data.get("completion") or {}
        done_at = completion.get("completed_at")
        at = as_utc(datetime.fromisoformat(done_at)) if done_at else event["occurred_at"]
        ComplaintStore(self.db).record_completion({
            "_id": data["order_id"], "branch": event["branch"],
            "month": rules.month_of(at, DISPLAY_TZ), "completed_at": at,
            "technician_id": data.get("technician_id"),
            "service_centre_id": data.get("service_centre_id")
            or completion.get("service_centre_id"),
            "serial_number": data.get("serial_number")})

    # -- commands and queries ----------------------------------------------------------
    @branch_rpc
    def open_complaint(self, payload: dict, branch: str, by: str = "staff") -> dict:
        command = load(_IN, payload)
        self._refuse_foreign_staff({"technician_id": command.get("technician_id")},
                                   {"service_centre_id": command.get("service_centre_id")},
                                   branch)
        # A client's reference is unique within its branch: another branch may pick the same.
        ref = f"client:{branch}:{command['reference']}" if command["reference"] else None
        doc, created = self._open({**command, "source": "manual"}, branch, ref, by)
        return dump(doc, created=created)

    @branch_rpc
    def step(self, complaint_id: str, action: str, payload: dict, actor: dict) -> dict:
        schema = STEP_SCHEMAS.get(action)
        if schema is None:
            raise NotFound(f"unknown action {action}")
        command = load(schema(), payload or {})
        if action == "conclude":
            self._check_party(command, actor["branch"])
        with self._desk() as desk:
            return dump(desk.step(complaint_id, action, command, Actor(**actor)))

    def _check_party(self, command: dict, branch: str) -> None:
        """The party held responsible: the branch itself, or its technician or centre (a
        maker or a supplier, for product quality, is no branch's)."""
        party, responsibility = command.get("party_id"), command["responsibility"]
        if not party:
            return
        if responsibility == "branch" and party != branch:
            raise NotFound("分支不符 / not this branch", {
                "party_id": [f"只能是本分支 {branch} / Only {branch}."]})
        if responsibility == "technician":
            self._refuse_foreign_staff({"party_id": party}, {}, branch)
        elif responsibility == "service_centre":
            self._refuse_foreign_staff({}, {"party_id": party}, branch)

    @branch_rpc
    def get_complaint(self, complaint_id: str, branch: str) -> dict:
        doc = ComplaintStore(self.db).get(complaint_id, branch)
        if doc is None:
            raise NotFound(f"complaint {complaint_id} not found")
        return dump(doc)

    @branch_rpc
    def list_complaints(self, params: dict, branch: str) -> dict:
        query_in = load(_QUERY, params)
        total, docs = ComplaintStore(self.db).search(
            branch, query_in, overdue_at=self.clock.now() if query_in["overdue"] else None)
        return {"total": total, "page": query_in["page"], "page_size": query_in["page_size"],
                "items": [dump(doc) for doc in docs]}

    @branch_rpc
    def report(self, params: dict, branch: str) -> dict:
        """One branch's month: counts by category and responsibility, penalty points, the
        complaint rate against its target."""
        month = load(_REPORT_QUERY, params)["month"] or rules.month_of(self.clock.now(),
                                                                       DISPLAY_TZ)
        store = ComplaintStore(self.db)
        docs = store.of_month(branch, month)
        by_category: dict[str, int] = {}
        by_responsibility: dict[str, int] = {}
        points: dict[str, int] = {}
        for doc in docs:
            by_category[doc["category"]] = by_category.get(doc["category"], 0) + 1
            who = (doc.get("investigation") or {}).get("responsibility", "undetermined")
            by_responsibility[who] = by_responsibility.get(who, 0) + 1
            for fine in doc.get("penalties") or []:
                points[fine["party"]] = points.get(fine["party"], 0) + fine["points"]
        service = sum(by_responsibility.get(r, 0) for r in rules.SERVICE_RESPONSIBILITY)
        completed = store.completed_count(branch, month)
        rate = rules.complaint_rate(service, completed)
        target = self.complaint_settings["rate_target"]
        return _REPORT_OUT.dump({
            "branch": branch, "month": month, "opened": len(docs),
            "completed_orders": completed, "service_responsibility_complaints": service,
            "complaint_rate": round(rate, 4), "target": target, "meets_target": rate < target,
            "by_category": by_category, "by_responsibility": by_responsibility,
            "penalty_points": points})

    @branch_rpc
    def board_figures(self, branch: str) -> dict:
        """The wallboard's complaint figures: cases not yet closed, and opened today
        (the branch's local day)."""
        now = self.clock.now().astimezone(DISPLAY_TZ)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return ComplaintStore(self.db).board_counts(branch, midnight)

    @branch_rpc
    def get_received(self, order_id: str, branch: str) -> dict:
        doc = ComplaintStore(self.db).received(order_id, branch)
        if doc is None:
            raise NotFound(f"complaint {order_id} not found")
        return {"order_id": doc["_id"], "branch": doc["branch"], "status": doc["status"],
                "complaint_id": doc.get("complaint_id"),
                "received_at": doc["received_at"].isoformat()}

    # -- timers ----------------------------------------------------------------------
    @timer(interval=1)
    def sweep(self) -> None:
        """Missed acknowledgement and investigation deadlines, counted and escalated once."""
        with self._desk() as desk:
            self.pacer.when_due("breaches", desk.now, desk.next_breach_due,
                                desk.sweep_breaches)

    @timer(interval=10)
    def refresh_rate(self) -> None:
        store = ComplaintStore(self.db)
        month = rules.month_of(self.clock.now(), DISPLAY_TZ)
        for branch in self.config["branches"]:
            service = store.service_complaint_count(branch, month,
                                                    rules.SERVICE_RESPONSIBILITY)
            self.metrics.rate.labels(branch).set(
                rules.complaint_rate(service, store.completed_count(branch, month)))
