"""The customer file's documents in intake's database: one per household (``customers``,
unique by phone within a branch) and one per installed unit (``units``, unique by serial
number — or by customer and category while the serial is unknown — within a branch).
Every query names the branch."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

CUSTOMERS = "customers"
UNITS = "units"
MERGED = "merged_customers"  # records merged into another one, kept as they were
HISTORY_FIELDS = {"request_type": 1, "status": 1, "received_at": 1, "completed_at": 1,
                  "description": 1, "priority": 1, "fault": 1, "unit_id": 1,
                  "customer_id": 1, "warranty.status": 1, "follow_up_of": 1}


def ensure_customer_indexes(db: Database) -> None:
    customers = db[CUSTOMERS]
    # One household per phone in a branch: a redelivered first call finds the record the
    # first delivery made (a second insert fails on this index).
    customers.create_index([("branch", ASCENDING), ("phones", ASCENDING)], unique=True)
    units = db[UNITS]
    units.create_index([("branch", ASCENDING), ("key", ASCENDING)], unique=True)
    units.create_index([("branch", ASCENDING), ("customer_id", ASCENDING)])
    db["requests"].create_index([("customer_id", ASCENDING), ("received_at", DESCENDING)],
                                sparse=True)


class CustomerStore:
    def __init__(self, db: Database) -> None:
        self.customers = db[CUSTOMERS]
        self.units = db[UNITS]
        self.merged = db[MERGED]
        self.requests = db["requests"]

    # -- customers -------------------------------------------------------------------
    def by_phone(self, branch: str, phone: str) -> dict[str, Any] | None:
        return self.customers.find_one({"branch": branch, "phones": phone})

    def by_id(self, branch: str, customer_id: str) -> dict[str, Any] | None:
        return self.customers.find_one({"_id": customer_id, "branch": branch})

    def search(self, branch: str, digits: str, exact: bool, limit: int) -> list[dict]:
        """Customers whose phones equal ``digits``, or start with them (digits only:
        checked by the rule that made them, escaped here all the same)."""
        match: Any = digits if exact else {"$regex": "^" + re.escape(digits)}
        return list(self.customers.find({"branch": branch, "phones": match},
                                        sort=[("_id", ASCENDING)], limit=limit))

    def insert_customer(self, doc: dict[str, Any]) -> bool:
        """False when the phone is already a customer's (another delivery, a race)."""
        try:
            self.customers.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    def note_contact(self, branch: str, customer_id: str, address: dict, now: datetime
                     ) -> None:
        """An address the customer gave is kept once; the last contact time moves."""
        self.customers.update_one({"_id": customer_id, "branch": branch},
                                  {"$addToSet": {"addresses": address},
                                   "$set": {"last_contact_at": now}})

    def set_phones(self, branch: str, customer_id: str, before: list[str],
                   phones: list[str], now: datetime) -> str:
        """``ok``, ``changed`` (another write came first: read and try again) or
        ``taken`` (a new phone is another customer's)."""
        try:
            result = self.customers.update_one(
                {"_id": customer_id, "branch": branch, "phones": before},
                {"$set": {"phones": phones, "updated_at": now}})
        except DuplicateKeyError:
            return "taken"
        return "ok" if result.modified_count == 1 else "changed"

    # -- merging two records of one household (each step idempotent, in this order) ------
    def merged_record(self, branch: str, customer_id: str) -> dict[str, Any] | None:
        return self.merged.find_one({"_id": customer_id, "branch": branch})

    def move_history(self, branch: str, absorbed_id: str, kept_id: str) -> None:
        """The absorbed record's units and requests now name the kept one."""
        for collection in (self.units, self.requests):
            collection.update_many({"branch": branch, "customer_id": absorbed_id},
                                   {"$set": {"customer_id": kept_id}})

    def retire(self, absorbed: dict[str, Any], kept_id: str, now: datetime) -> None:
        """Kept aside as it was (its phones read from here if the merge is resumed),
        then out of the file: its phones are free for the kept record."""
        self.merged.update_one({"_id": absorbed["_id"], "branch": absorbed["branch"]},
                               {"$setOnInsert": {**absorbed, "merged_into": kept_id,
                                                 "merged_at": now}}, upsert=True)
        self.customers.delete_one({"_id": absorbed["_id"], "branch": absorbed["branch"]})

    def absorb(self, branch: str, kept_id: str, phones: list[str], addresses: list[dict],
               now: datetime) -> bool:
        """False when one of the phones became another record's meanwhile."""
        try:
            self.customers.update_one(
                {"_id": kept_id, "branch": branch},
                {"$addToSet": {"phones": {"$each": phones},
                               "addresses": {"$each": addresses}},
                 "$set": {"updated_at": now}})
        except DuplicateKeyError:
            return False
        return True

    # -- units -----------------------------------------------------------------------
    def belong(self, branch: str, order_id: str, belongs: dict[str, str]) -> None:
        """The order names its customer and unit (once: a later link changes nothing)."""
        self.requests.update_one({"_id": order_id, "branch": branch,
                                  "customer_id": {"$exists": False}}, {"$set": belongs})

    def units_of(self, branch: str, customer_id: str) -> list[dict[str, Any]]:
        return list(self.units.find({"branch": branch, "customer_id": customer_id},
                                    sort=[("first_seen_at", ASCENDING)]))

    def link_unit(self, branch: str, unit_id: str, key: str, customer_id: str, facts: dict,
                  order_id: str, now: datetime) -> None:
        """The unit of ``key`` with this order in its history, made on its first call;
        facts given now are written, known ones not given stay. Idempotent: the order
        is added to the history once."""
        update = {"$setOnInsert": {"branch": branch, "key": key, "customer_id": customer_id,
                                   "first_seen_at": now},
                  "$set": {**facts, "updated_at": now},
                  "$addToSet": {"order_ids": order_id}}
        for _ in range(3):
            try:
                self.units.update_one({"_id": unit_id, "branch": branch}, update, upsert=True)
                return
            except DuplicateKeyError:  # a concurrent first call inserted it: update it
                continue
        raise RuntimeError("could not record the unit after repeated conflicts")

    # -- the service history, read from intake's requests ------------------------------
    def open_requests(self, branch: str, customer_id: str, limit: int = 20) -> list[dict]:
        return list(self.requests.find(
            {"branch": branch, "customer_id": customer_id, "status": "new"},
            {**HISTORY_FIELDS, "product": 1}, sort=[("received_at", DESCENDING)],
            limit=limit))

    def history(self, branch: str, order_ids: list[str]) -> list[dict]:
        if not order_ids:
            return []
        return list(self.requests.find({"branch": branch, "_id": {"$in": order_ids}},
                                       HISTORY_FIELDS, sort=[("received_at", DESCENDING)]))
