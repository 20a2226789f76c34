"""Events over RabbitMQ with no silent drops.

- Every consuming queue is a durable quorum queue with a dead-letter exchange and a
  delivery limit, declared by the *publisher* at start-up as well as by the consumer, so
  an event published before its consumer ever ran is kept.
- Events are published with confirms and ``mandatory``: an unroutable event raises and
  stays in the outbox.
- A handler that fails is retried a bounded number of times, then the message is
  dead-lettered with the reason; a message that cannot be decoded is dead-lettered at
  once. Nothing is acked unless it was handled or dead-lettered.
"""

from __future__ import annotations

import logging
import time

import eventlet
from amqp.exceptions import AMQPError, NotFound
from kombu import Connection, Exchange, Queue
from marshmallow import ValidationError
from nameko.events import EventDispatcher, EventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer

from services.common.domain.branches import refusal
from services.common.errors import AppError
from services.common.request_id import CONTEXT_KEY
from services.common.request_id import valid as valid_request_id
from services.common.routes import Subscription

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "aftersales.dlx"
HARD_DELIVERY_LIMIT = 20  # broker-side backstop if a handler kills its process every time


def dead_letter_queue_name(service: str) -> str:
    return f"{service}.dlq"


def consumed_dead_letter_queues(service: str, subscriptions: list[Subscription]) -> list[str]:
    """The DLQs that failed deliveries of this service's consumer queues end up in."""
    return sorted({dead_letter_queue_name(s.service) for s in subscriptions
                   if s.service == service})


def queue_depths(amqp_uri: str, queues: list[str]) -> dict[str, int]:
    """Messages ready in each queue, by passive declare (never creates a queue); a queue
    that does not exist yet is left out."""
    depths: dict[str, int] = {}
    if not queues:
        return depths
    with Connection(amqp_uri, connect_timeout=5) as conn:
        for name in queues:
            channel = conn.channel()  # a failed passive declare closes its channel
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except NotFound:
                continue
            finally:
                if channel.is_open:
                    channel.close()
    return depths


def event_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def dead_letter_queue(service: str) -> Queue:
    return Queue(dead_letter_queue_name(service), exchange=dead_letter_exchange(),
                 routing_key=service, durable=True)


def subscription_queue(sub: Subscription) -> Queue:
    return Queue(
        sub.queue_name,
        exchange=event_exchange(sub.source),
        routing_key=sub.event_type,
        durable=True,
        auto_delete=False,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": sub.service,
            "x-delivery-limit": HARD_DELIVERY_LIMIT,
        },
    )


def declare_topology(amqp_uri: str, subscriptions: list[Subscription]) -> None:
    """Declare exchanges, consumer queues and dead-letter queues (idempotent)."""
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        dead_letter_exchange()(channel).declare()
        for sub in subscriptions:
            subscription_queue(sub)(channel).declare()
            dead_letter_queue(sub.service)(channel).declare()


class Topology(DependencyProvider):
    """Declares, at container start-up, the queues of every event this service publishes
    and of every event it consumes."""

    def __init__(self, subscriptions: list[Subscription]) -> None:
        self.subscriptions = subscriptions

    def setup(self) -> None:
        name = self.container.service_name
        mine = [s for s in self.subscriptions if name in (s.source, s.service)]
        declare_topology(self.container.config["AMQP_URI"], mine)

    def get_dependency(self, worker_ctx):
        return None


def reliable_dispatcher() -> EventDispatcher:
    return EventDispatcher(mandatory=True, use_confirms=True)


def dead_letter(amqp_uri: str, service: str, message, reason: str) -> None:
    """Publish a copy of ``message`` to the service's DLQ with the reason, confirmed."""
    headers = dict(message.headers or {})
    headers.update({
        "x-failure-reason": reason[:2000],
        "x-original-routing-key": message.delivery_info.get("routing_key"),
        "x-original-exchange": message.delivery_info.get("exchange"),
        "x-dead-lettered-at": time.time(),
    })
    with Connection(amqp_uri, connect_timeout=10,
                    transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(
            message.body, exchange=dead_letter_exchange(), routing_key=service,
            headers=headers, content_type=message.content_type,
            content_encoding=message.content_encoding, delivery_mode=2,
            declare=[dead_letter_queue(service)], retry=True,
            retry_policy={"max_retries": 5, "interval_start": 0.2},
        )


class SafeQueueConsumer(QueueConsumer):
    """nameko's queue consumer, plus: undecodable messages are dead-lettered, not fatal,
    and an ack or requeue on a connection that just died is not fatal either."""

    def ack_message(self, message) -> None:
        self._settle(message, super().ack_message)

    def requeue_message(self, message) -> None:
        self._settle(message, super().requeue_message)

    @staticmethod
    def _settle(message, settle) -> None:
        """nameko ignores only the built-in ConnectionError here; amqp raises its own when
        a broker node dies under the channel, and the container would exit on it. The
        broker has already taken the unacked message back and redelivers it, and every
        handler is idempotent, so there is nothing left to do but log."""
        try:
            settle(message)
        except (AMQPError, OSError) as exc:
            log.warning("message not settled, the connection is gone; the broker "
                        "redelivers it: %s: %s", type(exc).__name__, exc)

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = self._decode_error_handler(provider)
        return consumers

    def _decode_error_handler(self, provider):
        def on_decode_error(message, exc):
            reason = f"undecodable message: {type(exc).__name__}: {exc}"
            log.error("dead-lettering %s", reason, extra={"queue": provider.queue.name})
            dead_letter(self.amqp_uri, self.container.service_name, message, reason)
            message.ack()

        return on_decode_error


# A dead-letter publish that takes longer is given up and the message requeued.
DEAD_LETTER_SECONDS = 30.0
DEAD_LETTER_RETRY_PAUSE = 2.0

# Failures that a retry cannot cure: dead-letter at once.
PERMANENT_ERRORS = (ValidationError, AppError, KeyError, TypeError, ValueError)


class ReliableEventHandler(EventHandler):
    """An event handler on a quorum queue with bounded retries and a reasoned DLQ."""

    queue_consumer = SafeQueueConsumer()

    def setup(self) -> None:
        sub = Subscription(self.source_service, self.event_type,
                           self.container.service_name, self.method_name)
        self.queue = subscription_queue(sub)
        Consumer.setup(self)

    def handle_message(self, body, message) -> None:
        """Branch isolation where an event enters: an event of a branch this deployment
        does not serve, or naming another branch's objects, is dead-lettered with the reason
        before any handler runs, so no consumer can act on it."""
        reason = self.branch_refusal(body)
        if reason is None:
            super().handle_message(body, message)
            return
        # Off the consumer's thread, as a worker would be: publishing waits for the broker.
        self.container.spawn_managed_thread(
            lambda: self._dead_letter(message, reason, "refused event"))

    def branch_refusal(self, body) -> str | None:
        if not isinstance(body, dict) or "branch" not in body:
            return None  # not an envelope: the handler's schema refuses it with the reason
        return refusal(body.get("branch"), self.container.config.get("branches"),
                       body.get("data"))

    def unpack_message_headers(self, message) -> dict:
        """nameko's context data, with the id of the request that caused the event (from
        its envelope: the relay that published it worked for no request)."""
        context = super().unpack_message_headers(message)
        payload = message.payload
        if isinstance(payload, dict) and valid_request_id(payload.get(CONTEXT_KEY)):
            context[CONTEXT_KEY] = payload[CONTEXT_KEY]
        return context

    def handle_message_processed(self, message, result=None, exc_info=None) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        attempts = int((message.headers or {}).get("x-delivery-count", 0)) + 1
        limit = self.container.config.get("delivery_attempts", 5)
        exc = exc_info[1]
        if isinstance(exc, PERMANENT_ERRORS) or attempts >= limit:
            reason = f"{type(exc).__name__}: {exc} (after {attempts} attempt(s))"
            self._dead_letter(message, reason, "dead-lettered event")
        else:
            # Exponential back-off (0.5, 1, 2, 4 s ...): a store or broker outage of several
            # seconds is ridden out before the message is dead-lettered. Waited out off the
            # worker: failing messages waiting their turn must not hold the workers the
            # timers (lapsed offers, the SLA sweeper) and RPCs need.
            pause = min(0.25 * 2 ** attempts, 8.0)
            self.container.spawn_managed_thread(lambda: self._requeue_after(message, pause))

    def _requeue_after(self, message, pause: float) -> None:
        eventlet.sleep(pause)
        self.queue_consumer.requeue_message(message)

    def _dead_letter(self, message, reason: str, what: str) -> None:
        """To the DLQ with the reason, then acknowledged. If the broker cannot take it in
        time, the message goes back to the queue after a pause, to be judged again."""
        try:
            with eventlet.Timeout(DEAD_LETTER_SECONDS):
                dead_letter(self.container.config["AMQP_URI"], self.container.service_name,
                            message, reason)
        except (Exception, eventlet.Timeout):
            log.exception("could not dead-letter (%s); requeueing", what)
            eventlet.sleep(DEAD_LETTER_RETRY_PAUSE)
            self.queue_consumer.requeue_message(message)
            return
        log.error("%s: %s", what, reason, extra={"queue": self.queue.name})
        self.queue_consumer.ack_message(message)


reliable_handler = ReliableEventHandler.decorator
