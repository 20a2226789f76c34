"""The technician's job forms turned into the API's request bodies: an appointment's slot,
parts lines, a quote, the customer's approval and the completion with its signature.

Only the shape changes here; every value is judged by the API's own schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.fields import DISPLAY_TZ
from schemas.orders import PHOTO_KINDS

PART_ROWS = 3  # rows of part number and quantity a form offers


def _text(form: Any, key: str) -> str:
    return (form.get(key) or "").strip()


def _optional(body: dict) -> dict:
    """Blank fields left out, so the API applies its own defaults."""
    return {key: value for key, value in body.items() if value not in ("", None, [])}


def local_moment(day: str, time: str) -> str:
    """A day and a time typed on the phone, in the branch's clock, as ISO 8601 with its
    offset; left as typed when unreadable, for the API to refuse with its own words."""
    try:
        moment = datetime.fromisoformat(f"{day}T{time}")
    except ValueError:
        return f"{day}T{time}"
    return moment.replace(tzinfo=DISPLAY_TZ).isoformat()


def appointment_body(form: Any) -> dict:
    day = _text(form, "day")
    body = {"start": local_moment(day, _text(form, "start")),
            "end": local_moment(day, _text(form, "end")),
            "customer_requested": form.get("customer_requested") == "on",
            "customer_confirmed": form.get("customer_confirmed") == "on",
            "reason": _text(form, "reason")}
    return _optional(body)


def part_lines(form: Any) -> list[dict]:
    """Rows of part number and quantity; a row without a part number is left out."""
    lines = []
    for sku, quantity in zip(form.getlist("sku"), form.getlist("quantity"), strict=False):
        if sku.strip():
            number = quantity.strip()
            lines.append({"sku": sku.strip().upper(),
                          "quantity": int(number) if number.isdigit() else number})
    return lines


def _pricing(form: Any) -> dict:
    """What a quote and a completion share: the fault, cause, repair and distance."""
    return {"fault_code": _text(form, "fault_code"), "cause": _text(form, "cause"),
            "repair_code": _text(form, "repair_code"),
            "distance_km": _text(form, "distance_km")}


def quote_body(order_id: str, form: Any) -> dict:
    return _optional({"order_id": order_id, **_pricing(form), "parts": part_lines(form)})


def approval_body(form: Any) -> dict:
    return {"approved_by": _text(form, "approved_by"), "method": "signature"}


def photos(form: Any) -> list[dict]:
    """The photos the page made small (data URLs), one field a kind."""
    return [{"kind": kind, "image": _text(form, f"photo_{kind}")} for kind in PHOTO_KINDS
            if _text(form, f"photo_{kind}")]


def complete_body(form: Any) -> dict:
    """The completion; the drawn signature (a PNG data URL from the page) and the photos go
    with it, and whether the customer signed is whether there is a signature."""
    signature = _text(form, "signature_png")
    body = _optional({"diagnosis": _text(form, "diagnosis"), **_pricing(form),
                      "repair_done": _text(form, "repair_done"),
                      "parts_used": part_lines(form), "signature_png": signature,
                      "photos": photos(form)})
    body["customer_signed"] = bool(signature)
    return body


def note_body(form: Any) -> dict:
    return _optional({"note": _text(form, "note")})


def leave_body(form: Any) -> dict:
    return _optional({"outcome": _text(form, "outcome"), "note": _text(form, "note")})


BODIES = {"contact": note_body, "check-in": note_body, "appointment": appointment_body,
          "leave": leave_body,
          "complete": complete_body,
          "parts": lambda form: {"parts": part_lines(form)}}
