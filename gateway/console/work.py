"""The back-office work lists (``worklists``) and their one-form actions: stock received,
a bill's payment recorded, a callback claimed and its answers recorded, a complaint read
with its deadlines and timeline and acknowledged. Each read and action is one call of the
public API with the user's token."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.console import pages, worklists
from gateway.console.screens import (
    COMPLAINT_CHOICES,
    COMPLAINT_STEPS,
    complaint_body,
    complaint_steps,
)
from gateway.console.web import View, console_page
from gateway.observed import http

CALLBACK_ACTIONS = ("claim", "call")


class WorkRoutes:
    permissions: dict[str, tuple[str, ...]]

    @http("GET", "/console/work/<string:screen>")
    @console_page()
    def console_work(self, request: Request, view: View, screen: str) -> Response:
        if screen not in worklists.SCREENS:
            return view.error(404)
        if not worklists.has_screen(screen, view.session.role, self.permissions):
            return view.error(403)
        tables = []
        for work_list in worklists.readable(screen, view.session.role, self.permissions):
            query = work_list.request(request.args)
            reply = view.api.get(work_list.api, query)
            tables.append((work_list, reply.body.get("items", []) if reply.ok else None,
                           worklists.page_of(work_list, query, reply.body) if reply.ok
                           else None))
        return view.render("work.html", screen=screen, title=worklists.SCREENS[screen][0],
                           tables=tables, value=worklists.value, args=request.args,
                           actions=worklists.actions_of(screen, view.session.role,
                                                        self.permissions))

    @http("POST", "/console/work/<string:screen>/<string:name>")
    @console_page()
    def console_work_action(self, request: Request, view: View, screen: str, name: str
                            ) -> Response:
        """One form, one API call; the API decides who may take it."""
        action = worklists.ACTIONS.get((screen, name))
        if action is None:
            return view.error(404)
        keys = {key: request.form.get(key, "") for key in action.path_keys}
        if not all(worklists.SAFE_KEY.fullmatch(value) for value in keys.values()):
            return view.error(404)
        reply = view.api.post(action.api.format(**keys), action.body(request.form))
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(f"/console/work/{screen}")

    @http("GET", "/console/work/callbacks/<string:task_id>")
    @console_page()
    def console_callback(self, request: Request, view: View, task_id: str) -> Response:
        reply = view.api.get(f"/api/v1/callbacks/tasks/{task_id}")
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return view.render("callback.html", task=reply.body)

    @http("POST", "/console/work/callbacks/<string:task_id>/<string:action>")
    @console_page()
    def console_callback_step(self, request: Request, view: View, task_id: str,
                              action: str) -> Response:
        """The API decides who may work callbacks (callback staff)."""
        if action not in CALLBACK_ACTIONS:
            return view.error(404)
        body = worklists.answer_body(request.form) if action == "call" else {}
        reply = view.api.post(f"/api/v1/callbacks/tasks/{task_id}/{action}", body)
        if not reply.ok:
            return view.error(reply.status, reply.message)
        target = f"/console/work/callbacks/{task_id}" if action == "claim" else \
            "/console/work/callbacks"
        return pages.redirect(target)

    @http("GET", "/console/work/complaints/<string:complaint_id>")
    @console_page()
    def console_complaint(self, request: Request, view: View, complaint_id: str
                          ) -> Response:
        reply = view.api.get(f"/api/v1/complaints/{complaint_id}")
        if not reply.ok:
            return view.error(reply.status, reply.message)
        steps = [step for step in complaint_steps(reply.body["status"])
                 if view.session.role in self.permissions.get(f"complaint_{step}", ())]
        return view.render("complaint.html", complaint=reply.body, steps=steps,
                           choices=COMPLAINT_CHOICES)

    @http("POST", "/console/work/complaints/<string:complaint_id>/<string:action>")
    @console_page()
    def console_complaint_step(self, request: Request, view: View, complaint_id: str,
                               action: str) -> Response:
        """A handler's step (acknowledge, conclude, resolve, confirm, reopen); the API
        decides who may take it and from which state."""
        if action not in COMPLAINT_STEPS:
            return view.error(404)
        reply = view.api.post(f"/api/v1/complaints/{complaint_id}/{action}",
                              complaint_body(action, request.form))
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(f"/console/work/complaints/{complaint_id}")
