"""The technician's job on the phone (375 px): call and book a slot, parts from the van
or asked for, a quote the customer approves on the screen, and the completion with the
customer's signature drawn on the page. Each form is one call of the public API with the
technician's own token; a refusal shows the API's words on the same page."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.console import job_forms, pages, screens
from gateway.console.web import View, console_page, is_technician
from gateway.observed import http
from schemas.fields import SAFE_ID
from schemas.orders import CAUSES, PHOTO_KINDS
from services.dispatch.domain.visits import LEAVE_OUTCOMES

# The job page's forms: order steps go to /orders/<id>/<step>, the rest as named.
ORDER_STEPS = ("contact", "appointment", "check-in", "leave", "complete")
JOB_FORMS = (*ORDER_STEPS, "parts", "quote", "approve")


def job_path(order_id: str, quote_id: str | None = None) -> str:
    suffix = f"?quote={quote_id}" if quote_id else ""
    return f"/console/tech/jobs/{order_id}{suffix}"


class TechJobRoutes:
    @http("GET", "/console/tech/jobs/<string:order_id>")
    @console_page(is_technician)
    def console_tech_job(self, request: Request, view: View, order_id: str) -> Response:
        return self._job(view, order_id, request.args.get("quote"))

    @http("POST", "/console/tech/jobs/<string:order_id>/<string:form>")
    @console_page(is_technician)
    def console_tech_job_form(self, request: Request, view: View, order_id: str,
                              form: str) -> Response:
        if form not in JOB_FORMS:
            return view.error(404)
        quote_id = request.form.get("quote_id") or None
        reply = self._send(view, order_id, form, request.form, quote_id)
        if not reply.ok:
            return self._job(view, order_id, quote_id, status=reply.status, failed=form,
                             message=reply.message, errors=screens.field_errors(reply.fields),
                             values=request.form)
        if form == "quote":
            quote_id = reply.body["quote_id"]
        if form == "complete":
            return pages.redirect("/console/tech")
        return pages.redirect(job_path(order_id, quote_id))

    def _send(self, view: View, order_id: str, form: str, values, quote_id: str | None):
        if form in ORDER_STEPS:
            return view.api.post(f"/api/v1/orders/{order_id}/{form}",
                                 job_forms.BODIES[form](values))
        if form == "parts":
            return view.api.post(f"/api/v1/orders/{order_id}/parts-request",
                                 job_forms.BODIES["parts"](values))
        if form == "quote":
            return view.api.post("/api/v1/quotes", job_forms.quote_body(order_id, values))
        return view.api.post(f"/api/v1/quotes/{quote_id}/approve",
                             job_forms.approval_body(values))

    def _job(self, view: View, order_id: str, quote_id: str | None, status: int = 200,
             **shown) -> Response:
        reply = view.api.get(f"/api/v1/orders/{order_id}")
        if not reply.ok:
            return view.error(reply.status, reply.message)
        parts = view.api.get(f"/api/v1/orders/{order_id}/parts")  # 404: none asked for yet
        catalogue = view.api.get("/api/v1/parts")
        quote = None
        if quote_id and SAFE_ID.regex.fullmatch(quote_id):
            found = view.api.get(f"/api/v1/quotes/{quote_id}")
            quote = found.body if found.ok and found.body.get("order_id") == order_id else None
        shown.setdefault("errors", {})
        shown.setdefault("values", {})
        return view.render("tech_job.html", status, order=reply.body,
                           steps=set(screens.job_steps(reply.body["status"])),
                           parts=parts.body if parts.ok else None,
                           catalogue=catalogue.body.get("items", []) if catalogue.ok else [],
                           quote=quote, causes=CAUSES, part_row_count=job_forms.PART_ROWS,
                           photo_kinds=PHOTO_KINDS, leave_outcomes=LEAVE_OUTCOMES,
                           **shown)
