"""The biller: quotes, settlement statements, payments, refunds, abnormal charges and
service-centre settlement. Application layer over the store and the pure rules; knows
nothing of nameko. Every change is a conditional write or a unique insert, so a
redelivered event or a second replica changes nothing twice."""


from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from services.billing.base import BillerBase, NotYetBilled, actor_label
from services.billing.domain import checks
from services.billing.domain.pricing import Job, Priced, PricingError, price
from services.billing.settlement import Settlement
from services.billing.store import ANOMALIES, BILLS, bill_id
from services.common.clock import as_utc
from services.common.domain.branches import branch_of
from services.common.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)
SOURCE = "billing"
PARTS_GRACE = timedelta(hours=24)  # for inventory to report what an order consumed


class Biller(Settlement, BillerBase):
    """The biller; the monthly settlement is a module of its own."""

    # -- orders and quotes -----------------------------------------------------------
    def record_order(self, data: dict) -> bool:
        """Keeps what quotes need of a new order; False for a redelivery."""
        return self.store.add_order({
            "_id": data["order_id"], "branch": data["branch"], "zone": data["zone"],
            "region_code": data["region_code"], "request_type": data["request_type"],
            "category": data["product"]["category"],
            "serial_number": data["product"].get("serial_number"),
            "warranty": (data.get("warranty") or {}).get("status", "unknown"),
            "received_at": as_utc(data["received_at"])})

    def make_quote(self, command: dict, branch: str, actor: dict) -> dict:
        order = self.store.order(command["order_id"], branch)
        if order is None:
            raise NotFound(f"order {command['order_id']} not found")
        warranty = order["warranty"]
        if warranty == "unknown":
            warranty = command.get("warranty")
            if warranty is None:
                raise InvalidInput("decide the warranty at diagnosis", {"warranty": [
                    "Intake could not tell; give in_warranty, main_parts_only or "
                    "out_of_warranty."]})
        job = Job(order["category"], order["region_code"], warranty, command["cause"],
                  not command["inspection_only"], command.get("repair_code"),
                  tuple((p["sku"], p["quantity"]) for p in command["parts"]),
                  Decimal(command["distance_km"]),
                  self._repeat(order.get("serial_number"), command["fault_code"],
                               order["_id"]))
        priced = self._price(job)
        quote = {"_id": f"Q-{uuid.uuid4().hex[:12]}", "order_id": order["_id"],
                 "branch": branch, **priced.as_dict(), "warranty": warranty,
                 "cause": command["cause"], "fault_code": command["fault_code"],
                 "distance_km": command["distance_km"], "status": "issued",
                 "technician_id": actor.get("technician_id"), "created_at": self.now,
                 "approval": None}
        self.store.add_quote(quote)
        return quote

    def approve_quote(self, quote_id: str, branch: str, approval: dict, actor: dict) -> dict:
        quote = self._own_quote(quote_id, branch, actor)
        record = {**approval, "at": self.now, "recorded_by": actor_label(actor)}
        if not self.store.approve_quote(quote_id, branch, record):
            raise Conflict(f"quote {quote_id} is {self.store.quote(quote_id, branch)['status']}"
                           "; only an issued quote can be approved")
        return self.store.quote(quote_id, branch) or quote

    def _own_quote(self, quote_id: str, branch: str, actor: dict) -> dict:
        quote = self.store.quote(quote_id, branch)
        if quote is None or (actor.get("role") == "technician"
                             and quote.get("technician_id") != actor.get("technician_id")):
            raise NotFound(f"quote {quote_id} not found")
        return quote

    # -- completion ------------------------------------------------------------------
    def check_completion(self, order_id: str, facts: dict) -> dict:
        """Whether the job may be completed: free work may; chargeable work only within
        the customer's latest approved quote."""
        priced = self._price(self._job(order_id, facts), self.now)
        quote = self.store.approved_quote(order_id)
        lines = priced.as_dict()["lines"]
        gaps = checks.approval_gaps(lines, quote["lines"] if quote else None)
        return {"ok": not gaps, "chargeable": priced.total_fen > 0, "reasons": gaps,
                "total_fen": priced.total_fen, "quote_id": quote["_id"] if quote else None}

    def bill_completion(self, event: dict, data: dict) -> dict | None:
        """The settlement statement (结算单) of a completed order; None when the order is
        billed already by another completion (a duplicate bill, flagged)."""
        order_id, facts = data["order_id"], data["billing"]
        completed_at = as_utc(datetime.fromisoformat(data["completion"]["completed_at"]))
        priced = self._price(self._job(order_id, facts), completed_at)
        quote = self.store.approved_quote(order_id)
        bill = self._bill_doc(event, data, priced, quote, completed_at)
        events = (self.uow.events(event["branch"], "bill_settled", order_id=order_id,
                               bill_id=bill["_id"], total_fen=0)
                  if bill["status"] == "settled" else [])
        if self.store.insert_bill(bill, events, self.uow.claim_until):
            self.uow.wrote(BILLS, bill["_id"], events)
            self.uow.count("bills", bill["branch"], bill["coverage"])
        else:
            bill = self.store.bill(order_id)
            if bill["completion_event"] != event["event_id"]:
                self._flag(bill["branch"], order_id, "duplicate_bill", {
                    "bill_id": bill["_id"], "event_id": event["event_id"]})
                return None
        # Also on a redelivery: whatever a crash left undone is done now, once.
        self._earn(bill, priced)
        for rule, detail in checks.bill_findings(bill["lines"],
                                                 quote["lines"] if quote else None):
            self._flag(bill["branch"], order_id, rule, detail)
        self._check_parts(bill)
        return bill

    def _bill_doc(self, event: dict, data: dict, priced: Priced, quote: dict | None,
                  completed_at: datetime) -> dict:
        facts = data["billing"]
        body = priced.as_dict()
        return {"_id": bill_id(data["order_id"]), "order_id": data["order_id"],
                "branch": event["branch"], **body, "warranty": facts["warranty"],
                "cause": facts["cause"], "quote_id": quote["_id"] if quote else None,
                "technician_id": data.get("technician_id"),
                "service_centre_id": data.get("service_centre_id"),
                "fault_code": facts.get("fault_code"),
                "serial_number": facts.get("serial_number"), "completed_at": completed_at,
                "completion_event": event["event_id"],
                "status": "settled" if priced.total_fen == 0 else "open", "payment": None,
                "refundable_fen": 0, "refunds": {},
                "warranty_claim": ({"amount_fen": priced.claim_fen, "status": "open"}
                                   if priced.claim_fen else None),
                "created_at": self.now,
                **({"parts_check_at": completed_at + PARTS_GRACE}
                   if any(x.item == "part" for x in priced.lines) else {})}

    def _earn(self, bill: dict, priced: Priced) -> None:
        """A service centre earns the scheduled labour of covered work, pending until the
        callback verifies the job."""
        amount = priced.labour_covered_fen()
        centre = bill.get("service_centre_id")
        if not centre or amount <= 0:
            return
        if self.store.add_earning({"_id": bill["order_id"], "branch": bill["branch"],
                                   "service_centre_id": centre, "amount_fen": amount,
                                   "state": "pending", "review": None,
                                   "statement_id": None, "created_at": self.now,
                                   "released_at": None}):
            self.uow.count("settlement", bill["branch"], "pending", amount=amount)

    # -- payments and refunds --------------------------------------------------------
    def pay(self, bid: str, branch: str, payment: dict, actor: dict) -> dict:
        bill = self._bill(bid, branch, actor)
        if payment["amount_fen"] != bill["total_fen"]:
            raise InvalidInput("the amount paid must equal the bill's total", {"amount_fen": [
                f"The total is {bill['total_fen']} fen."]})
        record = {**payment, "receipt_no": f"RC-{bill['order_id']}", "paid_at": self.now,
                  "recorded_by": actor_label(actor)}
        events = self.uow.events(branch, "bill_settled", order_id=bill["order_id"],
                              bill_id=bid, total_fen=bill["total_fen"])
        if not self.store.pay(bid, branch, bill["total_fen"], record, events,
                              self.uow.claim_until):
            raise Conflict(f"bill {bid} is {self.store.bill_by_id(bid, branch)['status']}; "
                           "only an open bill can be paid")
        self.uow.wrote(BILLS, bid, events)
        return self.store.bill_by_id(bid, branch)

    def request_refund(self, bid: str, branch: str, refund: dict, actor: dict,
                       refund_id: str | None = None) -> dict:
        bill = self._bill(bid, branch, actor)
        refund_id = refund_id or f"RF-{uuid.uuid4().hex[:10]}"
        record = {**refund, "status": "requested", "requested_at": self.now,
                  "requested_by": actor_label(actor)}
        if not self.store.request_refund(bid, branch, refund_id, record):
            raise Conflict("only a paid bill can be refunded, up to what is still refundable",
                           {"amount_fen": [f"At most {bill.get('refundable_fen', 0)} fen."]})
        return self.store.bill_by_id(bid, branch)

    def decide_refund(self, bid: str, branch: str, refund_id: str, approve: bool,
                      note: str | None, actor: dict) -> dict:
        self._bill(bid, branch, actor)
        decision = {"by": actor_label(actor), "at": self.now, "note": note}
        if not self.store.decide_refund(bid, branch, refund_id, approve, decision):
            raise Conflict(f"refund {refund_id} is not awaiting a decision")
        return self.store.bill_by_id(bid, branch)

    def _bill(self, bid: str, branch: str, actor: dict) -> dict:
        bill = self.store.bill_by_id(bid, branch)
        if bill is None or (actor.get("role") == "technician"
                            and bill.get("technician_id") != actor.get("technician_id")):
            raise NotFound(f"bill {bid} not found")
        return bill

    # -- what other services report --------------------------------------------------
    def parts_consumed(self, event: dict, data: dict) -> None:
        lines = [{"sku": str(x["sku"]), "quantity": int(x["quantity"])} for x in data["lines"]]
        self.store.add_consumption(data["order_id"], event["branch"], event["event_id"], lines)
        bill = self.store.bill(data["order_id"], event["branch"])
        if bill is not None:  # else the bill, when made, compares
            self._check_parts(bill)

    def _check_parts(self, bill: dict) -> None:
        consumed = self.store.consumption(bill["order_id"])
        if consumed is not None:  # else the sweeper looks again after the grace period
            self._check_parts_against(bill, consumed)

    def sweep_unconsumed(self) -> int:
        """Bills with parts whose consumption inventory never reported within the grace
        period: the parts were billed but not consumed for that order."""
        flagged = 0
        for doc in self.store.due_parts_checks(self.now):
            if not self.store.claim_parts_check(doc):
                continue  # another replica has it
            if self.store.consumption(doc["order_id"]) is None:
                self._check_parts_against(doc, {})
                flagged += 1
        return flagged

    def _check_parts_against(self, bill: dict, consumed: dict[str, int]) -> None:
        for rule, detail in checks.parts_findings(bill["lines"], consumed):
            self._flag(bill["branch"], bill["order_id"], rule, detail)

    def callback_done(self, event: dict, data: dict) -> None:
        bill = self.store.bill(data["order_id"], event["branch"])
        if bill is None:
            raise NotYetBilled(data["order_id"])
        self.store.record_callback(data["order_id"], event["event_id"], {
            key: data.get(key) for key in ("outcome", "reached", "fixed", "satisfaction",
                                           "paid_fen", "paid_differs")})
        for rule, detail in checks.callback_findings(bill["total_fen"], data.get("paid_fen"),
                                                     bool(data.get("paid_differs"))):
            self._flag(bill["branch"], bill["order_id"], rule, detail)
        if checks.releases_earning(data.get("fixed"), data.get("satisfaction")):
            earning = self.store.release_earning(data["order_id"], self.now)
            if earning is not None:
                self.uow.count("settlement", earning["branch"], "released",
                               amount=earning["amount_fen"])
        else:
            reason = ("customer unreachable: for review" if data.get("outcome") ==
                      "unreachable" else f"callback: {data.get('outcome') or 'not verified'}")
            self.store.hold_earning(data["order_id"], reason)

    def refund_requested(self, event: dict, data: dict) -> None:
        """A complaint's refund (退款) waits for approval like any other refund."""
        bill = self.store.bill(data["order_id"], event["branch"])
        if bill is None:
            raise NotYetBilled(data["order_id"])
        refund_id = f"CMP-{data['complaint_id']}"
        if data["amount_fen"] <= 0 or refund_id in bill.get("refunds", {}):
            return
        refund = {"amount_fen": data["amount_fen"], "reason": f"complaint "
                  f"{data['complaint_id']}: {data.get('remedy') or 'refund'}",
                  "complaint_id": data["complaint_id"]}
        actor = {"role": "complaints"}
        try:
            self.request_refund(bill["_id"], bill["branch"], refund, actor, refund_id)
        except Conflict:
            log.warning("complaint refund exceeds what is refundable",
                        extra={"order_id": data["order_id"]})

    # -- anomalies -------------------------------------------------------------------
    def _flag(self, branch: str, order_id: str, rule: str, detail: dict) -> None:
        anomaly_id = f"{order_id}:{rule}"
        events = self.uow.events(branch, "charge_anomaly", order_id=order_id, rule=rule,
                              detail=detail)
        if self.store.add_anomaly({"_id": anomaly_id, "order_id": order_id, "branch": branch,
                                   "rule": rule, "detail": detail, "detected_at": self.now},
                                  events, self.uow.claim_until):
            self.uow.wrote(ANOMALIES, anomaly_id, events)
            self.uow.count("anomalies", branch, rule)
            log.warning("abnormal charge", extra={"order_id": order_id, "rule": rule})

    # -- pricing ---------------------------------------------------------------------
    def _job(self, order_id: str, facts: dict) -> Job:
        if facts["warranty"] == "unknown":
            raise InvalidInput("decide the warranty at diagnosis",
                               {"warranty": ["Give the warranty decided at diagnosis."]})
        return Job(facts["category"], facts["region_code"], facts["warranty"], facts["cause"],
                   not facts.get("cannot_fix"), facts.get("repair_code"),
                   tuple((str(p["sku"]), int(p["quantity"])) for p in facts["parts_used"]),
                   Decimal(facts.get("distance_km") or "0"),
                   self._repeat(facts.get("serial_number"), facts.get("fault_code"),
                                order_id))

    def _repeat(self, serial: str | None, fault_code: str | None, order_id: str) -> bool:
        if not serial or not fault_code:
            return False
        since = self.now - timedelta(days=self.schedule.coverage.repeat_free_labour_days)
        # Only the order's own branch: another branch's bills are neither seen nor
        # allowed to change a price here.
        return self.store.recent_same_fault(serial, fault_code, since, order_id,
                                            branch_of(order_id))

    def _price(self, job: Job, at: datetime | None = None) -> Priced:
        try:
            return price(job, self.schedule, self.schedule.version_at(at or self.now))
        except PricingError as exc:
            raise InvalidInput(str(exc), {exc.field: [str(exc)]}) from None
