"""Complaints through HTTP: intake hands a complaint over and a case opens; the handler
opens, links a repeat, investigates, resolves and closes; roles, branches, bad input and
the report."""

import time
import uuid

from tests.e2e.conftest import request_body

HANDLER, HANDLER_SZ = "demo-complaints-sh", "demo-complaints-sz"


def _wait_complaint(api, predicate, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = api.get("/api/v1/complaints", HANDLER, params={"page_size": 100}).json()
        found = [item for item in page["items"] if predicate(item)]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no such complaint listed")


def test_intake_complaint_becomes_a_case_with_masked_list_and_full_detail(api):
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    taken = api.post("/api/v1/requests", request_body(
        request_type="complaint", description="安装师傅乱收费", customer__phone=phone), "agent")
    assert taken.status_code == 201, taken.text
    order_id = taken.json()["order_id"]
    listed = _wait_complaint(api, lambda c: (c.get("details") or {}).get(
        "intake_order_id") == order_id)
    assert listed["source"] == "intake" and listed["status"] == "open"
    assert listed["customer"]["phone"] == phone[:3] + "****" + phone[-4:]
    full = api.get(f"/api/v1/complaints/{listed['complaint_id']}", HANDLER).json()
    assert full["customer"]["phone"] == phone
    assert set(full["deadlines"]) == {"complaint_ack", "complaint_investigation"}
    assert api.get(f"/api/v1/complaints/{listed['complaint_id']}",
                   HANDLER_SZ).status_code == 404


def test_handler_opens_links_investigates_resolves_and_closes(api):
    order_id = f"SH-20261120-{uuid.uuid4().int % 10**6:06d}"
    body = {"channel": "web", "category": "charges", "description": "多收了上门费",
            "customer": {"name": "孙女士", "phone": "13700002222"}, "order_ids": [order_id]}
    opened = api.post("/api/v1/complaints", body, HANDLER)
    assert opened.status_code == 201, opened.text
    cid = opened.json()["complaint_id"]
    repeat = api.post("/api/v1/complaints", {**body, "channel": "hotline"}, "agent")
    assert repeat.status_code == 200 and repeat.json()["complaint_id"] == cid
    assert repeat.json()["severity"] == "high"
    assert api.post("/api/v1/complaints", body, "tech1").status_code == 403
    bad = api.post("/api/v1/complaints", {**body, "channel": "pigeon"}, HANDLER)
    assert bad.status_code == 422 and "channel" in bad.json()["fields"]
    assert api.post(f"/api/v1/complaints/{cid}/resolve", {"kind": "explanation",
                                                          "explanation": "x"},
                    HANDLER).status_code == 409
    steps = [("acknowledge", {"note": "已回电"}),
             ("conclude", {"findings": "网点多收费", "responsibility": "service_centre",
                           "party_id": "SC-SH-01"}),
             ("resolve", {"kind": "compensation", "amount": "50.005"}),
             ("confirm", {"satisfied": True})]
    for action, payload in steps:
        response = api.post(f"/api/v1/complaints/{cid}/{action}", payload, "supervisor")
        assert response.status_code == 200, (action, response.text)
    closed = response.json()
    assert closed["status"] == "closed" and closed["resolution"]["amount_fen"] == 5001
    assert [entry["step"] for entry in closed["timeline"]] == [
        "opened", "repeated", "acknowledged", "concluded", "resolved", "closed"]
    report = api.get("/api/v1/complaints/report", "demo-hq-auditor-sh")
    assert report.status_code == 200, report.text
    assert report.json()["by_responsibility"].get("service_centre", 0) >= 1
    assert api.get("/api/v1/complaints/report", "demo-hq-auditor-sh",
                   params={"month": "2026-13"}).status_code == 422
    assert "/api/v1/complaints/{complaint_id}/reopen" in api.get(
        "/api/v1/openapi.json", None).json()["paths"]
    assert "aftersales_complaints_opened_total" in api.scrape("complaints")
