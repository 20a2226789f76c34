"""The facts other services need of a completed order, read from it (the callback's and
billing's), and the labels a milestone is counted under."""

from __future__ import annotations

from typing import Any

from services.common.errors import InvalidInput


def callback_facts(order: dict) -> dict[str, Any]:
    """What the callback needs of a completed order: whom to call, about what, and the
    labels its commitment is counted under."""
    customer = order.get("customer") or {}
    return {"zone": order["zone"], "request_type": order["request_type"],
            "priority": order["priority"], "follow_up_of": order.get("follow_up_of"),
            "customer": {key: customer.get(key) for key in ("name", "phone", "address",
                                                             "region_code")},
            "product": order.get("product") or {}}


def billing_facts(order: dict, completion: dict) -> dict[str, Any]:
    """What billing prices a completion from: the order's facts and the technician's
    findings. The warranty decided at diagnosis replaces intake's ``unknown`` (only then)."""
    warranty = (order.get("warranty") or {}).get("status", "unknown")
    if warranty == "unknown":
        warranty = completion.get("warranty")
        if warranty is None:
            raise InvalidInput("decide the warranty at diagnosis", {"warranty": [
                "Intake could not tell; give in_warranty, main_parts_only or "
                "out_of_warranty."]})
    return {
        "category": order["product"]["category"], "region_code": order["region_code"],
        "zone": order["zone"], "request_type": order["request_type"], "warranty": warranty,
        "cause": completion.get("cause", "quality_failure"),
        "repair_code": completion.get("repair_code"),
        "cannot_fix": completion.get("cannot_fix", False),
        "parts_used": [dict(line) for line in completion.get("parts_used", [])],
        "distance_km": completion.get("distance_km", "0.0"),
        "fault_code": completion.get("fault_code"),
        "serial_number": order["product"].get("serial_number"),
    }


def milestone_labels(order: dict, milestone: str) -> tuple[str, str, str, str, str]:
    return (order["branch"], order["zone"], milestone, order["request_type"], order["priority"])
