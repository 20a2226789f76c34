"""The callback desk: tasks from completed orders and schedules, staff claims, answers and
their consequences, HQ re-calls. Application layer over the store and the pure rules;
knows nothing of nameko. Every consequence leaves as one ``callback_done`` event written
with the task's outcome in the same single-document update."""

from __future__ import annotations

from datetime import datetime

from schemas.fields import DISPLAY_TZ
from services.callbacks.base import (
    EPOCH,
    DeskBase,
    Policy,
)
from services.callbacks.calls import Calls
from services.callbacks.domain import rules, schedules
from services.callbacks.store import queue_key
from services.callbacks.tasks import TaskMaking
from services.common.clock import as_utc
from services.common.errors import Conflict, InvalidInput

__all__ = ["CallbackDesk", "Policy"]


class CallbackDesk(TaskMaking, Calls, DeskBase):
    """The callback desk, its sections in modules of their own; HQ's audit, schedules and
    reports here."""

    # -- HQ audit ----------------------------------------------------------------------
    def audit(self, task_id: str, branch: str, auditor: str, answers: dict) -> dict:
        task = self.task(task_id, branch)
        audit = task.get("audit") or {}
        if audit.get("state") != "pending":
            raise Conflict("this callback is not waiting for an HQ re-call")
        hq = self._answers(task, answers) if answers["reached"] else {"reached": False}
        recorded = {**(task.get("answers") or {}), "reached": bool(task.get("answers"))}
        found = rules.discrepancies(recorded, hq)
        done = {**audit, "state": "done", "by": auditor, "at": self.now, "answers": hq,
                "discrepancies": found, "month": rules.month_of(self.now, DISPLAY_TZ)}
        if not self.store.answer_audit(task_id, done):
            raise Conflict("another auditor answered this re-call first")
        return self.store.get(task_id)

    # -- schedules -------------------------------------------------------------------
    def add_schedule(self, spec: dict, branch: str) -> dict:
        if spec["kind"] == "campaign" and spec["category"] not in self.reference.categories:
            raise InvalidInput("unknown product category", {"category": ["Unknown category."]})
        doc = {"_id": spec.pop("schedule_id"), "branch": branch,
               "period": schedules.period_of(spec["kind"]), "next_run": spec["first_run_at"],
               "runs": 0, "created_at": self.now, **spec}
        if not self.store.insert_schedule(doc):
            raise Conflict(f"schedule {doc['_id']} exists already")
        return doc

    def run_schedules(self) -> int:
        """Create the tasks of every schedule whose date has come, once per period: the
        tasks' ids name the period, so replicas running the same period add nothing."""
        created = 0
        for schedule in self.store.schedules_due(self.now):
            run_at = as_utc(schedule["next_run"])
            created += self.store.insert_tasks(self._schedule_tasks(schedule, run_at))
            following = schedules.following_run(schedule["kind"], run_at)
            if following is not None and schedule.get("until") and \
                    following > as_utc(schedule["until"]):
                following = None
            self.store.advance_schedule(schedule["_id"], schedule["next_run"], following)
        if created:
            self.uow.count("created", amount=created)
        return created

    def _schedule_tasks(self, schedule: dict, run_at: datetime) -> list[dict]:
        branch = schedule["branch"]
        base = {"kind": schedule["kind"], "status": "open", "branch": branch,
                "schedule_id": schedule["_id"], "order_id": None, "plan_at": run_at,
                "due_at": run_at, "queue_key": queue_key(branch, run_at), "claim": None,
                "claim_until": EPOCH, "attempts": [], "note": schedule.get("note"),
                "created_at": self.now}
        if schedule["kind"] != "campaign":
            return [{**base, "_id": schedules.task_id(schedule["_id"], run_at),
                     "customer": schedule["customer"], "product": schedule["product"]}]
        return [{**base, "_id": schedules.task_id(schedule["_id"], run_at, unit["unit_key"]),
                 "customer": unit["customer"], "product": unit["product"]}
                for unit in self.store.units_of(branch, schedule["category"])]

    # -- reports ---------------------------------------------------------------------
    def month_rates(self, branch: str, month: str | None = None) -> tuple[str, rules.MonthRates]:
        month = month or rules.month_of(self.now, DISPLAY_TZ)
        done, audited = self.store.month_rows(month, branch)
        return month, rules.month_rates(done, audited)

