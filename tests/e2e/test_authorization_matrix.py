"""Every endpoint × every role × own branch / other branch, against a table of what each
role may do, written here independently of the gateway's own permission tables; and
tokens that are missing, malformed, unknown, expired or revoked."""

import pytest
import yaml

from tests.e2e.conftest import request_body

ROLES = ("agent", "dispatcher", "technician", "supervisor", "admin", "warehouse", "finance",
         "callback_staff", "complaint_handler", "hq_auditor")
TOKEN = {"technician": "demo-tech-{b}-01", "callback_staff": "demo-callback-{b}",
         "complaint_handler": "demo-complaints-{b}", "hq_auditor": "demo-hq-auditor-{b}"}
STAFF = {"dispatcher", "supervisor", "admin"}
EVERYONE = set(ROLES)
TECH_STEP = STAFF | {"technician"}

# (method, path, who may call it). {order} and {tech} are filled in per test.
MATRIX = [
    ("POST", "/api/v1/requests", STAFF | {"agent"}),
    ("GET", "/api/v1/orders", EVERYONE),
    ("GET", "/api/v1/orders/{order}", EVERYONE),
    ("GET", "/api/v1/orders/{order}/timeline", EVERYONE),
    *[("POST", f"/api/v1/orders/{{order}}/{step}", TECH_STEP)
      for step in ("accept", "reject", "contact", "check-in", "complete", "wait-parts",
                   "resume")],
    ("POST", "/api/v1/orders/{order}/appointment", TECH_STEP | {"agent"}),
    ("POST", "/api/v1/orders/{order}/assign", STAFF),
    ("POST", "/api/v1/orders/{order}/cancel", STAFF | {"agent"}),
    ("POST", "/api/v1/orders/{order}/approve-delay", {"supervisor", "admin"}),
    ("GET", "/api/v1/technicians", STAFF),
    ("POST", "/api/v1/technicians", STAFF),
    ("GET", "/api/v1/technicians/{tech}", STAFF),
    ("PATCH", "/api/v1/technicians/{tech}", STAFF),
]


def token(role: str, branch: str) -> str:
    return TOKEN.get(role, f"demo-{role}-{{b}}").format(b=branch.lower())


@pytest.fixture(scope="module")
def targets(system) -> dict:
    """An SH order and technician, and how the order looks before the matrix runs."""
    api = system[0]
    tech = api.technician(["gas"], token="dispatcher")  # not certified for the order
    response = api.post("/api/v1/requests", request_body(), "agent")
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    before = api.wait_listed(order_id)
    return {"order": order_id, "tech": tech, "before": before}


# Bodies each operation accepts, so that only the branch can be the reason for a refusal.
VALID = {
    "reject": {"reason": "busy"}, "cancel": {"reason": "customer withdrew"},
    "appointment": {"start": "2026-12-30T10:00:00+08:00", "end": "2026-12-30T12:00:00+08:00"},
    "complete": {"diagnosis": "x", "fault_code": "E1", "repair_done": "x"},
    "assign": {"technician_id": "SZ-T01"},
    "wait-parts": {"parts": [{"sku": "X1", "quantity": 1}], "customer_informed": True},
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


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"),
                         [row for row in MATRIX if "{" in row[1]],
                         ids=[f"{m} {p}" for m, p, _ in MATRIX if "{" in p])
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
