"""Every endpoint × every role × own branch / other branch, against a table of what each
role may do, written here independently of the gateway's own permission tables; and
tokens that are missing, malformed, unknown, expired or revoked."""

import pytest
import yaml

from tests.e2e.conftest import request_body

BRANCH_ROLES = ("agent", "dispatcher", "technician", "supervisor", "admin", "warehouse",
                "finance", "callback_staff", "complaint_handler", "hq_auditor")
# The wall screen reads the board only; an HQ agent's token belongs to no branch gateway.
ROLES = (*BRANCH_ROLES, "board", "hq_agent")
TOKEN = {"technician": "demo-tech-{b}-01", "callback_staff": "demo-callback-{b}",
         "complaint_handler": "demo-complaints-{b}", "hq_auditor": "demo-hq-auditor-{b}",
         "hq_agent": "demo-hq-agent"}
STAFF = {"dispatcher", "supervisor", "admin"}
EVERYONE = set(BRANCH_ROLES)
TECH_STEP = STAFF | {"technician"}
STOCK_READERS = STAFF | {"warehouse", "technician", "finance", "hq_auditor"}
STOCK_MOVERS = STAFF | {"warehouse"}
KEEPER = {"warehouse", "admin"}
CALLBACK_READERS = {"callback_staff", "hq_auditor", "supervisor", "admin"}
COMPLAINT_WORKERS = {"complaint_handler", "supervisor", "admin"}

# (method, path, who may call it). {order} and {tech} are filled in per test.
MATRIX = [
    ("POST", "/api/v1/requests", STAFF | {"agent"}),
    ("GET", "/api/v1/orders", EVERYONE),
    ("GET", "/api/v1/orders/{order}", EVERYONE),
    ("GET", "/api/v1/orders/{order}/timeline", EVERYONE),
    *[("POST", f"/api/v1/orders/{{order}}/{step}", TECH_STEP)
      for step in ("accept", "reject", "contact", "check-in", "leave", "complete",
                   "wait-parts", "resume")],
    ("POST", "/api/v1/orders/{order}/appointment", TECH_STEP | {"agent"}),
    ("POST", "/api/v1/orders/{order}/pause", TECH_STEP | {"agent"}),
    ("POST", "/api/v1/orders/{order}/unpause", TECH_STEP | {"agent"}),
    ("POST", "/api/v1/orders/{order}/assign", STAFF),
    ("POST", "/api/v1/orders/{order}/cancel", STAFF | {"agent"}),
    ("POST", "/api/v1/orders/{order}/approve-delay", {"supervisor", "admin"}),
    ("GET", "/api/v1/technicians", STAFF),
    ("POST", "/api/v1/technicians", STAFF),
    ("GET", "/api/v1/technicians/{tech}", STAFF),
    ("PATCH", "/api/v1/technicians/{tech}", STAFF),
    # the customer file: agents look customers up, staff read them too
    ("GET", "/api/v1/customers", STAFF | {"agent"}),
    ("GET", "/api/v1/customers/{customer}", STAFF | {"agent"}),
    ("POST", "/api/v1/customers/{customer}/phones", STAFF | {"agent"}),
    ("POST", "/api/v1/customers/{customer}/merge", STAFF | {"agent"}),
    # inventory
    ("GET", "/api/v1/parts", EVERYONE),
    *[("GET", path, STOCK_READERS) for path in (
        "/api/v1/stock", "/api/v1/stock/movements", "/api/v1/transfers",
        "/api/v1/stock-requests", "/api/v1/backorders", "/api/v1/writeoffs")],
    ("GET", "/api/v1/stock/valuation", {"warehouse", "finance", "hq_auditor", "supervisor",
                                        "admin"}),
    ("POST", "/api/v1/stock/receipts", KEEPER),
    ("POST", "/api/v1/stock/counts", KEEPER),
    ("POST", "/api/v1/purchases", KEEPER),
    ("POST", "/api/v1/stock/reservations", STOCK_MOVERS),
    ("POST", "/api/v1/stock/releases", STOCK_MOVERS),
    ("POST", "/api/v1/transfers", STOCK_MOVERS),
    ("POST", "/api/v1/transfers/{transfer}/send", STOCK_MOVERS),
    ("POST", "/api/v1/transfers/{transfer}/receive", STOCK_MOVERS | {"technician"}),
    ("POST", "/api/v1/stock-requests", STOCK_MOVERS | {"technician"}),
    ("POST", "/api/v1/stock-requests/{request}/approve", {"supervisor", "admin"}),
    ("POST", "/api/v1/stock-requests/{request}/reject", {"supervisor", "admin"}),
    ("POST", "/api/v1/writeoffs/{order}/returns", STOCK_MOVERS | {"technician"}),
    ("POST", "/api/v1/orders/{order}/parts-request", STOCK_MOVERS | {"technician"}),
    ("GET", "/api/v1/orders/{order}/parts", STOCK_READERS),
    # callbacks: only callback staff make the calls; only HQ auditors re-call
    ("GET", "/api/v1/callbacks/tasks", CALLBACK_READERS),
    ("GET", "/api/v1/callbacks/tasks/{task}", CALLBACK_READERS),
    ("POST", "/api/v1/callbacks/next", {"callback_staff"}),
    *[("POST", f"/api/v1/callbacks/tasks/{{task}}/{action}", {"callback_staff"})
      for action in ("claim", "release", "call", "reschedule")],
    ("GET", "/api/v1/callbacks/audits", {"hq_auditor", "supervisor", "admin"}),
    ("POST", "/api/v1/callbacks/audits/{task}", {"hq_auditor"}),
    ("GET", "/api/v1/callbacks/report", CALLBACK_READERS),
    ("GET", "/api/v1/callbacks/schedules", {"callback_staff", "supervisor", "admin"}),
    ("POST", "/api/v1/callbacks/schedules", {"callback_staff", "supervisor", "admin"}),
    # complaints
    ("POST", "/api/v1/complaints", COMPLAINT_WORKERS | {"agent"}),
    ("GET", "/api/v1/complaints", COMPLAINT_WORKERS | {"agent", "hq_auditor"}),
    ("GET", "/api/v1/complaints/{complaint}", COMPLAINT_WORKERS | {"agent", "hq_auditor"}),
    ("GET", "/api/v1/complaints/report", COMPLAINT_WORKERS | {"hq_auditor"}),
    *[("POST", f"/api/v1/complaints/{{complaint}}/{step}", COMPLAINT_WORKERS)
      for step in ("acknowledge", "conclude", "resolve", "confirm", "reopen")],
    # the wallboard's figures
    ("GET", "/api/v1/board", STAFF | {"board", "agent", "hq_auditor", "callback_staff",
                                      "complaint_handler"}),
]


def token(role: str, branch: str) -> str:
    return TOKEN.get(role, f"demo-{role}-{{b}}").format(b=branch.lower())


@pytest.fixture(scope="module")
def targets(system) -> dict:
    """An SH order and technician, and how the order looks before the matrix runs."""
    api = system[0]
    tech = api.technician(["gas"], token="dispatcher")  # not certified for the order
    body = request_body()
    response = api.post("/api/v1/requests", body, "agent")
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    customer = api.get("/api/v1/customers", "agent",
                       params={"phone": body["customer"]["phone"]}).json()["items"][0]
    before = api.wait_listed(order_id)
    complaint = api.post("/api/v1/complaints", {
        "channel": "hotline", "category": "attitude", "description": "态度不好",
        "customer": {"name": "吴先生", "phone": "13922223333"}}, "demo-complaints-sh")
    assert complaint.status_code == 201, complaint.text
    return {"order": order_id, "tech": tech, "before": before,
            "complaint": complaint.json()["complaint_id"], "transfer": "TR-NONE-1",
            "request": "RQ-NONE-1", "task": "CB-SH-20200101-000001",
            "customer": customer["customer_id"]}


# Bodies each operation accepts, so that only the branch can be the reason for a refusal.
VALID = {
    "reject": {"reason": "busy"}, "cancel": {"reason": "customer withdrew"},
    "appointment": {"start": "2026-12-30T10:00:00+08:00", "end": "2026-12-30T12:00:00+08:00"},
    "complete": {"diagnosis": "x", "fault_code": "E1", "repair_done": "x"},
    "assign": {"technician_id": "SZ-T01"},
    "wait-parts": {"parts": [{"sku": "X1", "quantity": 1}], "customer_informed": True},
    "leave": {"outcome": "customer_absent"},
    "pause": {"reason": "customer_away", "customer_informed": True},
    "approve-delay": {"milestone": "arrival", "new_deadline": "2026-12-30T10:00:00+08:00",
                      "reason": "storm", "customer_informed": True},
    "{tech}": {"cap": 3},
}


def _call(api, method: str, template: str, targets: dict, tok: str, valid: bool = False):
    """With ``valid``, a body the operation accepts; else one no operation accepts, so
    allowed calls stop at validation and change nothing."""
    kwargs = {}
    if method in ("POST", "PATCH"):
        kwargs["json"] = VALID.get(template.rsplit("/", 1)[-1], {}) if valid else {
            "no_such_field": True}
    return api.call(method, template.format(**targets), tok, **kwargs)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX,
                         ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_own_branch(system, targets, method, path, allowed, role):
    api = system[0]
    response = _call(api, method, path, targets, token(role, "SH"))
    if role in allowed:
        assert response.status_code not in (401, 403, 500), response.text
    else:
        assert response.status_code == 403, response.text


# Rows on the SH order, technician and complaint with bodies each operation accepts.
REAL_TARGETS = [row for row in MATRIX if row[0] == "GET" and "{" in row[1]
                or row[1].startswith(("/api/v1/orders/{order}/", "/api/v1/technicians/"))
                and row[1].rsplit("/", 1)[-1] in (*VALID, "accept", "contact", "check-in",
                                                  "resume")]


@pytest.mark.parametrize("role", BRANCH_ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"), REAL_TARGETS,
                         ids=[f"{m} {p}" for m, p, _ in REAL_TARGETS])
def test_other_branch_sees_nothing(system, targets, method, path, allowed, role):
    """An SZ token: 403 for what its role may never do, else 404 — never SH's data."""
    api = system[0]
    response = _call(api, method, path, targets, token(role, "SZ"), valid=True)
    assert response.status_code == (404 if role in allowed else 403), response.text


def test_other_branch_lists_and_requests(system, targets):
    api = system[0]
    listed = api.get("/api/v1/orders", "demo-dispatcher-sz", params={"page_size": 100})
    assert targets["order"] not in {o["order_id"] for o in listed.json()["items"]}
    technicians = api.get("/api/v1/technicians", "demo-dispatcher-sz").json()["items"]
    assert targets["tech"] not in {t["technician_id"] for t in technicians}
    wrong_region = api.post("/api/v1/requests", request_body(), "demo-agent-sz")
    assert wrong_region.status_code == 422


def test_matrix_changed_nothing(system, targets):
    api = system[0]
    after = api.order(targets["order"])
    assert after["status"] == targets["before"]["status"]
    assert after["timeline"] == api.order(targets["order"])["timeline"]
    assert len(after["timeline"]) <= 2, after["timeline"]  # received/offered at most


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc",
                                    "Token demo-agent-sh", "Bearer not-a-token",
                                    "Bearer demo-agent-sh-extra"])
def test_bad_tokens_are_401(system, header):
    api = system[0]
    headers = {} if header is None else {"Authorization": header}
    response = api.call("GET", "/api/v1/orders", None, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"


def test_expired_and_revoked_tokens_are_401(system):
    api, tokens_file = system[0], system[0].tokens_file
    raw = yaml.safe_load(tokens_file.read_text())
    raw["tokens"]["e2e-expired"] = {"role": "admin", "branch": "SH",
                                    "expires_at": "2026-01-01T00:00:00+00:00"}
    raw["tokens"]["e2e-revoked"] = {"role": "admin", "branch": "SH"}
    tokens_file.write_text(yaml.safe_dump(raw))
    assert api.get("/api/v1/orders", "e2e-revoked").status_code == 200
    expired = api.get("/api/v1/orders", "e2e-expired")
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    del raw["tokens"]["e2e-revoked"]
    tokens_file.write_text(yaml.safe_dump(raw))
    assert api.get("/api/v1/orders", "e2e-revoked").status_code == 401
