"""One request id from the gateway to the services behind it: accepted from
``X-Request-Id`` (or made), answered in the header, carried by RPC to intake and by the
order_created event's envelope to dispatch, and written on their log lines. A hostile
value is replaced, never echoed nor logged."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import requests

from gateway.service import GatewayService
from services.common.logs import JsonFormatter
from services.common.request_id import valid
from services.dispatch.service import DispatchService
from services.intake.service import IntakeService
from tests.conftest import free_port
from tests.integration.conftest import wait_for

AGENT = {"Authorization": "Bearer demo-agent-sh"}


def _request(call_id: str) -> dict:
    return {"customer": {"name": "钱女士", "phone": "13900003333", "address": "徐汇区某路9号",
                         "region_code": "310104"},
            "product": {"category": "range_hood", "serial_number": f"RH-{call_id}"},
            "request_type": "repair", "description": "噪音大", "channel": "hotline",
            "call_id": call_id}


class _Lines(logging.Handler):
    """Every record as the services write it (JSON, one line each)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def of(self, logger: str, msg: str) -> list[dict]:
        return [line for line in self.lines if line["logger"] == logger and line["msg"] == msg]


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler, root = _Lines(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def gateway(start_service) -> str:
    start_service(IntakeService, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
    start_service(DispatchService, WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
    address = f"127.0.0.1:{free_port()}"
    start_service(GatewayService, WEB_SERVER_ADDRESS=address)
    return f"http://{address}"


def _created_and_taken_in(gateway: str, lines: _Lines, call_id: str,
                          header: str | None) -> tuple[str, dict, dict]:
    # Sent as bytes: a value outside Latin-1 reaches the gateway as a client sent it.
    headers = {**AGENT, **({"X-Request-Id": header.encode()} if header is not None else {})}
    response = requests.post(f"{gateway}/api/v1/requests", json=_request(call_id),
                             headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]

    def logged(logger: str, msg: str) -> dict | None:
        found = [line for line in lines.of(logger, msg)
                 if line.get("ctx", {}).get("order_id") == order_id]
        return found[0] if found else None

    created = wait_for(lambda: logged("services.intake.desk", "order created"))
    taken_in = wait_for(lambda: logged("services.dispatch.offering", "order taken in"))
    return response.headers["X-Request-Id"], created, taken_in


def test_the_callers_request_id_reaches_intake_and_dispatch_log_lines(gateway, lines):
    sent = "call-centre-7f3a:0042"
    answered, created, taken_in = _created_and_taken_in(gateway, lines, "RID-1", sent)
    assert answered == sent
    assert created["request_id"] == sent  # intake, over RPC
    assert taken_in["request_id"] == sent  # dispatch, from the event's envelope


def test_a_request_without_an_id_gets_one(gateway, lines):
    answered, created, taken_in = _created_and_taken_in(gateway, lines, "RID-2", None)
    assert valid(answered) and created["request_id"] == taken_in["request_id"] == answered


@pytest.mark.parametrize("hostile", [
    "x" * 129, "<script>alert(1)</script>", "id with spaces", "-leading-dash",
    "ok\u202eevil", "请求编号"])
def test_a_hostile_request_id_is_replaced_not_echoed(gateway, lines, hostile):
    answered, created, taken_in = _created_and_taken_in(
        gateway, lines, f"RID-H{len(hostile)}{ord(hostile[0])}", hostile)
    assert answered != hostile and valid(answered)
    assert created["request_id"] == taken_in["request_id"] == answered
    assert not any(hostile in json.dumps(line, ensure_ascii=False) for line in lines.lines)
