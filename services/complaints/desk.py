"""The complaint desk: opens complaints (or links a repeat to the open case), moves them
through acknowledgement, investigation, resolution and the customer's confirmation, and
sweeps missed deadlines up the escalation ladder.

Application layer over the store and the pure rules; knows nothing of nameko. Each change
and the events it causes are one conditional write; what a call did is gathered in
its unit of work, for the service to relay and count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from schemas.fields import DISPLAY_TZ
from services.common.clock import as_utc
from services.common.domain.branches import belongs_to
from services.common.domain.money import to_fen
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.reference import Reference
from services.common.unit_of_work import Reached, UnitOfWork
from services.complaints.domain import rules
from services.complaints.domain.case import CaseChange
from services.complaints.store import COMPLAINTS, ComplaintStore

log = logging.getLogger(__name__)
MAX_RACE_RETRIES = 5
ZONE = "any"  # complaint commitments are the same in every zone
REQUEST_TYPE = "complaint"


def refuse_foreign_orders(order_ids: list[str], branch: str, field_name: str) -> None:
    """An order of another branch is, to this branch, an order that does not exist: the
    same 404 the gateway gives for another branch's order, so nothing leaks either way."""
    foreign = [order_id for order_id in order_ids if not belongs_to(order_id, branch)]
    if foreign:
        raise NotFound(f"工单不存在 / order not found: {', '.join(foreign)}",
                       {field_name: ["本分支没有这张工单 / No such order in this branch."]})


@dataclass
class Actor:
    role: str
    branch: str

    @property
    def label(self) -> str:
        return f"{self.role}@{self.branch}"


class ComplaintDesk:
    def __init__(self, store: ComplaintStore, reference: Reference, penalty_points: dict,
                 uow: UnitOfWork) -> None:
        self.store = store
        self.reference = reference
        self.penalty_points = penalty_points
        self.uow = uow
        self.now = uow.now

    # -- helpers ---------------------------------------------------------------------
    def _events(self, doc: dict, kind: str, **data: Any) -> list[dict]:
        about = {"complaint_id": doc["_id"], "order_ids": doc.get("order_ids", []), **data}
        return self.uow.events(doc["branch"], kind, **about)

    def _entry(self, step: str, by: str, **details: Any) -> dict:
        return {"at": self.now, "step": step, "by": by, "details": details or None}

    def _rule(self, branch: str, severity: str, milestone: str):
        rule = self.reference.commitments.rule(branch, ZONE, REQUEST_TYPE, severity, milestone)
        if rule is None:
            raise RuntimeError(f"no commitment configured for {milestone}")
        return rule

    def _deadline(self, branch: str, severity: str, milestone: str, start: datetime):
        rule = self._rule(branch, severity, milestone)
        return rule.calendar.add(start, rule.target)

    def _apply(self, doc: dict, change: CaseChange) -> bool:
        if not self.store.update(doc, change, self.uow.claim_until):
            return False
        self.uow.wrote(COMPLAINTS, doc["_id"], change.events)
        self.uow.take(change.outcomes)
        return True

    # -- opening ---------------------------------------------------------------------
    def open(self, command: dict[str, Any], branch: str, ref: str | None,
             by: str) -> tuple[dict, bool]:
        """A new complaint (True), or the open case it repeats / the one this reference
        opened already (False). ``ref`` names the source (callback task, intake order,
        a client's reference) so a redelivery or a retried call opens nothing new."""
        command = self._linked(command, branch)
        key = rules.matter_key(branch, command["order_ids"],
                               (command.get("customer") or {}).get("phone"),
                               command.get("serial_number"), command["category"])
        for _ in range(MAX_RACE_RETRIES):
            known = self.store.by_ref(ref, branch) if ref else None
            if known is not None:
                return known, False
            case = self.store.by_matter(key)
            if case is not None and ref and ref in case.get("source_refs", []):
                return case, False  # the same source, opened by a racing replica
            if case is not None:
                if self._link_repeat(case, command, ref, by):
                    return self.store.get(case["_id"]), False
                continue
            try:
                return self._insert(command, branch, key, ref, by), True
            except DuplicateKeyError:
                continue  # the same reference or matter was opened meanwhile
        raise Conflict("the complaint changed repeatedly while it was recorded; try again")

    def _linked(self, command: dict, branch: str) -> dict:
        """Fill the order, technician and service centre from the completions seen: the
        order given, else the unit's latest completed order."""
        command = {**command, "order_ids": list(command.get("order_ids") or [])}
        refuse_foreign_orders(command["order_ids"], branch, "order_ids")
        if not command["order_ids"] and command.get("serial_number"):
            last = self.store.last_completion_of_unit(branch, command["serial_number"])
            if last is not None:
                command["order_ids"] = [last["_id"]]
        if command["order_ids"]:
            done = self.store.completion(command["order_ids"][0], branch) or {}
            command.setdefault("technician_id", None)
            command["technician_id"] = command["technician_id"] or done.get("technician_id")
            command["service_centre_id"] = command.get("service_centre_id") or done.get(
                "service_centre_id")
        return command

    def _insert(self, command: dict, branch: str, key: str, ref: str | None, by: str) -> dict:
        severity = rules.initial_severity(command["channel"], command.get("severity"))
        level = "hq" if command.get("above_branch") else "branch"
        deadlines = {m: self._deadline(branch, severity, m, self.now) for m in rules.MILESTONES}
        day = self.now.astimezone(DISPLAY_TZ).strftime("%Y%m%d")
        doc = {
            "_id": self.store.next_number(branch, day),
            "branch": branch, "month": rules.month_of(self.now, DISPLAY_TZ),
            "channel": command["channel"], "source": command.get("source", "manual"),
            "category": command["category"], "severity": severity,
            "description": command.get("description") or "",
            "customer": command.get("customer"), "serial_number": command.get("serial_number"),
            "order_ids": command["order_ids"], "technician_id": command.get("technician_id"),
            "service_centre_id": command.get("service_centre_id"),
            "above_branch": bool(command.get("above_branch")), "details": command.get("details"),
            "status": "open", "opened_at": self.now, "investigation_started_at": self.now,
            "deadlines": deadlines, "sweep_at": dict(deadlines), "milestones": {},
            "escalation_level": level, "escalations": [], "repeats": [], "penalties": [],
            "reopened": 0, "history": [], "open_matter": key,
            "timeline": [self._entry("opened", by, channel=command["channel"])],
        }
        if ref:
            doc["source_refs"] = [ref]
        events = self._events(doc, "complaint_opened", order_ids=doc["order_ids"],
                              category=doc["category"], severity=severity,
                              channel=doc["channel"], source=doc["source"])
        if level == "hq":  # 越级投诉: the customer took it above the branch
            doc["escalations"].append({"level": "hq", "at": self.now, "reason": "customer"})
            events += self._events(doc, "complaint_escalated", level="hq", reason="customer")
        self.store.insert(doc, events, self.uow.claim_until)
        self.uow.wrote(COMPLAINTS, doc["_id"], events)
        self.uow.count("opened", branch, doc["category"], doc["channel"])
        if level == "hq":
            self.uow.count("escalations", branch, "hq")
        log.info("complaint opened", extra={"complaint_id": doc["_id"], "ref": ref})
        return doc

    def _link_repeat(self, case: dict, command: dict, ref: str | None, by: str) -> bool:
        """A repeated complaint about the same open matter: linked to the case, severity
        one step up. Conditional on the version read, so each repeat counts once."""
        severity = rules.raise_severity(case["severity"])
        repeat = {"at": self.now, "channel": command["channel"], "ref": ref,
                  "description": command.get("description")}
        change = CaseChange(
            facts={"severity": severity}, recorded={"repeats": repeat},
            linked={"source_refs": [ref] if ref else [], "order_ids": command["order_ids"]},
            new_source=ref,
            entry=self._entry("repeated", by, channel=command["channel"], severity=severity))
        if command.get("above_branch") and case["escalation_level"] != "hq":
            change.facts.update(above_branch=True, escalation_level="hq")
            change.recorded["escalations"] = {"level": "hq", "at": self.now,
                                              "reason": "customer"}
            change.events = self._events(case, "complaint_escalated", level="hq",
                                         reason="customer")
            change.outcomes.count("escalations", case["branch"], "hq")
        elif command.get("above_branch"):
            change.facts["above_branch"] = True
        return self._apply(case, change)

    # -- steps -----------------------------------------------------------------------
    def step(self, complaint_id: str, action: str, payload: dict, actor: Actor) -> dict:
        for _ in range(MAX_RACE_RETRIES):
            doc = self.store.get(complaint_id, actor.branch)
            if doc is None:
                raise NotFound(f"complaint {complaint_id} not found")
            if action == "confirm" and not payload["satisfied"]:
                action = "reopen"  # the customer is not satisfied with the result
                payload = {"reason": payload.get("comment") or "customer not satisfied"}
            try:
                status = rules.next_status(action, doc["status"])
            except rules.IllegalStep as exc:
                raise Conflict(str(exc)) from None
            change = self._steps()[action](doc, payload, actor)
            change.status = status
            try:
                if self._apply(doc, change):
                    return self.store.get(complaint_id)
            except DuplicateKeyError:
                raise Conflict("another open complaint about this matter exists") from None
        raise Conflict("the complaint changed while this step was applied; try again")

    def _reach(self, doc: dict, milestone: str, start_field: str) -> tuple[dict, list]:
        """Facts for reaching a milestone now, and its outcome to count (none when
        the sweeper counted the breach already)."""
        sets: dict[str, Any] = {f"milestones.{milestone}.at": self.now}
        if "outcome" in (doc.get("milestones") or {}).get(milestone, {}):
            return sets, []
        deadline = as_utc(doc["deadlines"][milestone])
        outcome = "met" if self.now <= deadline else "breached"
        sets[f"milestones.{milestone}.outcome"] = outcome
        rule = self._rule(doc["branch"], doc["severity"], milestone)
        spent = rule.calendar.elapsed(as_utc(doc[start_field]), self.now).total_seconds()
        return sets, [Reached(_labels(doc, milestone), outcome, max(spent, 0.0))]

    def _steps(self) -> dict[str, Callable[[dict, dict, Actor], CaseChange]]:
        return {"acknowledge": self._do_acknowledge, "conclude": self._do_conclude,
                "resolve": self._do_resolve, "confirm": self._do_confirm,
                "reopen": self._do_reopen}

    def _do_acknowledge(self, doc: dict, payload: dict, actor: Actor) -> CaseChange:
        sets, reached = self._reach(doc, "complaint_ack", "opened_at")
        for key in ("category", "severity"):
            if payload.get(key):
                sets[key] = payload[key]
        change = CaseChange(facts=sets, cleared=["sweep_at.complaint_ack"],
                            entry=self._entry("acknowledged", actor.label,
                                              note=payload.get("note")))
        change.outcomes.milestones += reached
        return change

    def _do_conclude(self, doc: dict, payload: dict, actor: Actor) -> CaseChange:
        responsibility = payload["responsibility"]
        party_id = payload.get("party_id") or {
            "technician": doc.get("technician_id"), "branch": doc["branch"],
            "service_centre": doc.get("service_centre_id")}.get(responsibility)
        sets, reached = self._reach(doc, "complaint_investigation", "investigation_started_at")
        sets["investigation"] = {"findings": payload["findings"], "cause": payload.get("cause"),
                                 "responsibility": responsibility, "party_id": party_id,
                                 "concluded_at": self.now, "by": actor.label}
        change = CaseChange(facts=sets, cleared=["sweep_at.complaint_investigation"],
                            entry=self._entry("concluded", actor.label,
                                              responsibility=responsibility))
        change.outcomes.milestones += reached
        fine = rules.penalty(responsibility, party_id, doc["above_branch"], self.penalty_points)
        if fine is not None and not doc.get("penalties"):  # once per complaint
            change.recorded["penalties"] = {**fine, "at": self.now}
            change.outcomes.count("penalties", doc["branch"], fine["party"],
                                  amount=fine["points"])
        return change

    def _do_resolve(self, doc: dict, payload: dict, actor: Actor) -> CaseChange:
        kind = payload["kind"]
        amount_fen = to_fen(payload["amount"]) if payload.get("amount") is not None \
            else 0
        if kind == "compensation" and amount_fen <= 0:
            raise InvalidInput("a compensation needs an amount",
                               {"amount": ["Give the amount in yuan, above zero."]})
        order_id = payload.get("order_id") or next(iter(doc["order_ids"]), None)
        events: list[dict] = []
        if kind in ("reservice", "exchange", "refund"):
            if order_id is None:
                raise InvalidInput(f"a {kind} needs the order it concerns",
                                   {"order_id": ["Name the order."]})
            refuse_foreign_orders([order_id], doc["branch"], "order_id")
            if kind == "reservice":
                events = self._events(doc, "reservice_requested", order_id=order_id)
            else:
                events = self._events(doc, "refund_requested", order_id=order_id,
                                      remedy=kind, amount_fen=amount_fen)
        resolution = {"kind": kind, "amount_fen": amount_fen, "order_id": order_id,
                      "explanation": payload.get("explanation"), "resolved_at": self.now,
                      "by": actor.label}
        return CaseChange(facts={"resolution": resolution}, events=events,
                          entry=self._entry("resolved", actor.label, kind=kind,
                                            amount_fen=amount_fen))

    def _do_confirm(self, doc: dict, payload: dict, actor: Actor) -> CaseChange:
        confirmation = {"satisfied": True, "comment": payload.get("comment"),
                        "at": self.now, "by": actor.label}
        return CaseChange(facts={"confirmation": confirmation}, cleared=["open_matter"],
                          entry=self._entry("closed", actor.label))

    def _do_reopen(self, doc: dict, payload: dict, actor: Actor) -> CaseChange:
        """Investigated again, with a fresh investigation deadline; the previous round is
        kept in the history."""
        deadline = self._deadline(doc["branch"], doc["severity"], "complaint_investigation",
                                  self.now)
        past = {key: doc.get(key) for key in ("investigation", "resolution", "confirmation")}
        past["milestone"] = (doc.get("milestones") or {}).get("complaint_investigation")
        sets = {"deadlines.complaint_investigation": deadline,
                "sweep_at.complaint_investigation": deadline,
                "investigation_started_at": self.now,
                "open_matter": rules.matter_key(
                    doc["branch"], doc["order_ids"], (doc.get("customer") or {}).get("phone"),
                    doc.get("serial_number"), doc["category"])}
        return CaseChange(facts=sets, reopened=True, recorded={"history": past},
                          cleared=["investigation", "resolution", "confirmation",
                                   "milestones.complaint_investigation"],
                          entry=self._entry("reopened", actor.label, reason=payload["reason"]))

    # -- the deadline sweeper --------------------------------------------------------
    def next_breach_due(self) -> datetime | None:
        """When the earliest open complaint's deadline falls due (None: none open)."""
        due = [at for at in map(self.store.next_due, rules.MILESTONES) if at is not None]
        return min(map(as_utc, due), default=None)

    def sweep_breaches(self) -> int:
        """Count each missed deadline once, at the deadline, and move the complaint one
        rung up the ladder (branch → supervisor → HQ). The conditional write is the claim:
        with several replicas exactly one of them applies it."""
        swept = 0
        for milestone in rules.MILESTONES:
            for doc in self.store.unswept(milestone, self.now):
                if self._apply(doc, self._breach(doc, milestone)):
                    swept += 1
        return swept

    def _breach(self, doc: dict, milestone: str) -> CaseChange:
        change = CaseChange(cleared=[f"sweep_at.{milestone}"],
                            entry=self._entry("breached", "sla", milestone=milestone))
        if "outcome" in (doc.get("milestones") or {}).get(milestone, {}):
            return change  # counted already: only the stale look-up to clear
        change.facts[f"milestones.{milestone}.outcome"] = "breached"
        change.outcomes.reach(Reached(_labels(doc, milestone), "breached", -1.0))
        level = rules.escalation_after_breach(doc["escalation_level"])
        if level is not None:
            change.facts["escalation_level"] = level
            change.recorded["escalations"] = {"level": level, "at": self.now,
                                              "reason": f"{milestone}_missed"}
            change.events = self._events(doc, "complaint_escalated", level=level,
                                         reason="deadline_missed", milestone=milestone)
            change.outcomes.count("escalations", doc["branch"], level)
        return change


def _labels(doc: dict, milestone: str) -> tuple[str, str, str, str, str]:
    return (doc["branch"], ZONE, milestone, REQUEST_TYPE, doc["severity"])
