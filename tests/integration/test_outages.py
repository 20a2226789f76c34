"""Outages reported honestly: a store or broker outage is a 503 with Retry-After, a
service that does not answer is a 504, and liveness answers while every worker is busy.

Each test runs its services in this process against a store of its own (so stopping it
disturbs no other test) and the test's own vhost."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
import requests
from kombu import Connection, Exchange, Queue

from gateway.service import GatewayService
from services.dispatch.service import DispatchService
from services.intake.service import IntakeService
from services.ops.infra import EmbeddedMongo
from tests.conftest import free_port

AGENT = {"Authorization": "Bearer demo-agent-sh"}
DISPATCHER = {"Authorization": "Bearer demo-dispatcher-sh"}


def _request(call_id: str) -> dict:
    return {"customer": {"name": "赵先生", "phone": "13600002222", "address": "黄浦区某路8号",
                         "region_code": "310101"},
            "product": {"category": "range_hood", "serial_number": f"RH-{call_id}"},
            "request_type": "repair", "description": "吸力变小", "channel": "hotline",
            "call_id": call_id}


def _is_chinese_first(text: str) -> bool:
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


def _assert_unavailable(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "unavailable"
    assert _is_chinese_first(body["message"]), body


def _timed_get(url: str, **kwargs) -> tuple[float, requests.Response]:
    started = time.monotonic()
    response = requests.get(url, timeout=30, **kwargs)
    return time.monotonic() - started, response


def _wait_for(predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


@pytest.fixture
def store(tmp_path) -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(tmp_path / "db", port=free_port(),
                           extra_args=("--enable-test-commands",))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def launch(store, start_service):
    """Starts a service on the private store; returns its base URL. The services stop
    before the store does (fixtures end in reverse order)."""

    def start(cls, **overrides) -> str:
        address = f"127.0.0.1:{free_port()}"
        start_service(cls, MONGO_URI=store.uri, WEB_SERVER_ADDRESS=address, **overrides)
        return f"http://{address}"

    return start


def _listed(gateway: str, order_id: str) -> bool:
    page = requests.get(f"{gateway}/api/v1/orders", headers=DISPATCHER, timeout=30,
                        params={"page_size": 100})
    return page.status_code == 200 and any(
        item["order_id"] == order_id for item in page.json()["items"])


def test_a_store_outage_is_503_with_retry_after_and_leaves_nothing_half_written(launch,
                                                                               store):
    intake = launch(IntakeService)
    launch(DispatchService)
    gateway = launch(GatewayService)
    before = requests.post(f"{gateway}/api/v1/requests", json=_request("OUT-1"),
                           headers=AGENT, timeout=30)
    assert before.status_code == 201, before.text
    _wait_for(lambda: _listed(gateway, before.json()["order_id"]), 20)

    store.stop()
    _assert_unavailable(requests.post(f"{gateway}/api/v1/requests", json=_request("OUT-2"),
                                      headers=AGENT, timeout=30))
    _assert_unavailable(requests.get(f"{gateway}/api/v1/orders", headers=DISPATCHER,
                                     timeout=30))
    assert requests.get(f"{intake}/health/live", timeout=5).status_code == 200
    for path in ("/health", "/health/ready"):
        not_ready = requests.get(f"{intake}{path}", timeout=10)
        assert not_ready.status_code == 503 and "Retry-After" in not_ready.headers, path
    assert requests.get(f"{gateway}/health/ready", timeout=5).status_code == 200

    store.start()
    _wait_for(lambda: requests.get(f"{intake}/health", timeout=10).ok, 30)
    # The refused request left nothing behind: sent again, it is a new order, not a
    # reminder of a half-made one; the order made before the outage is intact.
    again = requests.post(f"{gateway}/api/v1/requests", json=_request("OUT-2"),
                          headers=AGENT, timeout=30)
    assert again.status_code == 201 and again.json().get("reminders", 0) == 0, again.text
    _wait_for(lambda: _listed(gateway, again.json()["order_id"]), 20)
    assert _listed(gateway, before.json()["order_id"])


def test_a_service_that_does_not_answer_is_504_and_one_never_started_is_503(launch,
                                                                           amqp_uri):
    # intake's queue exists but nothing consumes it (a hung or stopped service):
    # the call waits out the gateway's timeout. dispatch was never started here.
    with Connection(amqp_uri) as conn:
        Queue("rpc-intake", Exchange("nameko-rpc", type="topic", durable=True),
              routing_key="intake.*", durable=True)(conn.default_channel).declare()
    gateway = launch(GatewayService, rpc_timeout_seconds=2)

    _assert_unavailable(requests.get(f"{gateway}/api/v1/orders", headers=DISPATCHER,
                                     timeout=30))
    waited = requests.post(f"{gateway}/api/v1/requests", json=_request("TO-1"),
                           headers=AGENT, timeout=30)
    assert waited.status_code == 504, waited.text
    assert waited.json()["error"] == "timeout"
    assert _is_chinese_first(waited.json()["message"])


def test_a_broker_outage_is_503_with_retry_after(launch, amqp_uri):
    launch(IntakeService)
    gateway = launch(GatewayService)
    ok = requests.post(f"{gateway}/api/v1/requests", json=_request("BR-1"), headers=AGENT,
                       timeout=30)
    assert ok.status_code == 201, ok.text

    vhost = unquote(amqp_uri.rsplit("/", 1)[1])
    _rabbitmqctl("delete_vhost", vhost)  # every connection to it is closed at once
    try:
        _assert_unavailable(requests.post(f"{gateway}/api/v1/requests",
                                          json=_request("BR-2"), headers=AGENT, timeout=60))
    finally:
        _rabbitmqctl("add_vhost", vhost)  # for the fixture that removes it
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)


def test_liveness_answers_while_every_worker_is_busy(launch, store):
    intake = launch(IntakeService, max_workers=2)
    gateway = launch(GatewayService, max_workers=2)
    store.stop()  # every store call now holds its worker for the server-selection wait
    with ThreadPoolExecutor(4) as pool:
        stuck = [pool.submit(requests.post, f"{gateway}/api/v1/requests",
                             json=_request(uuid.uuid4().hex), headers=AGENT, timeout=60)
                 for _ in range(4)]
        time.sleep(1)  # the gateway's and intake's workers are all taken by now
        for base in (intake, gateway):
            seconds, live = _timed_get(f"{base}/health/live")
            assert live.status_code == 200 and seconds < 1, (base, seconds, live.text)
        seconds, ready = _timed_get(f"{intake}/health")
        assert ready.status_code == 503 and seconds < 4, (seconds, ready.text)
        for future in stuck:
            assert future.result().status_code in (503, 504)
