"""The gauges every service exports: outbox lag and dead-letter depth, read from the real
store and broker."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from amqp.exceptions import NotFound
from kombu import Connection
from nameko.testing.services import entrypoint_hook

from services.common.messaging import (
    dead_letter_exchange,
    dead_letter_queue,
    queue_depths,
)
from services.common.outbox import new_document_outbox, new_event, oldest_unsent_age
from services.complaints.service import ComplaintsService


def _event(at: datetime) -> dict:
    return new_event("thing_happened", "gaugetest", "SH", {}, at)


def test_outbox_age_is_of_the_oldest_entry_not_yet_sent(mongo, db_prefix):
    collection = mongo[f"{db_prefix}_gauges"]["docs"]
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert oldest_unsent_age([collection], now) == 0.0
    old, newer = now - timedelta(seconds=120), now - timedelta(seconds=10)
    collection.insert_many([
        {"_id": "a", **new_document_outbox([_event(old), _event(now)], now)},
        {"_id": "b", **new_document_outbox([_event(newer)], now)},
        {"_id": "sent", "outbox": []},
    ])
    assert oldest_unsent_age([collection], now) == 120.0
    collection.update_one({"_id": "a"}, {"$set": {"outbox": []}, "$unset": {"outbox_due": ""}})
    assert oldest_unsent_age([collection], now) == 10.0


def _dead_letter(broker: Connection, service: str, count: int) -> None:
    producer = broker.Producer(serializer="json")
    for n in range(count):
        producer.publish({"n": n}, exchange=dead_letter_exchange(), routing_key=service,
                         declare=[dead_letter_queue(service)])


def test_dead_letter_depth_by_passive_declare(broker, amqp_uri):
    _dead_letter(broker, "gaugetest", 2)
    assert queue_depths(amqp_uri, ["gaugetest.dlq", "missing.dlq"]) == {"gaugetest.dlq": 2}
    with pytest.raises(NotFound):  # looking did not create it
        broker.channel().queue_declare(queue="missing.dlq", passive=True)


def test_service_exports_both_gauges(start_service, settings, broker):
    container = start_service(ComplaintsService)  # consumes intake's complaint_received
    _dead_letter(broker, "complaints", 3)
    with entrypoint_hook(container, "refresh_chassis_gauges") as refresh:
        refresh()
    text = requests.get(f"http://{settings['WEB_SERVER_ADDRESS']}/metrics", timeout=5).text
    assert 'aftersales_dead_letter_messages{queue="complaints.dlq"} 3.0' in text
    assert 'aftersales_outbox_oldest_unsent_seconds{service="complaints"} 0.0' in text
