"""The customer file (客户档案): finds or makes the household and the unit a request is
about, and answers the agent's questions about them.

Application layer: uses the stores and the pure rules (domain/customers.py); knows
nothing of nameko.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.fields import DISPLAY_TZ
from services.common.errors import Conflict, NotFound
from services.intake.customer_store import CustomerStore
from services.intake.domain import customers as rules
from services.intake.store import IntakeStore

MAX_FOUND = 10  # a seven-digit prefix may match several households
MAX_ATTEMPTS = 5


class CustomerFile:
    def __init__(self, store: CustomerStore, numbers: IntakeStore) -> None:
        self.store = store
        self.numbers = numbers  # the daily counters customer numbers are drawn from

    # -- on every request --------------------------------------------------------------
    def customer_for(self, branch: str, customer: dict, now: datetime) -> dict[str, Any]:
        """The household of the caller's phone, made on their first call. A redelivered
        or concurrent first call finds the record the other made (unique phone)."""
        phone = rules.normalise_phone(customer["phone"])
        address = rules.address_entry(customer["address"], customer["region_code"])
        for _ in range(MAX_ATTEMPTS):
            known = self.store.by_phone(branch, phone)
            if known is not None:
                if address not in known.get("addresses", []):
                    self.store.note_contact(branch, known["_id"], address, now)
                return known
            day = now.astimezone(DISPLAY_TZ).date()
            sequence = self.numbers.reserve_sequence(f"CU-{branch}-{day:%Y%m%d}", 1)
            doc = {"_id": rules.customer_number(branch, day, sequence), "branch": branch,
                   "phones": [phone], "name": customer["name"], "addresses": [address],
                   "created_at": now, "last_contact_at": now}
            if self.store.insert_customer(doc):
                return doc
        raise RuntimeError("could not record the customer after repeated conflicts")

    def link(self, order: dict, product: dict, now: datetime) -> None:
        """The order's customer and unit, made on their first call, and the order in the
        unit's service history. ``product``: what this request tells of the unit.
        Idempotent: a redelivered request adds nothing twice."""
        branch = order["branch"]
        if not order.get("customer_id"):
            customer = self.customer_for(branch, order["customer"], now)
            units = self.store.units_of(branch, customer["_id"])
            key = rules.unit_key(order["product"].get("serial_number"),
                                 order["product"]["category"], customer["_id"], units)
            belongs = {"customer_id": customer["_id"], "unit_key": key,
                       "unit_id": rules.unit_id(branch, key)}
            self.store.belong(branch, order["_id"], belongs)
            order.update(belongs)
        self.store.link_unit(branch, order["unit_id"], order["unit_key"],
                             order["customer_id"], rules.unit_facts(product), order["_id"],
                             now)

    # -- the agent's questions ---------------------------------------------------------
    def find(self, branch: str, typed: str) -> list[dict[str, Any]]:
        """Households whose phone is, or starts with, what the agent typed, each with its
        units and open requests."""
        search = rules.phone_search(typed)
        found = self.store.search(branch, search.digits, search.exact, MAX_FOUND)
        return [self._summary(branch, customer) for customer in found]

    def view(self, branch: str, customer_id: str) -> dict[str, Any]:
        """One household with each unit's service history."""
        customer = self._customer(branch, customer_id)
        units = self.store.units_of(branch, customer_id)
        history = {doc["_id"]: doc for doc in self.store.history(
            branch, [oid for unit in units for oid in unit.get("order_ids", [])])}
        return {**_customer_out(customer),
                "units": [{**_unit_out(unit), "history": [
                    _request_out(history[oid]) for oid in _newest_first(unit, history)]}
                    for unit in units],
                "open_requests": [_request_out(doc) for doc in
                                  self.store.open_requests(branch, customer_id)]}

    def add_phone(self, branch: str, customer_id: str, phone: str, now: datetime
                  ) -> dict[str, Any]:
        for _ in range(MAX_ATTEMPTS):
            customer = self._customer(branch, customer_id)
            phones = rules.add_phone(customer["phones"], phone)
            if phones == customer["phones"]:
                return self.view(branch, customer_id)
            outcome = self.store.set_phones(branch, customer_id, customer["phones"], phones,
                                            now)
            if outcome == "ok":
                return self.view(branch, customer_id)
            if outcome == "taken":
                raise Conflict("该号码已属于另一客户 / this phone is another customer's",
                               {"phone": ["该号码已登记在另一客户名下 / The phone belongs to "
                                          "another customer record."]})
        raise Conflict("客户档案正被同时修改，请重试 / the record changed meanwhile; try again")

    def merge(self, branch: str, kept_id: str, absorbed_id: str, now: datetime
              ) -> dict[str, Any]:
        """Two records of one household become ``kept_id``: the other's phones, addresses,
        units and requests join it, and the other leaves the file (kept aside, with
        whom it joined). Resumed where it stopped when called again after a failure."""
        rules.check_merge(kept_id, absorbed_id)
        kept = self._customer(branch, kept_id)
        absorbed = self.store.by_id(branch, absorbed_id)
        if absorbed is None:
            absorbed = self.store.merged_record(branch, absorbed_id)
            if absorbed is None or absorbed.get("merged_into") != kept_id:
                raise NotFound(f"客户 {absorbed_id} 不存在 / customer {absorbed_id} not found")
        rules.merged_phones(kept["phones"], absorbed["phones"])  # refused before any write
        self.store.move_history(branch, absorbed_id, kept_id)
        self.store.retire({k: v for k, v in absorbed.items()
                           if k not in ("merged_into", "merged_at")}, kept_id, now)
        if not self.store.absorb(branch, kept_id, absorbed["phones"],
                                 absorbed.get("addresses", []), now):
            raise Conflict("号码已被另一客户登记，请先合并该客户 / a phone is another record's",
                           {"customer_id": ["合并中途有新档案使用了该号码 / A new record took "
                                            "one of the phones meanwhile."]})
        return self.view(branch, kept_id)

    def _customer(self, branch: str, customer_id: str) -> dict[str, Any]:
        customer = self.store.by_id(branch, customer_id)
        if customer is None:
            raise NotFound(f"客户 {customer_id} 不存在 / customer {customer_id} not found")
        return customer

    def _summary(self, branch: str, customer: dict) -> dict[str, Any]:
        return {**_customer_out(customer),
                "units": [_unit_out(unit) for unit in
                          self.store.units_of(branch, customer["_id"])],
                "open_requests": [_request_out(doc) for doc in
                                  self.store.open_requests(branch, customer["_id"])]}


def _newest_first(unit: dict, history: dict) -> list[str]:
    known = [oid for oid in unit.get("order_ids", []) if oid in history]
    return sorted(known, key=lambda oid: history[oid]["received_at"], reverse=True)


def _customer_out(doc: dict) -> dict[str, Any]:
    return {"customer_id": doc["_id"], "branch": doc["branch"], "name": doc.get("name"),
            "phones": list(doc.get("phones", [])),
            "addresses": list(doc.get("addresses", [])),
            "created_at": doc.get("created_at")}


def _unit_out(doc: dict) -> dict[str, Any]:
    out = {"unit_id": doc["_id"], "order_ids": list(doc.get("order_ids", []))}
    out.update({name: doc.get(name) for name in ("serial_number", *rules.UNIT_FACTS)})
    out["first_seen_at"] = doc.get("first_seen_at")
    return out


def _request_out(doc: dict) -> dict[str, Any]:
    out = {"order_id": doc["_id"]}
    for name in ("request_type", "status", "priority", "description", "received_at",
                 "completed_at", "fault", "unit_id", "follow_up_of"):
        if doc.get(name) is not None:
            out[name] = doc[name]
    if doc.get("warranty"):
        out["warranty"] = doc["warranty"].get("status")
    if doc.get("product"):
        out["serial_number"] = doc["product"].get("serial_number")
        out["category"] = doc["product"].get("category")
    return out
