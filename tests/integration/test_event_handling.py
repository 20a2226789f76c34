"""Event consumption on the real broker: bounded retries, a reasoned dead-letter queue for
failures and undecodable messages, and the rest keep flowing."""

import time

import eventlet
from kombu import Exchange, Queue
from nameko.web.handlers import http  # noqa: F401 (a service needs no web entrypoint)

from services.common.messaging import (
    DEAD_LETTER_EXCHANGE,
    dead_letter_queue_name,
    reliable_handler,
)

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


def _dead_letters(broker) -> list:
    queue = Queue(dead_letter_queue_name("probe_consumer"),
                  exchange=Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True),
                  routing_key="probe_consumer", durable=True)(broker.default_channel)
    queue.declare()
    found = []
    while (message := queue.get(no_ack=True)) is not None:
        found.append(message)
    return found


def _wait(predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        eventlet.sleep(0.1)
    return False


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
    assert _wait(lambda: sorted(HANDLED) == [3, 4, 5, 6, 7])
    dead = []
    assert _wait(lambda: len(dead.extend(_dead_letters(broker)) or dead) >= 4)
    reasons = sorted(m.headers["x-failure-reason"] for m in dead)
    assert any(r.startswith("ConnectionError") and "after 3 attempt(s)" in r for r in reasons)
    assert any(r.startswith("ValueError") and "after 1 attempt(s)" in r for r in reasons)
    assert sum(r.startswith("undecodable message") for r in reasons) == 2
    assert ATTEMPTS[1] == 3 and ATTEMPTS[2] == 1  # bounded retries; permanent not retried
    eventlet.sleep(1)
    assert _dead_letters(broker) == [] and ATTEMPTS[1] == 3  # nothing loops afterwards
