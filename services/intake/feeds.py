"""The call-centre feed: CTI systems put requests on the ``intake.requests`` queue.

Built on the chassis (services/common/messaging.py): a durable quorum queue with the
shared dead-letter exchange and a delivery limit; explicit acks, given only after the
order (or the reminder) is stored; invalid messages dead-lettered at once with the
validation errors in the ``x-validation-errors`` header; transient failures retried a
bounded number of times. Idempotent by ``call_id`` (intake's unique index). When the
message names ``reply_to``, the answer (order number or errors) goes there.
The message schema is documented in schemas/feeds.py and the README.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

import eventlet
from kombu import Queue
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from schemas.feeds import FEED_QUEUE
from services.common.errors import AppError
from services.common.messaging import (
    DEAD_LETTER_EXCHANGE,
    HARD_DELIVERY_LIMIT,
    PERMANENT_ERRORS,
    SafeQueueConsumer,
    dead_letter,
)

log = logging.getLogger(__name__)
VALIDATION_HEADER = "x-validation-errors"


def feed_queue(service: str = "intake") -> Queue:
    """Declared by the consumer at start-up; CTI systems may declare it the same way."""
    return Queue(FEED_QUEUE, durable=True, auto_delete=False, queue_arguments={
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": service,
        "x-delivery-limit": HARD_DELIVERY_LIMIT,
    })


def decode_body(body: Any) -> Any:
    """JSON messages arrive decoded; a CTI system that sent no content type sends bytes."""
    if isinstance(body, bytes | str):
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body
    return body


def error_reply(exc: BaseException, call_id: Any) -> dict:
    if isinstance(exc, AppError):
        return {"ok": False, "call_id": call_id, "error": exc.code, "message": exc.message,
                "fields": exc.fields}
    if isinstance(exc, ValidationError):
        return {"ok": False, "call_id": call_id, "error": "invalid_input",
                "message": "the request has invalid fields", "fields": exc.messages}
    return {"ok": False, "call_id": call_id, "error": "failed",
            "message": f"{type(exc).__name__}: {exc}"[:500], "fields": {}}


class _WithHeaders:
    """A message seen with extra headers, for the chassis' dead_letter()."""

    def __init__(self, message, extra: dict[str, Any]) -> None:
        self._message = message
        self.headers = {**(message.headers or {}), **extra}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message, name)


class FeedConsumer(Consumer):
    """Consumes the feed queue; the decorated method gets ``(body, properties)`` and
    returns the answer for ``reply_to``."""

    queue_consumer = SafeQueueConsumer()

    def __init__(self, **kwargs) -> None:
        super().__init__(queue=None, **kwargs)

    def setup(self) -> None:
        self.queue = feed_queue(self.container.service_name)
        self.publisher = Publisher(self.container.config["AMQP_URI"], use_confirms=True,
                                   serializer="json", mandatory=False)
        super().setup()

    def handle_message(self, body, message) -> None:
        props = message.properties or {}
        args = (body, {"reply_to": props.get("reply_to"),
                       "correlation_id": props.get("correlation_id")})
        context_data = self.unpack_message_headers(message)
        try:
            self.container.spawn_worker(
                self, args, {}, context_data=context_data,
                handle_result=partial(self._done, message))
        except ContainerBeingKilled:  # shutting down: leave it to a redelivery
            self.queue_consumer.requeue_message(message)

    def _done(self, message, worker_ctx, result=None, exc_info=None):
        props = message.properties or {}
        if exc_info is None:
            self._reply(props, result)
            self.queue_consumer.ack_message(message)
            return result, exc_info
        exc = exc_info[1]
        attempts = int((message.headers or {}).get("x-delivery-count", 0)) + 1
        limit = self.container.config.get("delivery_attempts", 5)
        if isinstance(exc, PERMANENT_ERRORS) or attempts >= limit:
            self._reject(message, props, exc, attempts)
        else:
            eventlet.sleep(min(0.2 * attempts, 2.0))
            self.queue_consumer.requeue_message(message)
        return result, exc_info

    def _reject(self, message, props: dict, exc: BaseException, attempts: int) -> None:
        body = decode_body(message.payload)
        answer = error_reply(exc, body.get("call_id") if isinstance(body, dict) else None)
        extra = {VALIDATION_HEADER: json.dumps(answer["fields"], ensure_ascii=False)[:4000],
                 # kept for a replay (aftersales dlq replay), which answers there again
                 "x-reply-to": props.get("reply_to"),
                 "x-correlation-id": props.get("correlation_id")}
        reason = f"{answer['error']}: {answer['message']} (after {attempts} attempt(s))"
        try:
            dead_letter(self.container.config["AMQP_URI"], self.container.service_name,
                        _WithHeaders(message, extra), reason)
        except Exception:  # broker trouble: leave it to a redelivery
            log.exception("could not dead-letter a feed message; requeueing")
            self.queue_consumer.requeue_message(message)
            return
        log.warning("feed message dead-lettered: %s", reason)
        self._reply(props, answer)
        self.queue_consumer.ack_message(message)

    def _reply(self, props: dict, answer: dict | None) -> None:
        if not props.get("reply_to") or answer is None:
            return
        try:
            self.publisher.publish(answer, exchange="", routing_key=props["reply_to"],
                                   correlation_id=props.get("correlation_id"))
        except Exception:  # the answer is a courtesy; the order is stored either way
            log.warning("could not send the feed reply to %s", props["reply_to"],
                        exc_info=True)


feed_consumer = FeedConsumer.decorator
