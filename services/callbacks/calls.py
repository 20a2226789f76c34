"""Staff at work: claiming the next task, recording a call (answered, unanswered,
rescheduled) with its outcome, its one event and its milestone; the commitment sweeper."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.callbacks import ANSWER_KEYS
from schemas.fields import DISPLAY_TZ
from services.callbacks.base import (
    EPOCH,
    MAX_RACE_RETRIES,
    ORDER_KINDS,
    DeskBase,
    milestone_labels,
)
from services.callbacks.domain import rules
from services.callbacks.domain.task import TaskChange
from services.callbacks.store import TASKS
from services.common.clock import as_utc
from services.common.domain.money import to_fen
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.unit_of_work import Reached


class Calls(DeskBase):
    """The desk's work with staff and the clock."""

    # -- staff: claim ------------------------------------------------------------------
    def claim_next(self, branch: str, staff: str) -> dict | None:
        """The earliest due task nobody holds, claimed atomically; None when none is due."""
        until = self.now + self.policy.claim
        for _ in range(MAX_RACE_RETRIES):
            candidates = [c for c in self.store.due(branch, self.now)
                          if as_utc(c.get("claim_until") or EPOCH) <= self.now]
            if not candidates:
                return None
            for candidate in candidates:
                if self.store.claim(candidate["_id"], branch, staff, self.now, until):
                    return self.store.get(candidate["_id"])
        return None

    def claim(self, task_id: str, branch: str, staff: str) -> dict:
        """A particular task (the customer rang back, a supervisor hands it over)."""
        if self.store.claim(task_id, branch, staff, self.now, self.now + self.policy.claim):
            return self.store.get(task_id)
        task = self.task(task_id, branch)
        if task["status"] != "open":
            raise Conflict(f"the task is {task['status']}")
        raise Conflict("another staff member holds this task",
                       {"task_id": [f"Claimed until {task['claim_until']}."]})

    def release(self, task_id: str, branch: str, staff: str) -> dict:
        if not self.store.release(task_id, branch, staff, self.now):
            self.task(task_id, branch)
            raise Conflict("you do not hold this task")
        return self.store.get(task_id)

    def task(self, task_id: str, branch: str) -> dict:
        task = self.store.get(task_id, branch)
        if task is None:
            raise NotFound(f"callback task {task_id} not found")
        return task

    def _held(self, task_id: str, branch: str, staff: str) -> dict:
        task = self.task(task_id, branch)
        if task["status"] != "open":
            raise Conflict(f"the task is {task['status']}")
        claim = task.get("claim") or {}
        if claim.get("by") != staff or as_utc(task["claim_until"]) <= self.now:
            raise Conflict("claim the task first", {"task_id": ["Not claimed by you."]})
        return task

    # -- staff: a call ---------------------------------------------------------------
    def record(self, task_id: str, branch: str, staff: str, answers: dict) -> dict:
        for _ in range(MAX_RACE_RETRIES):
            task = self._held(task_id, branch, staff)
            attempt = {"at": self.now, "by": staff, "reached": answers["reached"],
                       "comment": answers.get("comment")}
            if answers["reached"]:
                written = self._conclude(task, attempt, self._answers(task, answers))
            else:
                written = self._unanswered(task, attempt)
            if written:
                done = self.store.get(task_id)
                if done.get("follow_up_due"):
                    self.settle_follow_ups(done)
                return done
        raise Conflict("the task changed while the call was recorded; try again")

    def reschedule(self, task_id: str, branch: str, staff: str, at: datetime,
                   reason: str) -> dict:
        """The customer asks to be called at another time."""
        if at <= self.now:
            raise InvalidInput("the time is in the past", {"at": ["Must be in the future."]})
        task = self._held(task_id, branch, staff)
        change = TaskChange(due_at=at, facts={"plan_at": at, "claim": None,
                                              "claim_until": self.now, "preferred_at": at},
                            recorded={"reschedules": {"at": self.now, "by": staff, "to": at,
                                                      "reason": reason}})
        if not self.store.update(task, change, self.uow.claim_until):
            raise Conflict("the task changed meanwhile; try again")
        return self.store.get(task_id)

    def _answers(self, task: dict, given: dict) -> dict:
        if task["kind"] not in ORDER_KINDS:
            return {"reached": True, "comment": given.get("comment")}
        missing = {key: ["Required when the customer was reached."] for key in ANSWER_KEYS
                   if given.get(key) is None}
        if missing:
            raise InvalidInput("the customer's answers are incomplete", missing)
        return {"reached": True, "fixed": given["fixed"], "on_time": given["on_time"],
                "attitude": given["attitude"], "satisfaction": given["satisfaction"],
                "paid_fen": to_fen(given["paid"]),
                "comment": given.get("comment")}

    def _unanswered(self, task: dict, attempt: dict) -> bool:
        made = len(task["attempts"]) + 1
        following = rules.next_attempt_due(as_utc(task["plan_at"]), self.policy.offsets, made,
                                           self.now)
        if following is None:
            return self._conclude(task, attempt, None)
        change = TaskChange(due_at=following, facts={"claim": None, "claim_until": self.now},
                            recorded={"attempts": attempt})
        return self.store.update(task, change, self.uow.claim_until)

    def _conclude(self, task: dict, attempt: dict, answers: dict | None) -> bool:
        """The task's outcome, its metrics and its one event, in one write."""
        sets: dict[str, Any] = {"status": "done", "done_at": self.now, "done_by": attempt["by"],
                                "claim": None, "answers": answers}
        events: list[dict] = []
        reached = None
        if task["kind"] in ORDER_KINDS:
            outcome = self._order_outcome(task, answers, sets)
            events = self._done_events(task, outcome, sets, len(task["attempts"]) + 1)
            if task["kind"] == "first":
                sets["follow_up_due"] = self.now
                milestone, reached = self._milestone(task)
                sets.update(milestone)
        else:
            outcome = "reached" if answers else "unreachable"
        sets["outcome"] = outcome
        change = TaskChange(done=True, facts=sets, recorded={"attempts": attempt},
                            events=events)
        if not self.store.update(task, change, self.uow.claim_until):
            return False
        self.uow.wrote(TASKS, task["_id"], events)
        if reached is not None:
            self.uow.reach(reached)
        self.uow.count("completed", task["branch"], outcome)
        return True

    def _order_outcome(self, task: dict, answers: dict | None, sets: dict) -> str:
        outcome = rules.classify(None if answers is None else rules.Answers(
            answers["fixed"], answers["on_time"], answers["attitude"],
            answers["satisfaction"], answers["paid_fen"], answers["comment"]))
        billed = self.store.billed_fen(task["order_id"])
        paid = None if answers is None else answers["paid_fen"]
        sets.update(month=rules.month_of(self.now, DISPLAY_TZ), billed_fen=billed,
                    paid_fen=paid,
                    paid_differs=paid is not None and rules.paid_differs(paid, billed))
        if answers is not None:
            seq = self.store.next_seq(f"audit:{task['branch']}")
            if rules.audit_sampled(task["branch"], seq, self.policy.audit_share,
                                   self.policy.audit_salt):
                sets["audit"] = {"seq": seq, "state": "pending", "sampled_at": self.now}
        return outcome

    def _done_events(self, task: dict, outcome: str, sets: dict,
                     attempts: int) -> list[dict]:
        answers = sets["answers"] or {}
        data = {"order_id": task["order_id"], "task_id": task["_id"], "kind": task["kind"],
                "outcome": outcome, "reached": bool(answers), "fixed": answers.get("fixed"),
                "on_time": answers.get("on_time"), "attitude": answers.get("attitude"),
                "satisfaction": answers.get("satisfaction"), "paid_fen": sets["paid_fen"],
                "billed_fen": sets["billed_fen"], "paid_differs": sets["paid_differs"],
                "comment": answers.get("comment"), "attempts": attempts,
                "technician_id": task.get("technician_id"),
                "first_visit": task.get("first_visit", True)}
        return self.uow.events(task["branch"], "callback_done", **data)

    def _milestone(self, task: dict) -> tuple[dict, Reached | None]:
        """The callback commitment reached now: met or breached, counted once (the sweeper
        may have counted the breach at the deadline already)."""
        fields: dict[str, Any] = {"milestone.at": self.now}
        rule = self._rule(task)
        if rule is None:
            return fields, None
        seconds = rule.calendar.elapsed(as_utc(task["completed_at"]), self.now).total_seconds()
        result = None
        if (task.get("milestone") or {}).get("outcome") is None:
            deadline = task.get("deadline")
            result = "met" if deadline is None or self.now <= as_utc(deadline) else "breached"
            fields["milestone.outcome"] = result
        return fields, Reached(milestone_labels(task), result, max(seconds, 0.0))

    # -- the commitment sweeper ------------------------------------------------------
    def sweep_breaches(self) -> int:
        swept = 0
        for task in self.store.unswept(self.now):
            if self.store.mark_breached(task["_id"], task["sweep_at"]):
                self.uow.reach(Reached(milestone_labels(task), "breached", -1.0))
                swept += 1
        return swept

