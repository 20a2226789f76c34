"""Callbacks (回访) through HTTP: a completed order's callback closes it, sends a repeat
repair out again, or closes it unverified; staff, auditors and branches see what is
theirs."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import request_body

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLBACK = "demo-callback-sh"
ANSWERS = {"reached": True, "fixed": True, "on_time": True, "attitude": 5, "satisfaction": 5,
           "paid": "0.00"}


def _completed_order(api, tech: str) -> str:
    order_id = api.post("/api/v1/requests", request_body(), "agent").json()["order_id"]
    api.wait_order(order_id, lambda o: o["status"] == "offered")
    now = datetime.now(SHANGHAI)
    steps = [("accept", {}), ("contact", {}),
             ("appointment", {"start": (now + timedelta(hours=1)).isoformat(),
                              "end": (now + timedelta(hours=2)).isoformat()}),
             ("check-in", {}),
             ("complete", {"diagnosis": "冷媒不足", "fault_code": "E1", "repair_done": "补充冷媒"})]
    for action, payload in steps:
        response = api.post(f"/api/v1/orders/{order_id}/{action}", payload, "dispatcher")
        assert response.status_code == 200, (action, response.text)
    return order_id


def _task(api, order_id: str, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = api.get(f"/api/v1/callbacks/tasks/CB-{order_id}", CALLBACK)
        if response.status_code == 200:
            return response.json()
        time.sleep(0.2)
    raise AssertionError(f"no callback task for {order_id}")


def _call(api, task_id: str, answers: dict, token: str = CALLBACK) -> dict:
    claimed = api.post(f"/api/v1/callbacks/tasks/{task_id}/claim", {}, token)
    assert claimed.status_code == 200, claimed.text
    done = api.post(f"/api/v1/callbacks/tasks/{task_id}/call", answers, token)
    assert done.status_code == 200, done.text
    return done.json()


def test_callback_outcomes_close_reopen_or_leave_unverified(api):
    tech = api.technician(["refrigeration"], lat=31.2317, lon=121.4846, cap=3)
    satisfied, broken, silent = (_completed_order(api, tech) for _ in range(3))

    task = _task(api, satisfied)
    assert task["status"] == "open" and task["customer"]["phone"].isdigit()
    deadline = datetime.fromisoformat(task["deadline"])
    assert deadline - datetime.fromisoformat(task["completed_at"]) == timedelta(hours=72)
    # Another member of staff cannot take a task someone holds.
    assert api.post(f"/api/v1/callbacks/tasks/{task['task_id']}/claim", {},
                    CALLBACK).status_code == 200
    assert api.post(f"/api/v1/callbacks/tasks/{task['task_id']}/claim", {},
                    "demo-callback-sh-02").status_code == 409
    done = _call(api, task["task_id"], ANSWERS)
    assert done["outcome"] == "satisfied" and done["milestone"]["outcome"] == "met"
    closed = api.wait_order(satisfied, lambda o: o["status"] == "closed")
    assert closed["closure"]["verified"] is True

    # Not fixed: a repeat repair (返修), linked, high priority, dispatched again.
    _call(api, _task(api, broken)["task_id"], {**ANSWERS, "fixed": False, "satisfaction": 3})
    deadline_at = time.monotonic() + 20
    repeat = None
    while repeat is None and time.monotonic() < deadline_at:
        items = api.get("/api/v1/orders", params={"priority": "high", "page_size": 100}).json()
        repeat = next((o for o in items["items"] if o.get("follow_up_of") == broken), None)
        time.sleep(0.3)
    assert repeat is not None, "no repeat-repair order"
    assert repeat["follow_up_kind"] == "repeat_repair" and repeat["repeat_of"] == broken
    api.wait_order(repeat["order_id"], lambda o: o["status"] == "offered")
    assert api.order(broken)["status"] == "completed"  # its follow-up is the new order

    # Unreachable three times: closed, unverified.
    task_id = _task(api, silent)["task_id"]
    outcomes = [_call(api, task_id, {"reached": False}) for _ in range(3)]
    assert [t["status"] for t in outcomes] == ["open", "open", "done"]
    assert outcomes[-1]["outcome"] == "unreachable"
    unverified = api.wait_order(silent, lambda o: o["status"] == "closed")
    assert unverified["closure"] == {**unverified["closure"], "verified": False,
                                     "outcome": "unreachable"}
    timeline = api.get(f"/api/v1/orders/{silent}/timeline").json()["timeline"]
    assert [e["step"] for e in timeline].count("closed") == 1


def test_callback_access_and_input(api):
    assert api.get("/api/v1/callbacks/tasks", "tech1").status_code == 403
    assert api.post("/api/v1/callbacks/next", {}, "demo-hq-auditor-sh").status_code == 403
    listed = api.get("/api/v1/callbacks/tasks", CALLBACK, params={"page_size": 100})
    assert listed.status_code == 200
    for item in listed.json()["items"]:
        assert "****" in item["customer"]["phone"]
    assert api.get("/api/v1/callbacks/tasks", CALLBACK,
                   params={"status": {"$ne": 1}}).status_code == 422
    items = listed.json()["items"]
    if items:  # another branch's task is not found
        other = api.get(f"/api/v1/callbacks/tasks/{items[0]['task_id']}", "demo-callback-sz")
        assert other.status_code == 404
    bad = api.post("/api/v1/callbacks/schedules", {"schedule_id": "X", "kind": "campaign",
                                                   "first_run_at": "tomorrow"}, CALLBACK)
    assert bad.status_code == 422 and "first_run_at" in bad.json()["fields"]
    report = api.get("/api/v1/callbacks/report", "demo-hq-auditor-sh")
    assert report.status_code == 200 and report.json()["branch"] == "SH"
    spec = api.get("/api/v1/openapi.json", None).json()
    assert "/api/v1/callbacks/tasks/{task_id}/call" in spec["paths"]
