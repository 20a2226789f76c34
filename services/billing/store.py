"""Billing's documents. Every change is one conditional single-document write; events go
out through the outbox of the document they concern (bills, anomalies).

- ``orders``: the facts of each order billing needs for quotes (from ``order_created``)
- ``quotes``: priced diagnoses with the customer's approval; a newer one supersedes
- ``bills``: one settlement statement per order (``_id`` from the order id)
- ``consumed``: parts inventory consumed per order
- ``anomalies``: one per order and rule (``_id`` = order:rule)
- ``earnings``: a service centre's earning per order; ``statements`` per centre and month
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.outbox import ensure_outbox_index, new_document_outbox, with_events

ORDERS, QUOTES, BILLS, CONSUMED = "orders", "quotes", "bills", "consumed"
ANOMALIES, EARNINGS, STATEMENTS = "anomalies", "earnings", "statements"


def bill_id(order_id: str) -> str:
    return f"BILL-{order_id}"


def ensure_indexes(db: Database) -> None:
    db[QUOTES].create_index([("order_id", ASCENDING), ("created_at", DESCENDING)])
    db[BILLS].create_index([("branch", ASCENDING), ("completed_at", DESCENDING)])
    db[BILLS].create_index([("serial_number", ASCENDING), ("completed_at", DESCENDING)])
    db[BILLS].create_index("claim_fen")
    db[BILLS].create_index("parts_check_at", sparse=True)
    db[ANOMALIES].create_index([("branch", ASCENDING), ("detected_at", DESCENDING)])
    db[EARNINGS].create_index([("branch", ASCENDING), ("state", ASCENDING),
                               ("service_centre_id", ASCENDING)])
    db[EARNINGS].create_index("statement_id", sparse=True)
    for name in (BILLS, ANOMALIES):
        ensure_outbox_index(db[name])


class BillingStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.orders = db[ORDERS]
        self.quotes = db[QUOTES]
        self.bills = db[BILLS]
        self.consumed = db[CONSUMED]
        self.anomalies = db[ANOMALIES]
        self.earnings = db[EARNINGS]
        self.statements = db[STATEMENTS]

    @staticmethod
    def _insert(collection, doc: dict) -> bool:
        """False when the document exists already (a redelivery, or a lost race)."""
        try:
            collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    # -- orders and quotes -----------------------------------------------------------
    def add_order(self, doc: dict) -> bool:
        return self._insert(self.orders, doc)

    def order(self, order_id: str, branch: str) -> dict | None:
        return self.orders.find_one({"_id": order_id, "branch": branch})

    def add_quote(self, doc: dict) -> None:
        """The new quote supersedes every earlier one of the order (added lines need a new
        approval)."""
        self.quotes.insert_one(doc)
        self.quotes.update_many({"order_id": doc["order_id"], "_id": {"$ne": doc["_id"]},
                                 "status": {"$in": ["issued", "approved"]}},
                                {"$set": {"status": "superseded"}})

    def quote(self, quote_id: str, branch: str) -> dict | None:
        return self.quotes.find_one({"_id": quote_id, "branch": branch})

    def approve_quote(self, quote_id: str, branch: str, approval: dict) -> bool:
        done = self.quotes.update_one({"_id": quote_id, "branch": branch, "status": "issued"},
                                      {"$set": {"status": "approved", "approval": approval}})
        return done.modified_count == 1

    def approved_quote(self, order_id: str) -> dict | None:
        return self.quotes.find_one({"order_id": order_id, "status": "approved"},
                                    sort=[("created_at", DESCENDING)])

    # -- bills -----------------------------------------------------------------------
    def insert_bill(self, doc: dict, events: list[dict], due: datetime) -> bool:
        return self._insert(self.bills, {**doc, **new_document_outbox(events, due)})

    def bill(self, order_id: str, branch: str | None = None) -> dict | None:
        query: dict[str, Any] = {"_id": bill_id(order_id)}
        if branch:
            query["branch"] = branch
        return self.bills.find_one(query)

    def bill_by_id(self, bid: str, branch: str) -> dict | None:
        return self.bills.find_one({"_id": bid, "branch": branch})

    def recent_same_fault(self, serial: str, fault_code: str, since: datetime,
                          order_id: str, branch: str | None) -> bool:
        """A bill of the branch for the same unit and fault completed since ``since``."""
        found = self.bills.find({"serial_number": serial, "completed_at": {"$gte": since},
                                 "branch": branch},
                                {"fault_code": 1, "order_id": 1}, limit=20)
        return any(b.get("fault_code") == fault_code and b["order_id"] != order_id
                   for b in found)

    def pay(self, bid: str, branch: str, total_fen: int, payment: dict, events: list[dict],
            due: datetime) -> bool:
        """Once: only an open bill of exactly this total is paid."""
        update = with_events({"$set": {"status": "paid", "payment": payment,
                                       "refundable_fen": total_fen}}, events, due)
        done = self.bills.update_one({"_id": bid, "branch": branch, "status": "open",
                                      "total_fen": total_fen}, update)
        return done.modified_count == 1

    def request_refund(self, bid: str, branch: str, refund_id: str, refund: dict) -> bool:
        """Reserves the amount from what is still refundable, in the same write."""
        done = self.bills.update_one(
            {"_id": bid, "branch": branch, "status": "paid",
             "refundable_fen": {"$gte": refund["amount_fen"]},
             f"refunds.{refund_id}": {"$exists": False}},
            {"$inc": {"refundable_fen": -refund["amount_fen"]},
             "$set": {f"refunds.{refund_id}": refund}})
        return done.modified_count == 1

    def decide_refund(self, bid: str, branch: str, refund_id: str, approve: bool,
                      decision: dict) -> bool:
        sets = {f"refunds.{refund_id}.status": "approved" if approve else "rejected",
                f"refunds.{refund_id}.decision": decision}
        update: dict[str, Any] = {"$set": sets}
        if not approve:  # the reserved amount is refundable again
            refund = (self.bill_by_id(bid, branch) or {}).get("refunds", {}).get(refund_id)
            if refund is None:
                return False
            update["$inc"] = {"refundable_fen": refund["amount_fen"]}
        done = self.bills.update_one({"_id": bid, "branch": branch,
                                      f"refunds.{refund_id}.status": "requested"}, update)
        return done.modified_count == 1

    def record_callback(self, order_id: str, event_id: str, callback: dict) -> bool:
        done = self.bills.update_one(
            {"_id": bill_id(order_id), "applied_events": {"$ne": event_id}},
            {"$set": {"callback": callback},
             "$push": {"applied_events": {"$each": [event_id], "$slice": -20}}})
        return done.modified_count == 1

    def page(self, name: str, branch: str, wanted: dict, keys: tuple[str, ...], sort: str
             ) -> tuple[int, list[dict]]:
        """A page of the branch's bills, anomalies or earnings (``name``), newest first,
        equal to ``wanted`` in each of ``keys`` given; bills with a claim on the maker
        only, when ``wanted["claims"]``; earnings held for review only, when
        ``wanted["held"]``."""
        query: dict[str, Any] = {"branch": branch,
                                 **{key: wanted[key] for key in keys if wanted.get(key)}}
        if name == BILLS and wanted.get("claims"):
            query["claim_fen"] = {"$gt": 0}
        if name == EARNINGS and wanted.get("held"):
            query.update({"state": "pending", "review": {"$nin": [None, ""]}})
        page, size = wanted["page"], wanted["page_size"]
        collection = self.db[name]
        total = collection.count_documents(query)
        docs = collection.find(query, {"outbox": 0, "outbox_due": 0},
                               sort=[(sort, DESCENDING)], skip=(page - 1) * size, limit=size)
        return total, list(docs)

    def drafting_centres(self, branch: str, month: str) -> set[str]:
        """Centres whose statement of the month a run left half made."""
        return {doc["service_centre_id"] for doc in self.statements.find(
            {"branch": branch, "month": month, "status": "drafting"})}

    def statement_ids(self, branch: str, month: str) -> list[str]:
        return [doc["_id"] for doc in self.statements.find(
            {"branch": branch, "month": month}, {"_id": 1})]

    def statement(self, statement_id: str, branch: str) -> dict | None:
        return self.statements.find_one({"_id": statement_id, "branch": branch})

    def statements_of(self, branch: str, ids: list[str] | None = None) -> list[dict]:
        """The branch's settlement statements (those of ``ids`` only, when given)."""
        query: dict[str, Any] = {"branch": branch}
        if ids is not None:
            query["_id"] = {"$in": ids}
        return list(self.statements.find(query, sort=[("_id", 1)], limit=500))

    # -- consumption and anomalies ---------------------------------------------------
    def add_consumption(self, order_id: str, branch: str, event_id: str,
                        lines: list[dict]) -> bool:
        """Adds the event's lines once; False for a redelivery."""
        try:
            done = self.consumed.update_one(
                {"_id": order_id, "applied_events": {"$ne": event_id}},
                {"$push": {"lines": {"$each": lines}, "applied_events": event_id},
                 "$set": {"branch": branch}}, upsert=True)
        except DuplicateKeyError:
            return False
        return done.modified_count == 1 or done.upserted_id is not None

    def consumption(self, order_id: str) -> dict[str, int] | None:
        doc = self.consumed.find_one({"_id": order_id})
        if doc is None:
            return None
        totals: dict[str, int] = {}
        for line in doc.get("lines", []):
            totals[line["sku"]] = totals.get(line["sku"], 0) + int(line["quantity"])
        return totals

    def due_parts_checks(self, now: datetime, limit: int = 100) -> list[dict]:
        return list(self.bills.find({"parts_check_at": {"$lte": now}},
                                    {"order_id": 1, "branch": 1, "lines": 1,
                                     "parts_check_at": 1}, limit=limit))

    def claim_parts_check(self, doc: dict) -> bool:
        """One replica takes the check: the mark is removed by whoever gets there first."""
        done = self.bills.update_one({"_id": doc["_id"], "parts_check_at": doc["parts_check_at"]},
                                     {"$unset": {"parts_check_at": ""}})
        return done.modified_count == 1

    def add_anomaly(self, doc: dict, events: list[dict], due: datetime) -> bool:
        """Once per order and rule."""
        return self._insert(self.anomalies, {**doc, **new_document_outbox(events, due)})

    # -- service-centre settlement ---------------------------------------------------
    def add_earning(self, doc: dict) -> bool:
        return self._insert(self.earnings, doc)

    def release_earning(self, order_id: str, at: datetime) -> dict | None:
        done = self.earnings.update_one({"_id": order_id, "state": "pending"},
                                        {"$set": {"state": "released", "released_at": at,
                                                  "review": None}})
        return self.earnings.find_one({"_id": order_id}) if done.modified_count else None

    def hold_earning(self, order_id: str, reason: str) -> None:
        self.earnings.update_one({"_id": order_id, "state": "pending"},
                                 {"$set": {"review": reason}})

    def earning(self, order_id: str, branch: str) -> dict | None:
        return self.earnings.find_one({"_id": order_id, "branch": branch})

    def decide_earning(self, order_id: str, branch: str, state: str, amount_fen: int,
                       decision: dict, at: datetime) -> bool:
        """The reviewer's decision on a held earning, once: only an earning still pending
        with a review note changes (a second, racing decision matches nothing)."""
        sets: dict[str, Any] = {"state": state, "amount_fen": amount_fen,
                                "decision": decision}
        if state == "released":
            sets["released_at"] = at   # into the statement of the month it is released
        done = self.earnings.update_one({"_id": order_id, "branch": branch,
                                         "state": "pending",
                                         "review": {"$nin": [None, ""]}}, {"$set": sets})
        return done.modified_count == 1

    def open_statement(self, doc: dict, now: datetime, lease_until: datetime) -> bool:
        """Insert the month's statement under this run's lease, or take over a draft whose
        run died (lease expired). False: another run has it, or it is issued."""
        if self._insert(self.statements, {**doc, "status": "drafting",
                                          "lease_until": lease_until}):
            return True
        done = self.statements.update_one(
            {"_id": doc["_id"], "status": "drafting", "lease_until": {"$lt": now}},
            {"$set": {"lease_until": lease_until}})
        return done.modified_count == 1

    def centres_with_released(self, branch: str, before: datetime) -> set[str]:
        found = self.earnings.find({"branch": branch, "state": "released",
                                    "released_at": {"$lt": before}},
                                   {"service_centre_id": 1})
        return {doc["service_centre_id"] for doc in found}

    def claim_earnings(self, branch: str, centre: str, before: datetime,
                       statement_id: str) -> None:
        self.earnings.update_many({"branch": branch, "service_centre_id": centre,
                                   "state": "released", "released_at": {"$lt": before}},
                                  {"$set": {"state": "in_statement",
                                            "statement_id": statement_id}})

    def statement_sum(self, statement_id: str) -> tuple[int, int]:
        docs = list(self.earnings.find({"statement_id": statement_id}, {"amount_fen": 1}))
        return sum(d["amount_fen"] for d in docs), len(docs)

    def issue_statement(self, statement_id: str, lease_until: datetime, total: int,
                        count: int, now: datetime) -> bool:
        done = self.statements.update_one(
            {"_id": statement_id, "status": "drafting", "lease_until": lease_until},
            {"$set": {"status": "issued", "total_fen": total, "orders": count,
                      "issued_at": now}, "$unset": {"lease_until": ""}})
        return done.modified_count == 1

    def pay_statement(self, statement_id: str, branch: str, now: datetime) -> bool:
        done = self.statements.update_one({"_id": statement_id, "branch": branch,
                                           "status": "issued"},
                                          {"$set": {"status": "paid", "paid_at": now}})
        if done.modified_count != 1:
            return False
        self.mark_earnings_paid(statement_id)
        return True

    def mark_earnings_paid(self, statement_id: str) -> None:
        self.earnings.update_many({"statement_id": statement_id, "state": "in_statement"},
                                  {"$set": {"state": "paid"}})
