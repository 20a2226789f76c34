"""Callbacks (回访) over HTTP: callback staff claim and record calls, HQ auditors re-call
a sample, supervisors plan scheduled visits and read the month's rates."""

from __future__ import annotations

from apispec import APISpec
from nameko.rpc import RpcProxy
from werkzeug.wrappers import Response

from gateway.auth import Caller
from gateway.http import endpoint, json_response
from gateway.observed import http
from gateway.openapi import json_body, operation, path_param
from schemas.callbacks import (
    AnswersIn,
    AuditQuery,
    ReportQuery,
    RescheduleIn,
    ScheduleIn,
    TaskOut,
    TaskQuery,
)
from services.common.errors import NotFound
from services.common.privacy import mask_personal

SUPERVISING = ("supervisor", "admin")
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read_callbacks": ("callback_staff", "hq_auditor", *SUPERVISING),
    "work_callbacks": ("callback_staff",),
    "audit_callbacks": ("hq_auditor",),
    "read_audits": ("hq_auditor", *SUPERVISING),
    "callback_report": ("callback_staff", "hq_auditor", *SUPERVISING),
    "plan_callbacks": ("callback_staff", *SUPERVISING),
}
BASE = "/api/v1/callbacks"


class CallbackRoutes:
    callbacks = RpcProxy("callbacks")

    @http("GET", f"{BASE}/tasks")
    @endpoint("read_callbacks")
    def list_callback_tasks(self, request, caller: Caller):
        page = self._call(self.callbacks.list_tasks, request.args.to_dict(), caller.branch)
        page["items"] = [mask_personal(item) for item in page["items"]]
        return json_response(200, page)

    @http("GET", f"{BASE}/tasks/<string:task_id>")
    @endpoint("read_callbacks")
    def get_callback_task(self, request, caller: Caller, task_id: str):
        return json_response(200, self._call(self.callbacks.get_task, task_id, caller.branch))

    @http("POST", f"{BASE}/next")
    @endpoint("work_callbacks")
    def claim_next_callback(self, request, caller: Caller):
        """The earliest due task nobody holds, now held by the caller; 204 when none."""
        task = self._call(self.callbacks.claim_next, caller.branch, caller.staff_id)
        return Response(status=204) if task is None else json_response(200, task)

    @http("POST", f"{BASE}/tasks/<string:task_id>/<string:action>")
    @endpoint("work_callbacks")
    def callback_step(self, request, caller: Caller, task_id: str, action: str):
        staff = caller.staff_id
        if action == "claim":
            task = self._call(self.callbacks.claim, task_id, caller.branch, staff)
        elif action == "release":
            task = self._call(self.callbacks.release, task_id, caller.branch, staff)
        elif action == "call":
            task = self._call(self.callbacks.record_call, task_id, self._body(request),
                              caller.branch, staff)
        elif action == "reschedule":
            task = self._call(self.callbacks.reschedule, task_id, self._body(request),
                              caller.branch, staff)
        else:
            raise NotFound(f"unknown callback action {action!r}")
        return json_response(200, task)

    @http("GET", f"{BASE}/audits")
    @endpoint("read_audits")
    def list_callback_audits(self, request, caller: Caller):
        page = self._call(self.callbacks.list_audits, request.args.to_dict(), caller.branch)
        page["items"] = [mask_personal(item) for item in page["items"]]
        return json_response(200, page)

    @http("POST", f"{BASE}/audits/<string:task_id>")
    @endpoint("audit_callbacks")
    def record_callback_audit(self, request, caller: Caller, task_id: str):
        return json_response(200, self._call(self.callbacks.record_audit, task_id,
                                             self._body(request), caller.branch,
                                             caller.staff_id))

    @http("GET", f"{BASE}/report")
    @endpoint("callback_report")
    def callback_report(self, request, caller: Caller):
        return json_response(200, self._call(self.callbacks.report, request.args.to_dict(),
                                             caller.branch))

    @http("GET", f"{BASE}/schedules")
    @endpoint("plan_callbacks")
    def list_callback_schedules(self, request, caller: Caller):
        items = self._call(self.callbacks.list_schedules, caller.branch)
        return json_response(200, {"items": [mask_personal(item) for item in items]})

    @http("POST", f"{BASE}/schedules")
    @endpoint("plan_callbacks")
    def create_callback_schedule(self, request, caller: Caller):
        return json_response(201, self._call(self.callbacks.create_schedule,
                                             self._body(request), caller.branch))


def document(spec: APISpec) -> None:
    for name, schema in (("CallbackTask", TaskOut), ("CallbackAnswers", AnswersIn),
                         ("CallbackReschedule", RescheduleIn),
                         ("CallbackSchedule", ScheduleIn)):
        spec.components.schema(name, schema=schema)
    spec.components.schema("CallbackTaskPage", {"type": "object", "properties": {
        "total": {"type": "integer"}, "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/CallbackTask"}}}})
    task = {"200": {"description": "The task", **json_body("CallbackTask")}}
    page = {"200": {"description": "A page of tasks (phones, addresses masked)",
                    **json_body("CallbackTaskPage")}}
    task_id = path_param("task_id")
    spec.path(f"{BASE}/tasks", operations={"get": operation(
        "Callback tasks of the caller's branch", page,
        params=[{"in": "query", "schema": TaskQuery}])})
    spec.path(f"{BASE}/tasks/{{task_id}}", operations={"get": operation(
        "One callback task with the customer's contact", task, params=[task_id])})
    spec.path(f"{BASE}/next", operations={"post": operation(
        "Claim the earliest due task nobody holds (204: none due)",
        {**task, "204": {"description": "No task is due"}})})
    for action, summary, body in (
            ("claim", "Claim this task (409 if another staff member holds it)", None),
            ("release", "Give a claimed task back", None),
            ("call", "Record a call: reached with the answers, or not reached",
             "CallbackAnswers"),
            ("reschedule", "Call at the customer's preferred time", "CallbackReschedule")):
        spec.path(f"{BASE}/tasks/{{task_id}}/{action}", operations={"post": operation(
            summary, task, body=body, params=[task_id])})
    spec.path(f"{BASE}/audits", operations={"get": operation(
        "HQ re-calls of the branch (sampled callbacks)", page,
        params=[{"in": "query", "schema": AuditQuery}])})
    spec.path(f"{BASE}/audits/{{task_id}}", operations={"post": operation(
        "Record HQ's re-call; contradictions are listed as discrepancies", task,
        body="CallbackAnswers", params=[task_id])})
    spec.path(f"{BASE}/report", operations={"get": operation(
        "The month's callback rates: satisfaction, first-time fix, repeat repair, "
        "unreachable, audit discrepancies", {"200": {"description": "Rates"}},
        params=[{"in": "query", "schema": ReportQuery}])})
    spec.path(f"{BASE}/schedules", operations={
        "get": operation("Scheduled visits and campaigns", {"200": {"description": "List"}}),
        "post": operation("Plan visits, care calls or a campaign",
                          {"201": {"description": "Created"}}, body="CallbackSchedule")})
