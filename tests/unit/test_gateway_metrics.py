"""The gateway counts every answer by route template, method and status (errors too) and
times it; every process exports its process and runtime metrics. A small service on the
gateway's own HTTP entrypoint runs in a real nameko container (HTTP only: no broker)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gateway.http import endpoint, json_response
from gateway.observed import ObservedHttp, http, http_metrics, route_template
from gateway.service import GatewayService
from services.common.errors import GatewayTimeout, NotFound, Unavailable
from services.common.health import _Probe
from services.common.metrics import Metrics
from services.common.request_id import valid

FAILURES = {"missing": NotFound("no such thing"), "down": Unavailable("down"),
            "slow": GatewayTimeout("slow")}


class Things:
    name = "things"
    metrics = Metrics(http_metrics)

    @http("GET", "/api/v1/things/<string:thing_id>")
    @endpoint(None)
    def thing(self, request, caller, thing_id: str):
        if thing_id == "broken":
            raise RuntimeError("a bug")  # not an AppError: the endpoint lets it through
        if thing_id in FAILURES:
            raise FAILURES[thing_id]
        return json_response(200, {"id": thing_id})

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        return self.metrics.exposition()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = _free_port()
    container = ServiceContainer(Things, {"WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"})
    container.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        container.stop()


def _samples(base_url: str, name: str) -> dict[tuple, float]:
    text = requests.get(f"{base_url}/metrics", timeout=5).text
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name}


def test_route_template_is_the_openapi_form():
    assert route_template("/api/v1/orders/<string:order_id>/<action>") == \
        "/api/v1/orders/{order_id}/{action}"


def test_every_answer_is_counted_by_route_template_and_status(base_url):
    answers = {"a1": 200, "a2": 200, "missing": 404, "down": 503, "slow": 504, "broken": 500}
    for thing, status in answers.items():
        assert requests.get(f"{base_url}/api/v1/things/{thing}", timeout=5).status_code \
            == status
    counted = _samples(base_url, "aftersales_http_requests_total")

    def count(status: int) -> float:
        key = (("method", "GET"), ("route", "/api/v1/things/{thing_id}"),
               ("status", str(status)))
        return counted.get(key, 0)

    assert [count(s) for s in (200, 404, 503, 504, 500)] == [2, 1, 1, 1, 1]
    timed = _samples(base_url, "aftersales_http_request_duration_seconds_count")
    assert timed[(("method", "GET"), ("route", "/api/v1/things/{thing_id}"))] == 6


def test_process_metrics_on_every_metrics_endpoint(base_url):
    names = {family.name for family in text_string_to_metric_families(
        requests.get(f"{base_url}/metrics", timeout=5).text)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes",
            "process_start_time_seconds", "python_info", "python_gc_collections"} <= names


def test_a_services_registry_holds_the_process_collectors():
    registry = CollectorRegistry()
    Metrics().register(registry, {})
    assert registry.get_sample_value("process_start_time_seconds") > 0


def test_every_gateway_route_is_counted():
    """A route on nameko's plain ``http`` would answer uncounted."""
    handlers = {type(h) for h in _entrypoints(GatewayService)
                if isinstance(h, HttpRequestHandler)}
    assert ObservedHttp in handlers
    assert all(issubclass(h, ObservedHttp | _Probe) for h in handlers), handlers


def _entrypoints(cls: type) -> list:
    return [entrypoint for name in dir(cls)
            for entrypoint in getattr(getattr(cls, name, None), "nameko_entrypoints", ())]


def test_the_callers_request_id_is_answered_and_a_hostile_one_replaced(base_url):
    url = f"{base_url}/api/v1/things/a1"
    kept = requests.get(url, headers={"X-Request-Id": "cti-42:7"}, timeout=5)
    assert kept.headers["X-Request-Id"] == "cti-42:7"
    for hostile in ("<img src=x>", "x" * 129, "\u8bf7\u6c42".encode()):
        answered = requests.get(url, headers={"X-Request-Id": hostile}, timeout=5)
        assert answered.headers["X-Request-Id"] not in (hostile, "")
        assert valid(answered.headers["X-Request-Id"])
    made = requests.get(f"{base_url}/api/v1/things/missing", timeout=5)
    assert made.status_code == 404 and valid(made.headers["X-Request-Id"])
