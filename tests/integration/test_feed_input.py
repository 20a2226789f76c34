"""The call-centre feed holds requests to the same contract as the gateway: invalid Unicode,
names with nothing visible and implausible dates are answered as field errors and
dead-lettered, never stored and never retried."""

import json
import uuid
from collections.abc import Callable

import pytest
from kombu import Queue

from schemas.feeds import FEED_QUEUE
from services.common.messaging import dead_letter_queue
from services.intake.feeds import VALIDATION_HEADER
from services.intake.service import IntakeService
from tests.integration.conftest import next_message


def _request(call_id: str) -> dict:
    return {"customer": {"name": "赵先生", "phone": "13600002222", "address": "徐汇区漕溪北路8号",
                         "region_code": "310104"},
            "product": {"category": "range_hood", "serial_number": f"RH-{call_id}"},
            "request_type": "repair", "description": "油烟机不转", "channel": "hotline",
            "call_id": call_id}


def _with(path: list[str], value) -> Callable[[dict], dict]:
    """A change to a request: ``value`` at ``path`` (the last key may be a new one)."""

    def change(body: dict) -> dict:
        node = body
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return body

    return change


CASES = [
    ("surrogate in the name", _with(["customer", "name"], "赵\ud800"), ["customer", "name"]),
    ("surrogate in a key", _with(["customer", "na\udc00me"], "x"),
     ["customer", "na\\udc00me"]),
    ("zero-width name", _with(["customer", "name"], "\u200b\u2060"), ["customer", "name"]),
    ("purchase in year 1", _with(["product", "purchase_date"], "0001-01-01"),
     ["product", "purchase_date"]),
]


@pytest.mark.parametrize(("case", "change", "path"), CASES, ids=[c[0] for c in CASES])
def test_invalid_feed_requests_are_field_errors(start_service, broker, mongo, db_prefix,
                                                case, change, path):
    start_service(IntakeService)
    channel = broker.default_channel
    replies = Queue(f"cti-replies-{uuid.uuid4().hex[:6]}", exclusive=True)(channel)
    replies.declare()
    call_id = f"CTI-{uuid.uuid4().hex[:8]}"
    # json.dumps escapes a lone surrogate as \udxxx, as a CTI system's encoder would.
    raw = json.dumps(change(_request(call_id))).encode()
    broker.Producer(channel).publish(raw, routing_key=FEED_QUEUE, reply_to=replies.name,
                                     content_type="application/json",
                                     content_encoding="utf-8", delivery_mode=2)

    answer = next_message(replies).payload
    assert answer["ok"] is False and answer["error"] == "invalid_input", answer
    node = answer["fields"]
    for key in path:
        node = node[key]
    assert "\u4e00" <= node[0][0] <= "\u9fff", node  # Chinese first
    dead = next_message(dead_letter_queue("intake")(channel))
    assert path[0] in json.loads(dead.headers[VALIDATION_HEADER])
    assert mongo[f"{db_prefix}_intake"]["requests"].count_documents({"call_ids": call_id}) == 0
