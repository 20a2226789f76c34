"""Complaints (投诉) over HTTP: open, list, read, the handler's steps, the monthly report."""

from __future__ import annotations

from apispec import APISpec
from nameko.rpc import RpcProxy

from gateway.auth import Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from schemas.complaints import (
    STEP_SCHEMAS,
    ComplaintIn,
    ComplaintOut,
    ComplaintQuery,
    ComplaintReportOut,
    ReportQuery,
)
from services.common.errors import NotFound
from services.common.privacy import mask_personal

HANDLERS = ("complaint_handler", "supervisor", "admin")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "open_complaint": ("agent", *HANDLERS),
    "read_complaints": ("agent", "hq_auditor", *HANDLERS),
    "complaint_report": ("hq_auditor", *HANDLERS),
    **{f"complaint_{action}": HANDLERS for action in STEP_SCHEMAS},
}


def _step_operation(kwargs: dict) -> str:
    if kwargs.get("action") not in STEP_SCHEMAS:
        raise NotFound(f"unknown complaint action {kwargs.get('action')!r}")
    return f"complaint_{kwargs['action']}"


class ComplaintRoutes:
    complaints = RpcProxy("complaints")

    @http("POST", "/api/v1/complaints")
    @endpoint("open_complaint")
    def open_complaint(self, request, caller: Caller):
        doc = self._call(self.complaints.open_complaint, self._body(request), caller.branch,
                         f"{caller.role}@{caller.branch}")
        return json_response(201 if doc.pop("created", False) else 200, doc)

    @http("GET", "/api/v1/complaints")
    @endpoint("read_complaints")
    def list_complaints(self, request, caller: Caller):
        page = self._call(self.complaints.list_complaints, request.args.to_dict(),
                          caller.branch)
        page["items"] = [mask_personal(item) for item in page["items"]]
        return json_response(200, page)

    @http("GET", "/api/v1/complaints/report")
    @endpoint("complaint_report")
    def complaint_report(self, request, caller: Caller):
        return json_response(200, self._call(self.complaints.report, request.args.to_dict(),
                                             caller.branch))

    @http("GET", "/api/v1/complaints/<string:complaint_id>")
    @endpoint("read_complaints")
    def get_complaint(self, request, caller: Caller, complaint_id: str):
        return json_response(200, self._call(self.complaints.get_complaint, complaint_id,
                                             caller.branch))

    @http("POST", "/api/v1/complaints/<string:complaint_id>/<string:action>")
    @endpoint(_step_operation)
    def complaint_step(self, request, caller: Caller, complaint_id: str, action: str):
        actor = {"role": caller.role, "branch": caller.branch}
        return json_response(200, self._call(self.complaints.step, complaint_id, action,
                                             self._body(request), actor))


def document(spec: APISpec) -> None:
    """The OpenAPI paths of the routes above."""
    for name, schema in (("ComplaintCreate", ComplaintIn), ("Complaint", ComplaintOut),
                         ("ComplaintReport", ComplaintReportOut)):
        spec.components.schema(name, schema=schema)
    for action, schema in STEP_SCHEMAS.items():
        spec.components.schema(f"ComplaintStep_{action}", schema=schema)
    spec.components.schema("ComplaintPage", {"type": "object", "properties": {
        "total": {"type": "integer"}, "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Complaint"}}}})
    spec.path("/api/v1/complaints", operations={
        "post": operation(
            "Open a complaint (201), or link a repeat about the same open matter to its "
            "case and raise its severity (200)",
            {"201": {"description": "Complaint opened", **json_body("Complaint")},
             "200": {"description": "Linked to the open case", **json_body("Complaint")}},
            body="ComplaintCreate"),
        "get": operation("Complaints of the caller's branch (phones and addresses masked)",
                         {"200": {"description": "A page", **json_body("ComplaintPage")}},
                         params=[{"in": "query", "schema": ComplaintQuery}])})
    spec.path("/api/v1/complaints/report", operations={"get": operation(
        "A month's complaints by category and responsibility, penalty points and the "
        "complaint rate (service responsibility / completed orders) against its target",
        {"200": {"description": "Report", **json_body("ComplaintReport")}},
        params=[{"in": "query", "schema": ReportQuery}])})
    complaint = path_param("complaint_id")
    spec.path("/api/v1/complaints/{complaint_id}", operations={"get": operation(
        "One complaint with deadlines, escalations and its history",
        {"200": {"description": "The complaint", **json_body("Complaint")}},
        params=[complaint])})
    for action in STEP_SCHEMAS:
        spec.path(f"/api/v1/complaints/{{complaint_id}}/{action}", operations={
            "post": operation(f"Complaint step: {action}",
                              {"200": {"description": "The complaint after the step",
                                       **json_body("Complaint")}},
                              body=f"ComplaintStep_{action}", params=[complaint])})
