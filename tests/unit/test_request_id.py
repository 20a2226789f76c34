"""The request id's rules without a broker: which values are taken, the id in event
envelopes, the consumer's choice between envelope and header, and the log line."""

from __future__ import annotations

import json
import logging
import re
from contextvars import copy_context
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from schemas.events import EventEnvelope
from services.common.logs import JsonFormatter
from services.common.messaging import ReliableEventHandler
from services.common.privacy import mask_text
from services.common.request_id import (
    MAX_LENGTH,
    RequestIdProvider,
    accepted,
    current,
    new_request_id,
    valid,
)
from services.common.unit_of_work import UnitOfWork

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [
    "a", "0b9e4c2d8f1a4e6b9c3d2e1f0a9b8c7d", "cti-7f3a:0042.retry_1", "A" * MAX_LENGTH])
def test_a_plain_id_is_kept(value):
    assert accepted(value) == value


@pytest.mark.parametrize("value", [
    None, "", "A" * (MAX_LENGTH + 1), "x\r\nSet-Cookie: a=b", "x\n", "<script>", "a b",
    "-x", "请求", "ok\u202eevil", "a/../b", 42,
    "13912345678", "cti-13912345678-1"])  # a phone number would reach every log line
def test_anything_else_is_replaced_by_a_new_id(value):
    replaced = accepted(value)
    assert replaced != value and valid(replaced) and len(replaced) == 26


def test_made_ids_never_look_like_a_phone_number():
    made = [new_request_id() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert not [i for i in made if re.search(r"1[3-9]\d{9}", i) or mask_text(i) != i]


class _Worker:
    """What the provider reads of nameko's WorkerContext (hashable, like it)."""

    def __init__(self, data: dict) -> None:
        self.data = data


def _bound(request_id: str | None, work):
    """``work()`` as a worker of a request with ``request_id`` in its context data."""
    provider, data = RequestIdProvider(), {}
    if request_id is not None:
        data["request_id"] = request_id
    worker = _Worker(data)

    def run():
        bound = provider.get_dependency(worker)
        try:
            return bound, work()
        finally:
            provider.worker_teardown(worker)

    return copy_context().run(run)


def test_a_worker_runs_under_its_requests_id_or_a_new_one():
    assert _bound("req-1", current) == ("req-1", "req-1")
    made, seen = _bound(None, current)
    assert valid(made) and seen == made
    assert _bound("bad id", current)[0] != "bad id"
    assert current() is None  # nothing leaks out of the worker


def test_events_written_for_a_request_carry_its_id_in_the_envelope():
    def events():
        uow = UnitOfWork("intake", NOW, NOW)
        return uow.events("SH", "order_created", order_id="SH-20261203-000001")

    _, [event] = _bound("req-2", events)
    assert event["request_id"] == "req-2"
    assert EventEnvelope().load(event)["request_id"] == "req-2"
    [outside] = UnitOfWork("intake", NOW, NOW).events("SH", "order_created")
    assert "request_id" not in outside


def _consumer_context(payload: dict, headers: dict) -> dict:
    handler = ReliableEventHandler.__new__(ReliableEventHandler)
    return handler.unpack_message_headers(SimpleNamespace(payload=payload, headers=headers))


def test_a_consumer_works_under_the_envelopes_id_not_the_relays():
    relay_header = {"nameko.request_id": "relay-timer-run"}
    assert _consumer_context({"request_id": "req-3"}, relay_header)["request_id"] == "req-3"
    assert _consumer_context({}, relay_header)["request_id"] == "relay-timer-run"
    hostile = _consumer_context({"request_id": "a b\n"}, {})
    assert "request_id" not in hostile  # the worker then makes one


def test_every_line_written_for_a_request_names_it():
    formatter = JsonFormatter("intake")
    record = logging.LogRecord("x", logging.INFO, "f", 1, "order created", (), None)
    _, line = _bound("req-4", lambda: json.loads(formatter.format(record)))
    assert line["request_id"] == "req-4"
    assert "request_id" not in json.loads(formatter.format(record))
