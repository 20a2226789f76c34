"""The customer file (客户档案): households found by phone, their installed units and
each unit's service history, kept by intake."""

from __future__ import annotations

from apispec import APISpec
from nameko.rpc import RpcProxy

from gateway.auth import STAFF, Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from schemas.customers import CustomerOut, CustomerQuery, MergeIn, PhoneIn
from services.common.privacy import mask_personal

# Agents look customers up as they take a call; dispatchers and supervisors read them too.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read_customers": ("agent", *STAFF),
    "add_customer_phone": ("agent", *STAFF),
    "merge_customers": ("agent", *STAFF),
}


class CustomerRoutes:
    intake = RpcProxy("intake")

    @http("GET", "/api/v1/customers")
    @endpoint("read_customers")
    def find_customers(self, request, caller: Caller):
        page = self._call(self.intake.find_customers, request.args.to_dict(), caller.branch)
        page["items"] = [mask_personal(item) for item in page["items"]]
        return json_response(200, page)

    @http("GET", "/api/v1/customers/<string:customer_id>")
    @endpoint("read_customers")
    def get_customer(self, request, caller: Caller, customer_id: str):
        return json_response(200, self._call(self.intake.get_customer, customer_id,
                                             caller.branch))

    @http("POST", "/api/v1/customers/<string:customer_id>/phones")
    @endpoint("add_customer_phone")
    def add_customer_phone(self, request, caller: Caller, customer_id: str):
        return json_response(200, self._call(self.intake.add_customer_phone, customer_id,
                                             self._body(request), caller.branch))


    @http("POST", "/api/v1/customers/<string:customer_id>/merge")
    @endpoint("merge_customers")
    def merge_customers(self, request, caller: Caller, customer_id: str):
        return json_response(200, self._call(self.intake.merge_customers, customer_id,
                                             self._body(request), caller.branch))


def document(spec: APISpec) -> None:
    """The OpenAPI paths of the routes above."""
    spec.components.schema("Customer", schema=CustomerOut)
    spec.components.schema("CustomerPhone", schema=PhoneIn)
    spec.components.schema("CustomerMerge", schema=MergeIn)
    spec.components.schema("CustomerPage", {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Customer"}}}})
    spec.path("/api/v1/customers", operations={"get": operation(
        "Find customers by phone as the agent types (the whole number, or its first 7 "
        "digits or more), with their units and open requests (phones and addresses masked)",
        {"200": {"description": "Up to 10 customers", **json_body("CustomerPage")}},
        params=[{"in": "query", "schema": CustomerQuery}])})
    customer = path_param("customer_id")
    spec.path("/api/v1/customers/{customer_id}", operations={"get": operation(
        "One customer with their units and each unit's service history",
        {"200": {"description": "The customer", **json_body("Customer")}},
        params=[customer])})
    spec.path("/api/v1/customers/{customer_id}/phones", operations={"post": operation(
        "Add another phone of the household (refused when it is another customer's)",
        {"200": {"description": "The customer", **json_body("Customer")}},
        body="CustomerPhone", params=[customer])})
    spec.path("/api/v1/customers/{customer_id}/merge", operations={"post": operation(
        "Merge another record of the same household into this one: its phones, addresses, "
        "units and requests join it, and it leaves the file",
        {"200": {"description": "The customer", **json_body("Customer")}},
        body="CustomerMerge", params=[customer])})
