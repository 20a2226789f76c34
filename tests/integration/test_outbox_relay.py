"""The outbox relay against the real store and broker: publishes confirmed, re-sends after
a crash, and two relays never publish an entry twice at once."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Exchange, Queue

from services.common.outbox import OutboxRelay, new_document_outbox, new_event

EXCHANGE = Exchange("relaytest.events", type="topic", durable=True)


def make_publisher(amqp_uri, opened):
    """A confirmed, mandatory publish on a connection of its own."""
    conn = Connection(amqp_uri, transport_options={"confirm_publish": True})
    opened.append(conn)
    producer = conn.Producer(serializer="json")

    def publish(event_type, envelope):
        producer.publish(envelope, exchange=EXCHANGE, routing_key=event_type, mandatory=True,
                         declare=[EXCHANGE])

    return publish


@pytest.fixture
def setup(mongo, db_prefix, broker, amqp_uri):
    collection = mongo[f"{db_prefix}_relay"]["docs"]
    queue = Queue(f"relaytest-{db_prefix}", exchange=EXCHANGE, routing_key="#", durable=True)
    queue(broker.default_channel).declare()
    opened = []
    yield collection, queue, make_publisher(amqp_uri, opened), lambda: make_publisher(
        amqp_uri, opened)
    queue(broker.default_channel).delete()
    for conn in opened:
        conn.release()


def _drain(queue, broker) -> list[dict]:
    bound = queue(broker.default_channel)
    messages = []
    while (message := bound.get(no_ack=True)) is not None:
        messages.append(message.payload)
    return messages


def _insert(collection, count: int, now: datetime) -> list[str]:
    ids = []
    for n in range(count):
        event = new_event("thing_happened", "relaytest", "SH", {"n": n}, now)
        collection.insert_one({"_id": n, **new_document_outbox([event], now)})
        ids.append(event["event_id"])
    return ids


def test_relay_publishes_and_marks_sent(setup, broker):
    collection, queue, publish, _ = setup
    now = datetime.now(UTC)
    ids = _insert(collection, 5, now)
    relay = OutboxRelay([collection], publish, timedelta(seconds=30))
    assert relay.relay_due(now) == 5
    assert sorted(m["event_id"] for m in _drain(queue, broker)) == sorted(ids)
    assert collection.count_documents({"outbox.0": {"$exists": True}}) == 0
    assert collection.count_documents({"outbox_due": {"$exists": True}}) == 0
    assert relay.relay_due(now + timedelta(minutes=5)) == 0


def test_crash_between_publish_and_mark_sent_resends_after_the_lease(setup, broker,
                                                                     monkeypatch):
    collection, queue, publish, _ = setup
    now = datetime.now(UTC)
    (event_id,) = _insert(collection, 1, now)
    relay = OutboxRelay([collection], publish, timedelta(seconds=10))

    def crash(*args, **kwargs):
        raise SystemExit("killed after publishing")

    monkeypatch.setattr(OutboxRelay, "_mark_sent", staticmethod(crash))
    with pytest.raises(SystemExit):
        relay.relay_due(now)
    monkeypatch.undo()
    assert [m["event_id"] for m in _drain(queue, broker)] == [event_id]
    assert relay.relay_due(now + timedelta(seconds=5)) == 0  # still leased
    assert relay.relay_due(now + timedelta(seconds=11)) == 1  # lease over: sent again
    assert [m["event_id"] for m in _drain(queue, broker)] == [event_id]
    assert collection.find_one({"_id": 0})["outbox"] == []


def test_two_relays_at_once_publish_each_entry_once(setup, broker):
    collection, queue, _, new_publisher = setup
    now = datetime.now(UTC)
    ids = _insert(collection, 40, now)
    relays = [OutboxRelay([collection], new_publisher(), timedelta(seconds=60))
              for _ in range(2)]
    threads = [threading.Thread(target=relay.relay_due, args=(now,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = [m["event_id"] for m in _drain(queue, broker)]
    assert sorted(published) == sorted(ids)


def test_events_queued_while_sending_stay_due(setup, broker):
    collection, queue, publish, _ = setup
    now = datetime.now(UTC)
    (first,) = _insert(collection, 1, now)
    late = new_event("thing_happened", "relaytest", "SH", {"late": True}, now)

    def publish_and_meanwhile_queue_more(event_type, envelope):
        publish(event_type, envelope)
        collection.update_one({"_id": 0}, {"$push": {"outbox": late},
                                           "$set": {"outbox_due": now}})

    relay = OutboxRelay([collection], publish_and_meanwhile_queue_more, timedelta(seconds=60))
    assert relay.relay_due(now) == 1
    doc = collection.find_one({"_id": 0})
    # Nothing is cleared that was not sent: both stay due, the first will go twice.
    assert [e["event_id"] for e in doc["outbox"]] == [first, late["event_id"]]
    assert doc["outbox_due"] is not None
    assert OutboxRelay([collection], publish, timedelta(seconds=60)).relay_due(now) == 2
    sent = [m["event_id"] for m in _drain(queue, broker)]
    assert sorted(sent) == sorted([first, first, late["event_id"]])
    assert collection.find_one({"_id": 0})["outbox"] == []
