"""A job's completion: exactly the parts it reports consumed (from its holds first,
then the van), what it held and did not use released, a write-off opened for each
warranty part until the old part is back."""

from __future__ import annotations

import uuid
from collections import defaultdict

from services.common.domain.coverage import IN_WARRANTY, QUALITY_FAILURE, old_part_owed
from services.common.errors import InvalidInput, NotFound
from services.inventory.base import KeeperBase
from services.inventory.domain import sourcing
from services.inventory.domain.catalogue import Location
from services.inventory.store import (
    BACKORDERS,
    WRITEOFFS,
)


def _totals(lines: list[dict]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line["sku"]] += int(line["quantity"])
    return dict(totals)


def _coverage_facts(data: dict) -> tuple[str, str]:
    """The warranty and the cause billing prices the completion with (its ``billing``
    facts). Events of earlier versions carried at most the warranty (intake's record or
    the status decided by completion time); where nothing decided it, the 三包
    presumption holds, as at completion: in warranty, a quality failure."""
    facts = data.get("billing") or {}
    warranty = facts.get("warranty") or data.get("warranty")
    if isinstance(warranty, dict):
        warranty = warranty.get("status")
    if warranty in (None, "unknown"):
        warranty = IN_WARRANTY
    return warranty, facts.get("cause") or QUALITY_FAILURE


class Completion(KeeperBase):
    """The storekeeper's work when an order is completed or cancelled."""

    # -- completion: consumption, releases, write-offs ---------------------------------
    def on_completed(self, branch: str, data: dict, event_id: str) -> bool:
        """Consume exactly the parts the completion reports: from the order's holds
        first, then the van; release what was held and not used; open a write-off for
        each warranty part until its old part is back. The plan is stored before any
        step runs, so a redelivery replays the same steps (each applied once).
        False for a redelivery of finished work."""
        order_id = data["order_id"]
        job = self.store.job(order_id)
        if job is not None and job.get("consumption"):
            return False
        completion = data.get("completion") or {}
        van = self.catalogue.van_of(data.get("technician_id"), branch)
        plan = (job or {}).get("consumption_plan")
        if plan is None:
            plan = self._store_plan(branch, order_id, data, self._plan(
                order_id, _totals(completion.get("parts_used") or []), van))
        consumed, unmatched, released = self._run_steps(order_id, plan["steps"], "completion")
        unmatched = list(plan["unknown"]) + unmatched
        self._cancel_waiting(order_id)
        self._open_writeoffs(branch, order_id, consumed, data)
        over = self._returns_at_completion(branch, order_id, completion, van)
        lines = [{"sku": s, "quantity": q} for s, q in _totals(consumed).items()]
        consumption = {"at": self.now, "lines": lines, "unmatched": unmatched,
                       "released": released, "over_returned": over, "event_id": event_id}
        events = self.uow.events(branch, "parts_consumed", order_id=order_id, lines=lines,
                              unmatched=unmatched)
        return self._job_written(order_id, self.store.record_consumption(
            order_id, consumption, events, self.uow.claim_until), events)

    def on_cancelled(self, order_id: str) -> list[dict]:
        """A cancelled order gives back what it held and stops waiting for parts."""
        _, _, released = self._run_steps(order_id, self._plan(order_id, {}, None)["steps"],
                                         "cancellation")
        self._cancel_waiting(order_id)
        return released

    def _run_steps(self, order_id: str, steps: list[dict], by: str
                   ) -> tuple[list[dict], list[dict], list[dict]]:
        """(consumed, unmatched, released) lines of a plan's movements."""
        consumed, unmatched, released = [], [], []
        for step in steps:
            loc = self.catalogue.locations[step["location"]]
            kind = step["kind"]
            done = self.move(loc, step["sku"], kind, step["quantity"], step["id"], by,
                             None if kind == "consume_unreserved" else order_id,
                             for_order=order_id)
            line = {"sku": step["sku"], "quantity": step["quantity"],
                    "location": step["location"]}
            if kind == "release":
                released += [line] if done else []
            elif done:
                consumed.append(line)
            else:
                unmatched.append({"sku": step["sku"], "quantity": step["quantity"]})
        return consumed, unmatched, released

    def _plan(self, order_id: str, used: dict[str, int], van: Location | None) -> dict:
        """The movements of a completion: consume from holds (the van's first), the rest
        from the van's free stock; release the holds not used."""
        holds = self._holds(order_id, van)
        steps, unknown = [], []
        for sku, quantity in used.items():
            if sku not in self.catalogue.parts:
                unknown.append({"sku": sku, "quantity": quantity})
                continue
            taken, rest = sourcing.split_use(quantity, holds.get(sku, []))
            steps += [{"kind": "consume", "location": loc, "sku": sku, "quantity": take,
                       "id": f"{order_id}:consume:{sku}"} for loc, take in taken]
            if rest and van is not None:
                steps.append({"kind": "consume_unreserved", "location": van.location_id,
                              "sku": sku, "quantity": rest,
                              "id": f"{order_id}:consume-free:{sku}"})
            elif rest:
                unknown.append({"sku": sku, "quantity": rest})
            holds[sku] = [(loc, held - dict(taken).get(loc, 0))
                          for loc, held in holds.get(sku, [])]
        for sku, held in holds.items():
            steps += [{"kind": "release", "location": loc, "sku": sku, "quantity": rest,
                       "id": f"{order_id}:release:{sku}"} for loc, rest in held if rest > 0]
        return {"steps": steps, "unknown": unknown}

    def _store_plan(self, branch: str, order_id: str, data: dict, plan: dict) -> dict:
        """The first plan stored wins; a concurrent redelivery replays that one."""
        return self.store.keep_consumption_plan(order_id, branch, data.get("technician_id"),
                                                self.now, plan)

    def _holds(self, order_id: str, van: Location | None) -> dict[str, list[tuple[str, int]]]:
        """The order's reservations per part: the van's first."""
        holds: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for doc in self.store.reserved_for(order_id):
            holds[doc["sku"]].append((doc["location"], doc["res"][order_id]))
        for held in holds.values():
            held.sort(key=lambda item: (item[0] != (van.location_id if van else None),
                                        item[0]))
        return holds

    def _cancel_waiting(self, order_id: str) -> None:
        for backorder in self.store.open_backorders_of(order_id):
            self.store.move(BACKORDERS, backorder["_id"], "open",
                            {"status": "cancelled", "cancelled_at": self.now})
        self.store.cancel_requested_transfers(order_id)

    def _open_writeoffs(self, branch: str, order_id: str, consumed: list[dict],
                        data: dict) -> None:
        """A write-off per warranty part the maker pays for, by billing's own rule (who
        pays, from the completion's facts): a part the customer paid for owes no old
        part to anyone."""
        warranty, cause = _coverage_facts(data)
        for sku, quantity in _totals(consumed).items():
            part = self.catalogue.parts[sku]
            if old_part_owed(part.warranty_part, warranty, cause, part.main_part):
                self.store.insert(WRITEOFFS, {
                    "_id": f"W-{order_id}-{sku}", "branch": branch, "order_id": order_id,
                    "sku": sku, "quantity": quantity, "outstanding": quantity, "returned": 0,
                    "returns": [], "status": "open", "opened_at": self.now,
                    "cost_fen": part.cost_price_fen * quantity,
                    "technician_id": data.get("technician_id")})

    def _returns_at_completion(self, branch: str, order_id: str, completion: dict,
                               van: Location | None) -> list[dict]:
        """Old parts handed back at completion; any beyond what was consumed is noted."""
        over = []
        for sku, quantity in _totals(completion.get("old_parts_returned") or []).items():
            if sku not in self.catalogue.parts or not self._take_return(
                    branch, order_id, sku, quantity, f"{order_id}:completion:{sku}", van,
                    "completion"):
                over.append({"sku": sku, "quantity": quantity})
        return over

    def return_old_part(self, branch: str, order_id: str, payload: dict, by: str) -> dict:
        """An old part (旧件) brought back later; more than was consumed is refused."""
        sku = self.part(payload["sku"]).sku
        loc = self.location(payload["location"], branch) if payload.get("location") \
            else self.warehouse(branch)
        writeoff_id = f"W-{order_id}-{sku}"
        if self.store.get(WRITEOFFS, writeoff_id, branch) is None:
            raise NotFound(f"no write-off of {sku} on order {order_id}")
        if not self._take_return(branch, order_id, sku, payload["quantity"],
                                 f"{order_id}:return:{uuid.uuid4().hex[:8]}", loc, by):
            raise InvalidInput("more old parts than are outstanding",
                               {"quantity": ["More than the parts awaiting return."]})
        return self.doc_view(self.store.get(WRITEOFFS, writeoff_id))

    def _take_return(self, branch: str, order_id: str, sku: str, quantity: int,
                     return_id: str, loc: Location | None, by: str) -> bool:
        writeoff_id = f"W-{order_id}-{sku}"
        if not self.store.return_old_part(writeoff_id, quantity, return_id, self.now):
            return False
        self.move(loc or self.warehouse(branch), sku, "old_part_return", quantity, return_id,
                  by, writeoff_id=writeoff_id, for_order=order_id)
        return True

