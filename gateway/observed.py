"""The gateway's HTTP entrypoint: nameko's ``http``, with every answer counted by route
template, method and status, and timed by route template and method, and every request
given its id (``X-Request-Id``, services/common/request_id.py), answered in the header.

The route label is the template the request matched (``/api/v1/orders/{order_id}``), never
the path, so ids do not multiply the series. The label children are looked up once per
(method, status) and kept, so a request costs one dict lookup, one increment and one
observation.
"""

from __future__ import annotations

import re
import time
from functools import partial
from typing import Any

from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import CollectorRegistry, Counter, Histogram
from werkzeug.wrappers import Request, Response

from services.common.metrics import LATENCY_BUCKETS, Metrics
from services.common.request_id import CONTEXT_KEY, HEADER, accepted

_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_template(url: str) -> str:
    """werkzeug's rule as OpenAPI writes it: ``<string:order_id>`` -> ``{order_id}``."""
    return _PARAMETER.sub(r"{\1}", url)


def http_metrics(registry: CollectorRegistry, config: dict) -> dict[str, Any]:
    """The gateway's request metrics (its Metrics ``define``)."""
    return {
        "http_requests": Counter(
            "aftersales_http_requests_total",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"], registry=registry),
        "http_duration": Histogram(
            "aftersales_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"], registry=registry, buckets=LATENCY_BUCKETS),
    }


class ObservedHttp(HttpRequestHandler):
    """``@http`` that counts and times every answer, errors (4xx, 5xx) included, and
    runs the worker under the request's id."""

    def setup(self) -> None:
        super().setup()
        self.route = route_template(self.url)
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    def start(self) -> None:
        # Every dependency is set up before any entrypoint starts.
        metrics = next(dep for dep in self.container.dependencies if isinstance(dep, Metrics))
        self._requests = metrics.handle.http_requests
        self._duration = metrics.handle.http_duration
        super().start()

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = accepted(request.headers.get(HEADER))
        response = self._answer(request, {CONTEXT_KEY: request_id})
        response.headers[HEADER] = request_id
        self._observe(request.method, response.status_code, time.perf_counter() - started)
        return response

    def _answer(self, request: Request, context_data: dict[str, Any]) -> Response:
        """nameko's own handling (a worker, its result or error as a response)."""
        request.shallow = False
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                        handle_result=partial(self.handle_result, event))
            return self.response_from_result(event.wait())
        except Exception as exc:  # nameko's answer: 400 for a bad call, else 500
            return self.response_from_exception(exc)

    def _observe(self, method: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, status))
        if counter is None:
            counter = self._requests.labels(self.route, method, str(status))
            self._counters[(method, status)] = counter
        counter.inc()
        timer = self._timers.get(method)
        if timer is None:
            timer = self._timers[method] = self._duration.labels(self.route, method)
        timer.observe(seconds)


http = ObservedHttp.decorator
