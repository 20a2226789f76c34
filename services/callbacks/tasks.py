"""Callback tasks from other services' events: the first callback of each completed
order, the second follow-up after it, and the billed totals and complaints they note."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.callbacks.base import (
    CONTEXT,
    EPOCH,
    MILESTONE,
    DeskBase,
    contact,
)
from services.callbacks.domain import rules
from services.callbacks.store import queue_key
from services.common.clock import as_utc


class TaskMaking(DeskBase):
    """The desk's tasks made from events."""

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
            "customer": contact(data.get("customer") or {}),
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

