"""schemathesis against the gateway's own OpenAPI document: every operation, with a valid
token of each role, must answer without a 5xx and with responses that match the schema.

`make test` runs a bounded number of examples per operation; `make fuzz` runs longer
(FUZZ_EXAMPLES)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKENS, request_body

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance," \
         "response_schema_conformance"
ROLE_TOKENS = ["agent", "dispatcher", "supervisor", "admin", "tech1"]


@pytest.fixture(scope="module")
def known_ids(system) -> dict[str, str]:
    """A real order, technician and customer, so operations on them reach the services'
    logic rather than stopping at 404."""
    api = system[0]
    tech = api.technician(["refrigeration"])
    body = request_body()
    response = api.post("/api/v1/requests", body, "agent")
    assert response.status_code == 201, response.text
    customers = api.get("/api/v1/customers", "agent",
                        params={"phone": body["customer"]["phone"]}).json()["items"]
    return {"order_id": response.json()["order_id"], "technician_id": tech,
            "customer_id": customers[0]["customer_id"]}


# A role's run takes 2–3 minutes on a quiet machine (more with each new operation): the
# suite's 300 s per test would cut it off on a loaded one.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ROLE_TOKENS)
def test_every_operation_answers_without_server_errors(system, known_ids, role, tmp_path):
    api = system[0]
    binary = Path(sys.executable).with_name("schemathesis")
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(
        f'"path.{name}" = "{value}"\n' for name, value in known_ids.items()))
    result = subprocess.run(
        [str(binary), "--config-file", str(config), "run", f"{api.base}/api/v1/openapi.json",
         "--url", api.base,
         "--header", f"Authorization: Bearer {TOKENS[role]}", "--checks", CHECKS,
         "--max-examples", str(EXAMPLES), "--seed", "20261125", "--workers", "1",
         "--phases", "examples,coverage,fuzzing", "--no-shrink",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout
