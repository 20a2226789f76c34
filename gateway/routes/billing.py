"""Quotes, bills, payments, refunds, abnormal charges and service-centre settlement:
billing over HTTP. No price is ever taken from a client: the schemas refuse one."""

from __future__ import annotations

from apispec import APISpec
from nameko.rpc import RpcProxy

from gateway.auth import ROLES, STAFF, Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from schemas.billing import (
    AnomalyOut,
    AnomalyQuery,
    ApprovalIn,
    BillOut,
    BillQuery,
    DecisionIn,
    EarningOut,
    EarningQuery,
    EarningReviewIn,
    PaymentIn,
    QuoteIn,
    QuoteOut,
    RefundIn,
    SettlementRunIn,
    StatementOut,
)
from services.common.errors import NotFound

AUDIT = ("finance", "hq_auditor", "supervisor", "admin")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "create_quote": ("technician", *STAFF),
    "approve_quote": ("technician", *STAFF),   # records the customer's approval
    "read_quote": ("technician", "finance", "hq_auditor", *STAFF),
    "read_bill": ("technician", "callback_staff", "complaint_handler", *AUDIT, "dispatcher"),
    "list_bills": (*AUDIT, "dispatcher"),
    "pay_bill": ("technician", "finance"),
    "request_refund": ("finance",),
    "decide_refund": ("supervisor", "admin"),
    "read_anomalies": AUDIT,
    "read_settlement": ("finance", "hq_auditor", "admin"),
    "run_settlement": ("finance",),
    "pay_statement": ("finance",),
    # an earning held after a callback that did not verify the job: finance or a
    # supervisor decides (release, reduce, withhold), as they decide refunds and pay
    "review_earning": ("finance", "supervisor"),
    "read_fee_schedule": ROLES,
}


def _decision(kwargs: dict) -> str:
    if kwargs.get("decision") not in ("approve", "reject"):
        raise NotFound(f"unknown refund decision {kwargs.get('decision')!r}")
    return "decide_refund"


class BillingRoutes:
    billing = RpcProxy("billing")
    dispatch = RpcProxy("dispatch")

    # -- quotes ----------------------------------------------------------------------
    @http("POST", "/api/v1/quotes")
    @endpoint("create_quote")
    def create_quote(self, request, caller: Caller):
        body = self._body(request)
        if caller.role == "technician":
            self._own_order(caller, body.get("order_id"))
        return json_response(201, self._call(self.billing.create_quote, body, caller.branch,
                                             caller.as_actor()))

    def _own_order(self, caller: Caller, order_id) -> None:
        """A technician quotes only the order they hold (404 otherwise, like reads)."""
        if not isinstance(order_id, str):
            return  # the service reports the missing or malformed field
        order = self._call(self.dispatch.get_order, order_id, caller.branch)
        if order.get("technician_id") != caller.technician_id:
            raise NotFound(f"order {order_id} not found")

    @http("GET", "/api/v1/quotes/<string:quote_id>")
    @endpoint("read_quote")
    def get_quote(self, request, caller: Caller, quote_id: str):
        return json_response(200, self._call(self.billing.get_quote, quote_id, caller.branch,
                                             caller.as_actor()))

    @http("POST", "/api/v1/quotes/<string:quote_id>/approve")
    @endpoint("approve_quote")
    def approve_quote(self, request, caller: Caller, quote_id: str):
        return json_response(200, self._call(self.billing.approve_quote, quote_id,
                                             self._body(request), caller.branch,
                                             caller.as_actor()))

    # -- bills, payments, refunds ----------------------------------------------------
    @http("GET", "/api/v1/bills")
    @endpoint("list_bills")
    def list_bills(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.list_bills, request.args.to_dict(),
                                             caller.branch))

    @http("GET", "/api/v1/bills/<string:bill_id>")
    @endpoint("read_bill")
    def get_bill(self, request, caller: Caller, bill_id: str):
        return json_response(200, self._call(self.billing.get_bill, bill_id, caller.branch,
                                             caller.as_actor()))

    @http("POST", "/api/v1/bills/<string:bill_id>/payments")
    @endpoint("pay_bill")
    def pay_bill(self, request, caller: Caller, bill_id: str):
        return json_response(200, self._call(self.billing.pay_bill, bill_id,
                                             self._body(request), caller.branch,
                                             caller.as_actor()))

    @http("POST", "/api/v1/bills/<string:bill_id>/refunds")
    @endpoint("request_refund")
    def request_refund(self, request, caller: Caller, bill_id: str):
        return json_response(201, self._call(self.billing.request_refund, bill_id,
                                             self._body(request), caller.branch,
                                             caller.as_actor()))

    @http("POST", "/api/v1/bills/<string:bill_id>/refunds/<string:refund_id>/<string:decision>")
    @endpoint(_decision)
    def decide_refund(self, request, caller: Caller, bill_id: str, refund_id: str,
                      decision: str):
        return json_response(200, self._call(self.billing.decide_refund, bill_id, refund_id,
                                             decision == "approve", self._body(request),
                                             caller.branch, caller.as_actor()))

    # -- abnormal charges, settlement, schedule --------------------------------------
    @http("GET", "/api/v1/charge-anomalies")
    @endpoint("read_anomalies")
    def list_anomalies(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.list_anomalies,
                                             request.args.to_dict(), caller.branch))

    @http("GET", "/api/v1/settlement/earnings")
    @endpoint("read_settlement")
    def list_earnings(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.list_earnings,
                                             request.args.to_dict(), caller.branch))

    @http("POST", "/api/v1/settlement/earnings/<string:order_id>/review")
    @endpoint("review_earning")
    def review_earning(self, request, caller: Caller, order_id: str):
        return json_response(200, self._call(self.billing.review_earning, order_id,
                                             self._body(request), caller.branch,
                                             caller.as_actor()))

    @http("POST", "/api/v1/settlement/runs")
    @endpoint("run_settlement")
    def run_settlement(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.run_settlement,
                                             self._body(request), caller.branch))

    @http("GET", "/api/v1/settlement/statements")
    @endpoint("read_settlement")
    def list_statements(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.list_statements, caller.branch))

    @http("POST", "/api/v1/settlement/statements/<string:statement_id>/pay")
    @endpoint("pay_statement")
    def pay_statement(self, request, caller: Caller, statement_id: str):
        return json_response(200, self._call(self.billing.pay_statement, statement_id,
                                             caller.branch))

    @http("GET", "/api/v1/fee-schedule")
    @endpoint("read_fee_schedule")
    def fee_schedule(self, request, caller: Caller):
        return json_response(200, self._call(self.billing.fee_schedule))


def document(spec: APISpec) -> None:
    """The OpenAPI paths of the routes above."""
    for name, schema in (("Quote", QuoteOut), ("QuoteCreate", QuoteIn),
                         ("QuoteApproval", ApprovalIn), ("Bill", BillOut),
                         ("Payment", PaymentIn), ("Refund", RefundIn),
                         ("RefundDecision", DecisionIn), ("Anomaly", AnomalyOut),
                         ("Earning", EarningOut), ("EarningReview", EarningReviewIn),
                         ("SettlementRun", SettlementRunIn),
                         ("Statement", StatementOut)):
        spec.components.schema(name, schema=schema)
    quote, bill = path_param("quote_id"), path_param("bill_id")
    spec.path("/api/v1/quotes", operations={"post": operation(
        "Price a diagnosis into an itemised quote (prices only from the schedule); it "
        "supersedes the order's earlier quotes",
        {"201": {"description": "The quote", **json_body("Quote")}}, body="QuoteCreate")})
    spec.path("/api/v1/quotes/{quote_id}", operations={"get": operation(
        "One quote", {"200": {"description": "The quote", **json_body("Quote")}},
        params=[quote])})
    spec.path("/api/v1/quotes/{quote_id}/approve", operations={"post": operation(
        "Record the customer's approval (who, how); 409 unless the quote is the order's "
        "latest, unapproved", {"200": {"description": "Approved", **json_body("Quote")}},
        body="QuoteApproval", params=[quote])})
    spec.path("/api/v1/bills", operations={"get": operation(
        "Settlement statements of the branch (claims=true: with a warranty claim)",
        {"200": {"description": "A page of bills"}},
        params=[{"in": "query", "schema": BillQuery}])})
    spec.path("/api/v1/bills/{bill_id}", operations={"get": operation(
        "One settlement statement: lines with coverage, subtotal, total, payment, refunds",
        {"200": {"description": "The bill", **json_body("Bill")}}, params=[bill])})
    spec.path("/api/v1/bills/{bill_id}/payments", operations={"post": operation(
        "Record the payment: the amount must equal the total; a bill is paid once (409)",
        {"200": {"description": "Paid, with its receipt number", **json_body("Bill")}},
        body="Payment", params=[bill])})
    spec.path("/api/v1/bills/{bill_id}/refunds", operations={"post": operation(
        "Request a refund with its reason; it waits for a supervisor's approval",
        {"201": {"description": "Requested", **json_body("Bill")}}, body="Refund",
        params=[bill])})
    for decision in ("approve", "reject"):
        spec.path(f"/api/v1/bills/{{bill_id}}/refunds/{{refund_id}}/{decision}",
                  operations={"post": operation(
                      f"Refund: {decision}", {"200": {"description": "Decided",
                                                      **json_body("Bill")}},
                      body="RefundDecision", params=[bill, path_param("refund_id")])})
    spec.path("/api/v1/charge-anomalies", operations={"get": operation(
        "Abnormal charges (收费异常) for HQ, each with its rule",
        {"200": {"description": "A page of anomalies"}},
        params=[{"in": "query", "schema": AnomalyQuery}])})
    spec.path("/api/v1/settlement/earnings", operations={"get": operation(
        "Service-centre earnings per order (pending, released, withheld, in_statement, "
        "paid); held=true: those held for a reviewer's decision",
        {"200": {"description": "A page of earnings"}},
        params=[{"in": "query", "schema": EarningQuery}])})
    spec.path("/api/v1/settlement/earnings/{order_id}/review", operations={
        "post": operation(
            "Decide an earning held after a callback that did not verify the job: release, "
            "reduce (amount_fen at most what is held) or withhold, with the reason; the "
            "same decision again changes nothing, another one is 409",
            {"200": {"description": "Decided: the earning with who decided, when and why",
                     **json_body("Earning")}},
            body="EarningReview", params=[path_param("order_id")])})
    spec.path("/api/v1/settlement/runs", operations={"post": operation(
        "Monthly statements per service centre; running twice makes nothing twice",
        {"200": {"description": "The month's statements"}}, body="SettlementRun")})
    spec.path("/api/v1/settlement/statements", operations={"get": operation(
        "Statements of the branch", {"200": {"description": "Statements"}})})
    spec.path("/api/v1/settlement/statements/{statement_id}/pay", operations={
        "post": operation("Mark a statement paid (once)",
                          {"200": {"description": "Paid", **json_body("Statement")}},
                          params=[path_param("statement_id")])})
    spec.path("/api/v1/fee-schedule", operations={"get": operation(
        "The national fee schedule version in force, in fen",
        {"200": {"description": "Schedule"}})})
