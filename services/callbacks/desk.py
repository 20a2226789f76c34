"""The callback desk: tasks from completed orders and schedules, staff claims, answers and
their consequences, HQ re-calls. Application layer over the store and the pure rules;
knows nothing of nameko. Every consequence leaves as one ``callback_done`` event written
with the task's outcome in the same single-document update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.callbacks import ANSWER_KEYS
from schemas.fields import DISPLAY_TZ
from services.callbacks.domain import rules, schedules
from services.callbacks.domain.task import TaskChange
from services.callbacks.store import TASKS, CallbackStore, queue_key
from services.common.clock import as_utc
from services.common.domain.commitments import parse_duration
from services.common.domain.money import to_fen
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.reference import Reference
from services.common.unit_of_work import Reached, UnitOfWork

SOURCE = "callbacks"
MILESTONE = "callback"
ORDER_KINDS = ("first", "second")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RACE_RETRIES = 5
CONTEXT = ("branch", "order_id", "customer", "product", "technician_id", "zone",
           "request_type", "priority", "completed_at")


@dataclass(frozen=True)
class Policy:
    """The callbacks block of the settings."""

    offsets: tuple[timedelta, ...]  # planned calls after completion (demo 4 h, 1 d, 2 d)
    claim: timedelta  # how long a staff claim holds a task
    audit_share: float  # share of completed callbacks HQ re-calls
    second_after: timedelta  # second follow-up after the first callback
    audit_salt: str = ""

    @classmethod
    def from_settings(cls, settings: dict, calendar) -> Policy:
        spec = settings.get("callbacks") or {}
        offsets = tuple(parse_duration(text.strip(), calendar) for text in
                        str(spec.get("attempt_offsets", "4h,1d,2d")).split(","))
        share = float(spec.get("audit_share", 0.1))
        if not 0 <= share <= 1 or not offsets:
            raise ValueError("callbacks: audit_share is a share (0-1); give attempt_offsets")
        return cls(offsets, timedelta(minutes=float(spec.get("claim_minutes", 30))), share,
                   timedelta(days=float(spec.get("second_follow_up_days", 7))),
                   str(spec.get("audit_salt", "")))


class CallbackDesk:
    def __init__(self, store: CallbackStore, reference: Reference, policy: Policy,
                 uow: UnitOfWork) -> None:
        self.store = store
        self.reference = reference
        self.policy = policy
        self.uow = uow
        self.now = uow.now

    # -- tasks from events -------------------------------------------------------------
    def task_from_completion(self, data: dict[str, Any]) -> bool:
        """The first callback of a completed order; False on a redelivery."""
        completion = data["completion"]
        completed_at = as_utc(datetime.fromisoformat(completion["completed_at"]))
        preferred = completion.get("callback_at")
        preferred_at = as_utc(datetime.fromisoformat(preferred)) if preferred else None
        due = rules.first_due(completed_at, self.policy.offsets, preferred_at)
        branch = data["branch"]
        doc = {
            "_id": f"CB-{data['order_id']}", "kind": "first", "status": "open",
            "branch": branch, "order_id": data["order_id"],
            "customer": _contact(data.get("customer") or {}),
            "product": data.get("product") or {}, "technician_id": data.get("technician_id"),
            "zone": data["zone"], "request_type": data["request_type"],
            "priority": data["priority"], "completed_at": completed_at,
            "first_visit": not data.get("follow_up_of"), "preferred_at": preferred_at,
            "plan_at": due, "due_at": due, "queue_key": queue_key(branch, due),
            "claim_until": EPOCH, "claim": None, "attempts": [], "created_at": self.now,
        }
        deadline = self._deadline(doc)
        if deadline is not None:
            doc.update(deadline=deadline, sweep_at=deadline)
        self._remember_unit(doc)
        created = self.store.insert_task(doc)
        if created:
            self.uow.count("created")
            self._fill_pending_second(doc)
        return created

    def _deadline(self, task: dict) -> datetime | None:
        rule = self._rule(task)
        return None if rule is None else rule.calendar.add(task["completed_at"], rule.target)

    def _rule(self, task: dict):
        return self.reference.commitments.rule(task["branch"], task["zone"],
                                               task["request_type"], task["priority"],
                                               MILESTONE)

    def _remember_unit(self, task: dict) -> None:
        product = task["product"]
        if not product.get("category"):
            return
        key = product.get("serial_number") or \
            f"{task['customer'].get('phone')}|{product['category']}"
        self.store.remember_unit(f"{task['branch']}|{key}", {
            "branch": task["branch"], "category": product["category"], "unit_key": key,
            "customer": task["customer"], "product": product,
            "last_order_id": task["order_id"], "last_completed_at": task["completed_at"]})

    def bill_settled(self, data: dict[str, Any], at: datetime) -> None:
        self.store.remember_bill(data["order_id"], data["bill_id"], data["total_fen"], at)

    def complaint_opened(self, branch: str, data: dict[str, Any]) -> int:
        """A second follow-up for each linked order (once per order, whatever asks)."""
        return sum(self.ensure_second(order_id, branch, f"complaint:{data['complaint_id']}")
                   for order_id in data["order_ids"])

    # -- second follow-ups ---------------------------------------------------------------
    def ensure_second(self, order_id: str, branch: str, reason: str) -> bool:
        """Dated 7 days after the first callback; pending until that one is done."""
        second_id = f"CB2-{order_id}"
        if self.store.get(second_id) is not None:
            self.store.add_reason(second_id, reason)
            return False
        first = self.store.get(f"CB-{order_id}")
        doc = {"_id": second_id, "kind": "second", "status": "pending", "branch": branch,
               "order_id": order_id, "reasons": [reason], "claim_until": EPOCH,
               "claim": None, "attempts": [], "due_at": None, "created_at": self.now}
        if first is not None:
            doc.update({key: first.get(key) for key in CONTEXT})
            doc["first_visit"] = False
        if first is not None and first["status"] == "done":
            due = as_utc(first["done_at"]) + self.policy.second_after
            doc.update(status="open", due_at=due, plan_at=due,
                       queue_key=queue_key(doc["branch"], due))
        created = self.store.insert_task(doc)
        if created and doc["status"] == "pending":
            self._activate_if_first_done(order_id)  # the first may have finished meanwhile
        return created

    def _fill_pending_second(self, first: dict) -> None:
        """A complaint came before the order's completion reached us: give the waiting
        second follow-up the order's details."""
        self.store.fill_pending(f"CB2-{first['order_id']}",
                                {**{key: first.get(key) for key in CONTEXT}, "first_visit": False})

    def _activate_if_first_done(self, order_id: str) -> None:
        first = self.store.get(f"CB-{order_id}")
        if first is not None and first["status"] == "done":
            due = as_utc(first["done_at"]) + self.policy.second_after
            self.store.activate_second(f"CB2-{order_id}", first["branch"], due)

    def settle_follow_ups(self, task: dict) -> None:
        """After a first callback is done: a repeat repair asks for a second follow-up, and
        one already asked for (a complaint) gets its date. Marked in the task's own write
        (``follow_up_due``) and cleared here, so a crash in between is finished later."""
        if task.get("outcome") == "not_fixed":
            self.ensure_second(task["order_id"], task["branch"], "repeat_repair")
        self._activate_if_first_done(task["order_id"])
        self.store.follow_ups_settled(task["_id"])

    def unsettled(self, limit: int = 50) -> list[dict]:
        return self.store.unsettled(self.now, limit)

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
        return fields, Reached(_labels(task), result, max(seconds, 0.0))

    # -- the commitment sweeper ------------------------------------------------------
    def sweep_breaches(self) -> int:
        swept = 0
        for task in self.store.unswept(self.now):
            if self.store.mark_breached(task["_id"], task["sweep_at"]):
                self.uow.reach(Reached(_labels(task), "breached", -1.0))
                swept += 1
        return swept

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


def _contact(customer: dict) -> dict:
    return {key: customer.get(key) for key in ("name", "phone", "address", "region_code")}


def _labels(task: dict) -> tuple[str, str, str, str, str]:
    return (task["branch"], task["zone"], MILESTONE, task["request_type"], task["priority"])
