"""Event consumption on the real broker: bounded retries, a reasoned dead-letter queue for
failures and undecodable messages, and the rest keep flowing."""

import eventlet
from kombu import Exchange
from nameko.web.handlers import http  # noqa: F401 (a service needs no web entrypoint)

from services.common.messaging import reliable_handler
from tests.integration.conftest import drain_dead_letters, wait_for

PROBE = Exchange("probe.events", type="topic", durable=True)
HANDLED: list = []
ATTEMPTS: dict = {}


class Consumer:
    name = "probe_consumer"

    @reliable_handler("probe", "ping")
    def on_ping(self, payload):
        ATTEMPTS[payload["n"]] = ATTEMPTS.get(payload["n"], 0) + 1
        if payload.get("fail") == "transient":
            raise ConnectionError("store unavailable")
        if payload.get("fail") == "permanent":
            raise ValueError("no such order")
        HANDLED.append(payload["n"])


def _publish(broker, body, **kwargs):
    broker.Producer().publish(body, exchange=PROBE, routing_key="ping", declare=[PROBE],
                              **kwargs)


def test_failures_are_dead_lettered_with_reason_and_others_flow(start_service, broker):
    HANDLED.clear()
    ATTEMPTS.clear()
    start_service(Consumer, delivery_attempts=3)
    _publish(broker, {"n": 1, "fail": "transient"}, serializer="json")
    _publish(broker, {"n": 2, "fail": "permanent"}, serializer="json")
    _publish(broker, b"\x80not json", content_type="application/json",
             content_encoding="binary")
    _publish(broker, b"pickled?", content_type="application/x-python-serialize",
             content_encoding="binary")
    for n in range(3, 8):
        _publish(broker, {"n": n}, serializer="json")
    wait_for(lambda: sorted(HANDLED) == [3, 4, 5, 6, 7])
    dead = []
    wait_for(lambda: len(dead.extend(drain_dead_letters(broker, "probe_consumer")) or dead) >= 4)
    reasons = sorted(m.headers["x-failure-reason"] for m in dead)
    assert any(r.startswith("ConnectionError") and "after 3 attempt(s)" in r for r in reasons)
    assert any(r.startswith("ValueError") and "after 1 attempt(s)" in r for r in reasons)
    assert sum(r.startswith("undecodable message") for r in reasons) == 2
    assert ATTEMPTS[1] == 3 and ATTEMPTS[2] == 1  # bounded retries; permanent not retried
    eventlet.sleep(1)
    # nothing loops afterwards
    assert drain_dead_letters(broker, "probe_consumer") == [] and ATTEMPTS[1] == 3
