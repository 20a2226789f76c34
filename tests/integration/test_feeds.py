"""The call-centre feed queue: stored then acked, answered on reply_to, idempotent by
call_id, invalid messages dead-lettered with their field errors."""

import json
import uuid

from kombu import Queue

from schemas.feeds import FEED_QUEUE
from services.common.messaging import dead_letter_queue
from services.intake.feeds import VALIDATION_HEADER
from services.intake.service import IntakeService
from tests.integration.conftest import next_message


def _request(call_id: str, **extra) -> dict:
    body = {"customer": {"name": "赵先生", "phone": "13600002222", "address": "徐汇区漕溪北路8号",
                         "region_code": "310104"},
            "product": {"category": "range_hood", "serial_number": f"RH-{call_id}"},
            "request_type": "repair", "description": "油烟机不转", "channel": "hotline",
            "call_id": call_id}
    body.update(extra)
    return body


def test_feed_stores_answers_and_dead_letters(start_service, broker, mongo, db_prefix):
    start_service(IntakeService)
    channel = broker.default_channel
    replies = Queue(f"cti-replies-{uuid.uuid4().hex[:6]}", exclusive=True)(channel)
    replies.declare()
    producer = broker.Producer(channel)

    def send(body, correlation_id: str, content_type="application/json"):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        producer.publish(raw, routing_key=FEED_QUEUE, reply_to=replies.name,
                         correlation_id=correlation_id, content_type=content_type,
                         content_encoding="utf-8", delivery_mode=2)

    send(_request("CTI-1"), "c1")
    first = next_message(replies)
    send(_request("CTI-1"), "c2")  # the CTI system sent the same call twice
    second = next_message(replies)
    send(_request("CTI-2", channel="pigeon", customer={"name": "x"}), "c3")
    rejected = next_message(replies)

    assert first.properties["correlation_id"] == "c1"
    assert first.payload["ok"] and first.payload["created"]
    assert first.payload["order_id"].startswith("SH-")
    assert second.payload == {**first.payload, "created": False}
    stored = mongo[f"{db_prefix}_intake"]["requests"]
    assert stored.count_documents({"call_ids": "CTI-1"}) == 1

    assert rejected.properties["correlation_id"] == "c3"
    assert rejected.payload["ok"] is False and rejected.payload["call_id"] == "CTI-2"
    assert "channel" in rejected.payload["fields"]
    dead = next_message(dead_letter_queue("intake")(channel))
    errors = json.loads(dead.headers[VALIDATION_HEADER])
    assert set(errors) >= {"channel", "customer"}
    assert dead.headers["x-original-routing-key"] == FEED_QUEUE
    assert json.loads(dead.body)["call_id"] == "CTI-2"
    assert stored.count_documents({"call_ids": "CTI-2"}) == 0
