"""The dispatcher's schedule board (technicians × today's hours, each booked visit in its
hours, moved to another hour or another technician with a picker) and a supervisor's
approval of a delay on an order's page. Each action is one call of the public API."""

from __future__ import annotations

from datetime import date, datetime

from werkzeug.wrappers import Request, Response

from gateway.console import job_forms, pages, screens
from gateway.console.web import View, console_page, may_dispatch
from gateway.observed import http
from schemas.fields import DISPLAY_TZ

BOOKED_STATES = ("scheduled", "on_site", "waiting_parts")  # states that keep a slot
SCHEDULE = "/console/dispatch/schedule"


def today() -> str:
    return datetime.now(DISPLAY_TZ).date().isoformat()


def board_day(value: str | None) -> str:
    """The board's day: today unless another ISO date is asked for."""
    try:
        return date.fromisoformat(value or "").isoformat()
    except ValueError:
        return today()


def moved_slot(appointment: dict, day: str, hour: int) -> dict:
    """The same visit's length, starting at ``hour`` on ``day``."""
    start = datetime.fromisoformat(appointment["start"])
    length = datetime.fromisoformat(appointment["end"]) - start
    new_start = datetime.fromisoformat(job_forms.local_moment(day, f"{hour:02d}:00"))
    return {"start": new_start.isoformat(), "end": (new_start + length).isoformat(),
            "customer_requested": False}


def delay_body(form) -> dict:
    """The approve-delay form: the new deadline typed in the branch's clock."""
    typed = (form.get("new_deadline") or "").strip()
    day, _, time = typed.partition("T")
    return {"milestone": form.get("milestone", ""),
            "new_deadline": job_forms.local_moment(day, time) if typed else "",
            "reason": (form.get("reason") or "").strip(),
            "customer_informed": form.get("customer_informed") == "on"}


class ScheduleRoutes:
    @http("GET", SCHEDULE)
    @console_page(may_dispatch)
    def console_schedule(self, request: Request, view: View) -> Response:
        day = board_day(request.args.get("day"))
        orders = []
        for state in BOOKED_STATES:
            reply = view.api.get("/api/v1/orders", {"status": state, "page_size": 100})
            orders += reply.body["items"] if reply.ok else []
        technicians = view.api.get("/api/v1/technicians")
        techs = [tech for tech in (technicians.body["items"] if technicians.ok else [])
                 if tech.get("active", True)]
        return view.render("schedule.html", day=day, hours=screens.BOARD_HOURS,
                           technicians=techs, board=screens.schedule(techs, orders, day),
                           movable=screens.assignable)

    @http("POST", "/console/orders/<string:order_id>/move")
    @console_page(may_dispatch)
    def console_move(self, request: Request, view: View, order_id: str) -> Response:
        """Another hour of the board's day for a booked visit, its length kept."""
        order = view.api.get(f"/api/v1/orders/{order_id}")
        hour, day = request.form.get("hour", ""), board_day(request.form.get("day"))
        if not order.ok or not hour.isdigit() or not order.body.get("appointment"):
            return view.error(order.status if not order.ok else 422, order.message)
        reply = view.api.post(f"/api/v1/orders/{order_id}/appointment",
                              moved_slot(order.body["appointment"], day, int(hour)))
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(f"{SCHEDULE}?day={day}")

    @http("POST", "/console/orders/<string:order_id>/approve-delay")
    @console_page()
    def console_approve_delay(self, request: Request, view: View, order_id: str
                              ) -> Response:
        """The API decides who may approve (supervisors and admins)."""
        reply = view.api.post(f"/api/v1/orders/{order_id}/approve-delay",
                              delay_body(request.form))
        if not reply.ok:
            return view.error(reply.status, reply.message)
        return pages.redirect(f"/console/orders/{order_id}")

