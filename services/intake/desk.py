"""The intake desk: turns a validated request into an order, a reminder or an answer.

Application layer: uses the store and the pure rules; knows nothing of nameko.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from schemas.fields import DISPLAY_TZ
from services.common.clock import as_utc
from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.reference import Reference
from services.common.unit_of_work import UnitOfWork
from services.intake.customer_file import CustomerFile
from services.intake.domain import priority as priority_rules
from services.intake.domain import requests as rules
from services.intake.domain.triage import Finding, TriageRules, rules_from, triage
from services.intake.domain.warranty import WarrantyPolicy, assess
from services.intake.numbering import OrderNumbers
from services.intake.store import REQUESTS, IntakeStore

log = logging.getLogger(__name__)
MAX_INSERT_ATTEMPTS = 5
FOLLOW_UP_LABELS = {"repeat_repair": "返修 repeat repair", "reservice": "投诉重修 re-service"}


@dataclass
class IntakeResult:
    order: dict[str, Any]
    created: bool


class IntakeDesk:
    def __init__(self, store: IntakeStore, reference: Reference, branches: list[str],
                 uow: UnitOfWork, numbers: dict[str, OrderNumbers],
                 customers: CustomerFile) -> None:
        self.store = store
        self.customers = customers
        self.numbers = numbers  # per-branch order-number allocators of this process
        self.reference = reference
        self.branches = branches
        self.uow = uow

    # -- entry point -----------------------------------------------------------------
    def receive(self, request: dict[str, Any], acting_branch: str | None = None,
                agent: str | None = None) -> IntakeResult:
        """``agent`` names who took the request (for the audit of a priority override)."""
        now = self.uow.now
        received_at = rules.check_received_at(request.get("received_at"), now)
        product = request["product"]
        local_today = now.astimezone(DISPLAY_TZ).date()
        rules.check_product_dates(product.get("purchase_date"),
                                  product.get("installation_date"), local_today)
        region = self._region(request["customer"]["region_code"], acting_branch)
        category = self._category(product["category"])
        result = self._place(request, region, category, received_at, now, agent)
        # The customer and the unit (客户档案) once the order is placed or found, so that a
        # refused request writes nothing; a request redelivered after a crash in between
        # links it then, and linking twice adds nothing.
        self.customers.link(result.order, product, now)
        return result

    def _place(self, request: dict, region, category: dict, received_at: datetime,
               now: datetime, agent: str | None) -> IntakeResult:
        product = request["product"]
        # Optimistic: the unique indexes on call ids and open matters catch a repeated call
        # or a reminder at insert time; only then are they looked up. The serial number's
        # recent orders are read first anyway (repeat repairs), and answer most cases.
        serial = product.get("serial_number")
        for _ in range(MAX_INSERT_ATTEMPTS):
            unit = self.store.same_unit(serial, region.branch) if serial else []
            existing = self._existing(request, region.branch, unit, now, look_up=False)
            if existing is not None:
                return existing
            try:
                return self._create(request, region, category, received_at, now,
                                    self._repeat_of(unit, now), agent)
            except DuplicateKeyError:
                existing = self._existing(request, region.branch, unit, now, look_up=True)
                if existing is not None:
                    return existing
        raise RuntimeError("could not place the request after repeated conflicts")

    # -- checks ----------------------------------------------------------------------
    def _region(self, code: str, acting_branch: str | None):
        region = self.reference.regions.get(code)
        if region is None or region.branch not in self.branches:
            raise InvalidInput(f"region {code} is not covered by this deployment",
                               {"customer": {"region_code": ["No branch covers this region."]}})
        if acting_branch and region.branch != acting_branch:
            raise InvalidInput(f"region {code} belongs to branch {region.branch}",
                               {"customer": {"region_code": [
                                   f"Region belongs to branch {region.branch}, "
                                   f"not {acting_branch}."]}})
        return region

    def _category(self, name: str) -> dict:
        category = self.reference.categories.get(name)
        if category is None:
            raise InvalidInput(f"unknown product category {name}", {"product": {"category": [
                f"Unknown category; one of: {', '.join(sorted(self.reference.categories))}."]}})
        return category

    # -- idempotency and reminders ---------------------------------------------------
    def _existing(self, request: dict, branch: str, unit: list[dict], now: datetime,
                  look_up: bool) -> IntakeResult | None:
        """The order this call made already, or the open order it reminds of. ``unit`` is
        the latest orders for the product's serial number (empty without one); with
        ``look_up`` the store is asked too."""
        call_id = request.get("call_id")
        known = None
        if call_id:
            known = next((d for d in unit if call_id in d.get("call_ids", [])), None)
            if known is None and look_up:
                known = self.store.by_call_id(call_id)
            if known is not None and known["branch"] != branch:
                # Call ids are unique across branches: say it is taken, show nothing of it.
                raise Conflict("来电编号已被使用 / this call_id is already in use",
                               {"call_id": ["换一个来电编号 / Use another call_id."]})
        if known is None and rules.scope(request["request_type"]) == "dispatch":
            key = self._open_key(request, branch)
            known = next((d for d in unit if d.get("open_key") == key), None)
            if known is None and look_up:
                known = self.store.open_order(key)
        if known is None:
            return None
        if call_id and call_id in known.get("call_ids", []):
            return IntakeResult(self.store.by_order_id(known["_id"]), created=False)
        events = self.uow.events(branch, "reminder_received", order_id=known["_id"],
                                 call_id=call_id, channel=request["channel"],
                                 description=request["description"])
        if self.store.add_reminder(known["_id"], call_id, events, now, self.uow.claim_until):
            self.uow.wrote(REQUESTS, known["_id"], events)
            return IntakeResult(self.store.by_order_id(known["_id"]), created=False)
        return IntakeResult(self.store.by_order_id(known["_id"]), created=False)

    @staticmethod
    def _open_key(request: dict, branch: str) -> str:
        return rules.open_order_key(branch, request["customer"]["phone"],
                                    request["product"].get("serial_number"),
                                    request["product"]["category"])

    # -- a new order -----------------------------------------------------------------
    def _create(self, request: dict, region, category: dict, received_at: datetime,
                now: datetime, repeat_of: str | None, agent: str | None) -> IntakeResult:
        product = request["product"]
        branch = region.branch
        scope = rules.scope(request["request_type"])
        hazards = triage(self._triage_rules(), request["description"], product["category"])
        priority, reasons, override = priority_rules.overridden(
            priority_rules.classify(self._priority_rules(), hazards, request["channel"],
                                    request["customer"].get("vip", False), repeat_of),
            self._override(request.get("priority_override"), agent, now))
        policy = WarrantyPolicy(category["warranty"]["whole_unit_months"],
                                category["warranty"]["main_part_months"],
                                tuple(category["warranty"]["main_parts"]),
                                category["needs_installation"])
        local_today = now.astimezone(DISPLAY_TZ).date()
        warranty = assess(policy, product.get("purchase_date"),
                          product.get("installation_date"), local_today)
        deadlines = {}
        if scope == "dispatch":
            deadlines = self.reference.commitments.deadlines(
                branch, region.zone, request["request_type"], priority, received_at)
        allocator = self.numbers.setdefault(branch, OrderNumbers())
        order_id = allocator.next(self.store, branch, received_at.astimezone(DISPLAY_TZ).date())
        doc = {
            "_id": order_id,
            "branch": branch,
            "zone": region.zone,
            "region_code": region.code,
            "lat": region.lat,
            "lon": region.lon,
            "request_type": request["request_type"],
            "channel": request["channel"],
            "customer": request["customer"],
            "product": _dates_to_text(product),
            "description": request["description"],
            "priority": priority,
            "priority_reasons": reasons,
            "safety_advice": self._safety_advice(priority, hazards),
            "warranty": warranty.as_dict(),
            "received_at": received_at,
            "deadlines": deadlines,
            "repeat_of": repeat_of,
            "reminders": 0,
            "status": {"dispatch": "new", "answer": "answered",
                       "complaints": "handed_to_complaints"}[scope],
            "created_at": now,
        }
        if request.get("call_id"):
            doc["call_ids"] = [request["call_id"]]
        if override is not None:
            doc["priority_override"] = override
        if scope == "dispatch":
            doc["open_key"] = self._open_key(request, branch)
        self._insert(doc, self._events_for(scope, doc))
        log.info("order created", extra={"order_id": order_id, "priority": priority,
                                         "zone": region.zone})
        return IntakeResult(doc, created=True)

    # -- follow-ups: a repeat repair (返修) or a re-service ordered by a complaint --------
    def create_follow_up(self, original_id: str, branch: str, kind: str, ref: str
                         ) -> IntakeResult:
        """A new order for the same customer and unit, linked to ``original_id``, at least
        high priority, dispatched again. ``kind`` + ``ref`` (the callback task or the
        complaint) identify it, so a redelivered request makes no second order; if the
        customer already has an open order for the unit, that one is the follow-up."""
        original = self.store.by_order_id(original_id, branch)
        if original is None:  # dead-lettered with the reason: nothing is made elsewhere
            raise NotFound(f"order {original_id} not found in branch {branch}")
        follow_up_id = f"{kind}:{ref}"
        for _ in range(MAX_INSERT_ATTEMPTS):
            known = self.store.by_call_id(follow_up_id) or self.store.open_order(
                self._open_key(original, original["branch"]))
            if known is not None:
                return IntakeResult(known, created=False)
            try:
                result = self._insert_follow_up(original, kind, follow_up_id, self.uow.now)
                self.customers.link(result.order, original["product"], self.uow.now)
                return result
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not place the follow-up after repeated conflicts")

    def _insert_follow_up(self, original: dict, kind: str, follow_up_id: str,
                          now: datetime) -> IntakeResult:
        branch = original["branch"]
        request_type = "repair" if original["request_type"] == "installation" else \
            original["request_type"]
        priority = "emergency" if original["priority"] == "emergency" else "high"
        allocator = self.numbers.setdefault(branch, OrderNumbers())
        doc = {key: original[key] for key in (
            "branch", "zone", "region_code", "lat", "lon", "channel", "customer", "product",
            "warranty")}
        doc.update({key: original[key] for key in ("customer_id", "unit_key", "unit_id")
                    if key in original})
        doc.update({
            "_id": allocator.next(self.store, branch, now.astimezone(DISPLAY_TZ).date()),
            "request_type": request_type,
            "description": f"{FOLLOW_UP_LABELS[kind]}: {original['description']}",
            "priority": priority, "priority_reasons": [kind],
            "received_at": now, "created_at": now, "reminders": 0, "status": "new",
            "deadlines": self.reference.commitments.deadlines(
                branch, original["zone"], request_type, priority, now),
            "repeat_of": original["_id"] if kind == "repeat_repair" else None,
            "follow_up_of": original["_id"], "follow_up_kind": kind,
            "call_ids": [follow_up_id], "open_key": self._open_key(original, branch),
        })
        self._insert(doc, self._events_for("dispatch", doc))
        log.info("follow-up order created", extra={"order_id": doc["_id"], "kind": kind,
                                                   "follow_up_of": original["_id"]})
        return IntakeResult(doc, created=True)

    def _insert(self, doc: dict, events: list[dict]) -> None:
        self.store.insert(doc, events, self.uow.claim_until)
        self.uow.wrote(REQUESTS, doc["_id"], events)

    def _repeat_of(self, unit: list[dict], now: datetime) -> str | None:
        """The same unit's order completed within the repeat window (返修), if any."""
        since = now - timedelta(days=self.reference.priority["repeat_window_days"])
        completed = [d for d in unit if d.get("completed_at") and as_utc(d["completed_at"])
                     >= since]
        return max(completed, key=lambda d: d["completed_at"])["_id"] if completed else None

    def _priority_rules(self) -> priority_rules.PriorityRules:
        spec = self.reference.priority
        return priority_rules.PriorityRules(tuple(spec["high_channels"]),
                                            spec["repeat_window_days"])

    def _triage_rules(self) -> TriageRules:
        return rules_from(self.reference.priority)

    @staticmethod
    def _override(given: dict | None, agent: str | None, now: datetime
                  ) -> priority_rules.Override | None:
        if given is None:
            return None
        return priority_rules.Override(given["priority"], given["reason"],
                                       agent or "unknown", now)

    def _safety_advice(self, priority: str, hazards: list[Finding]) -> list[dict[str, str]]:
        """What the agent tells the customer at once, per kind of hazard found (gas,
        electric), when the order is an emergency."""
        if priority != priority_rules.EMERGENCY:
            return []
        texts = self.reference.priority["safety_advice"]
        kinds = dict.fromkeys(finding.advice for finding in hazards)
        return [{"kind": kind, "text": texts[kind]} for kind in kinds]

    def _events_for(self, scope: str, doc: dict) -> list[dict]:
        if scope == "answer":
            return []
        data = {key: value for key, value in doc.items()
                if key not in ("_id", "open_key", "call_ids", "created_at", "status")}
        data["order_id"] = doc["_id"]
        data["received_at"] = doc["received_at"].isoformat()
        data["deadlines"] = {k: v.isoformat() for k, v in doc["deadlines"].items()}
        if doc.get("priority_override"):
            data["priority_override"] = {**doc["priority_override"],
                                         "at": doc["priority_override"]["at"].isoformat()}
        event_type = "order_created" if scope == "dispatch" else "complaint_received"
        return self.uow.events(doc["branch"], event_type, **data)


def _dates_to_text(product: dict) -> dict:
    return {key: (value.isoformat() if hasattr(value, "isoformat") else value)
            for key, value in product.items()}
