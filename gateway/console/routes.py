"""The console's screens: the agent's new request, the dispatcher's queue, the
technician's jobs (each job's own page in ``jobs``) and an order's page. Every read and
every action is a call of the public API with the signed-in user's own token
(``view.api``)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.console import pages, screens
from gateway.console.jobs import TechJobRoutes
from gateway.console.schedule import ScheduleRoutes
from gateway.console.sign_in import SignInRoutes
from gateway.console.web import (
    View,
    console_page,
    is_technician,
    may_dispatch,
    may_take_requests,
)
from gateway.console.work import WorkRoutes
from gateway.observed import http
from schemas.orders import CHANNELS, PRIORITIES, REQUEST_TYPES

QUEUE_PAGE_SIZE = 100
BLANK_REQUEST = {"request_type": "repair", "channel": "hotline"}  # the calls most taken


class ConsoleRoutes(TechJobRoutes, ScheduleRoutes, WorkRoutes, SignInRoutes):
    # -- agent (接件) ------------------------------------------------------------------
    @http("GET", "/console/agent")
    @console_page(may_take_requests)
    def console_agent_page(self, request: Request, view: View) -> Response:
        return self._agent_form(view, BLANK_REQUEST, None, {})

    @http("POST", "/console/agent")
    @console_page(may_take_requests)
    def console_agent_save(self, request: Request, view: View) -> Response:
        reply = view.api.post("/api/v1/requests", screens.request_body(request.form))
        if not reply.ok:
            return self._agent_form(view, request.form, reply.message,
                                    screens.field_errors(reply.fields), reply.status)
        return self._agent_form(view, BLANK_REQUEST, None, {}, saved=reply.body,
                                created=reply.status == 201)

    @http("GET", "/console/agent/customer")
    @console_page(may_take_requests)
    def console_agent_customer(self, request: Request, view: View) -> Response:
        """The customer file of the phone being typed (客户档案): their products and open
        orders, a fragment the agent's page fetches once 7 digits are in."""
        phone = request.args.get("phone", "")
        if not screens.enough_digits(phone):
            return view.render("agent_customer.html", customers=None, message=None)
        reply = view.api.get("/api/v1/customers", {"phone": phone})
        return view.render("agent_customer.html", 200 if reply.ok else reply.status,
                           customers=reply.body["items"] if reply.ok else None,
                           message=None if reply.ok else reply.message)

    def _agent_form(self, view: View, values, message: str | None, errors: dict,
                    status: int = 200, **result) -> Response:
        return view.render("agent.html", status, values=values, message=message,
                           errors=errors, request_types=REQUEST_TYPES, channels=CHANNELS,
                           priorities=PRIORITIES,
                           milestones=screens.milestones(result["saved"])
                           if result.get("saved") else [], **result)

    # -- dispatcher (派工台) -------------------------------------------------------------
    @http("GET", "/console/dispatch")
    @console_page(may_dispatch)
    def console_dispatch_page(self, request: Request, view: View) -> Response:
        return view.render("dispatch.html", **self._dispatch_board(request, view))

    @http("GET", "/console/dispatch/queue")
    @console_page(may_dispatch)
    def console_dispatch_queue(self, request: Request, view: View) -> Response:
        """The queue and the technicians alone, polled by the page."""
        return view.render("dispatch_board.html", **self._dispatch_board(request, view))

    def _dispatch_board(self, request: Request, view: View) -> dict:
        status = request.args.get("status") or ""
        priority = request.args.get("priority") or ""
        orders = []
        for state in [status] if status else screens.open_statuses():
            query = {"status": state, "page_size": QUEUE_PAGE_SIZE}
            if priority:
                query["priority"] = priority
            reply = view.api.get("/api/v1/orders", query)
            orders += reply.body["items"] if reply.ok else []
        technicians = view.api.get("/api/v1/technicians")
        zone = request.args.get("zone") or ""
        # Orders out of the queue with an escalation open (cannot_fix: exchange or refund).
        escalations = view.api.get("/api/v1/orders", {"escalation": "open",
                                                      "page_size": QUEUE_PAGE_SIZE})
        return {"rows": screens.zone_of(screens.queue(orders), zone), "zone": zone,
                "escalations": escalations.body["items"] if escalations.ok else [],
                "wanted_status": status, "priority": priority,
                "statuses": screens.open_statuses(), "assignable": screens.assignable,
                "technicians": technicians.body["items"] if technicians.ok else []}

    @http("POST", "/console/orders/<string:order_id>/assign")
    @console_page(may_dispatch)
    def console_assign(self, request: Request, view: View, order_id: str) -> Response:
        body = {"technician_id": request.form.get("technician_id", "")}
        reply = view.api.post(f"/api/v1/orders/{order_id}/assign", body)
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(pages.safe_next(request.form.get("next") or "/console/dispatch"))

    # -- technician (mobile first) -------------------------------------------------------
    @http("GET", "/console/tech")
    @console_page(is_technician)
    def console_tech_page(self, request: Request, view: View) -> Response:
        reply = view.api.get("/api/v1/orders", {"page_size": QUEUE_PAGE_SIZE,
                                                "order": "work"})
        orders = [order for order in (reply.body["items"] if reply.ok else [])
                  if order["status"] in screens.open_statuses()]
        van = view.api.get("/api/v1/stock", {"technician_id": view.session.technician_id,
                                             "page_size": 100}
                           ) if view.session.technician_id else None
        return view.render("tech.html", rows=screens.rows(orders), steps_for=screens.steps_for,
                           van=van.body["items"] if van is not None and van.ok else None)

    @http("POST", "/console/orders/<string:order_id>/step/<string:action>")
    @console_page()
    def console_order_step(self, request: Request, view: View, order_id: str, action: str
                   ) -> Response:
        """A technician's step; the API decides who may take it, and on which order."""
        if action not in screens.TECHNICIAN_STEPS:
            return view.error(404)
        body = screens.step_body(action, request.form)
        reply = view.api.post(f"/api/v1/orders/{order_id}/{action}", body)
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(pages.safe_next(request.form.get("next") or "/console/tech"))

    # -- an order's page -------------------------------------------------------------------
    @http("GET", "/console/orders/<string:order_id>")
    @console_page()
    def console_order_page(self, request: Request, view: View, order_id: str) -> Response:
        reply = view.api.get(f"/api/v1/orders/{order_id}")
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return view.render("order.html", order=reply.body,
                           milestones=screens.milestones(reply.body),
                           may_approve_delay=self._may_approve_delay(view, reply.body))

    def _may_approve_delay(self, view: View, order: dict) -> bool:
        """The form is shown to whom the API lets approve, on an open order."""
        return (view.session.role in self.permissions.get("approve-delay", ())
                and order["status"] in screens.open_statuses())
