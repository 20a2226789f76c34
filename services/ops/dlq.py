"""Dead-lettered messages: list, show and replay them after a fix.

A replay publishes the message (confirmed, ``mandatory``) straight to the queue it failed
on — the consumer's event queue or the feed queue — and only then removes it from the
dead-letter queue, so each message is replayed once; a replay that cannot be routed
leaves it where it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from schemas.feeds import FEED_QUEUE
from services.common.config import SERVICE_NAMES
from services.common.messaging import dead_letter_queue, dead_letter_queue_name
from services.common.routes import SUBSCRIPTIONS

MAX_MESSAGES = 5000
# Headers of the failed delivery; a replay starts afresh without them.
DROPPED_HEADERS = ("x-delivery-count", "x-death", "x-first-death-exchange",
                   "x-first-death-queue", "x-first-death-reason", "x-last-death-exchange",
                   "x-last-death-queue", "x-last-death-reason")


@dataclass
class DeadLetter:
    id: str
    service: str
    queue: str | None  # where it failed (and where a replay goes)
    reason: str
    headers: dict[str, Any]
    body: bytes
    content_type: str | None
    message: Any  # the kombu message, unacked while the browse lasts

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "queue": self.queue,
                "reason": self.reason, "dead_lettered_at": self.headers.get(
                    "x-dead-lettered-at"), "bytes": len(self.body)}

    def detail(self) -> dict[str, Any]:
        try:
            body: Any = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            body = self.body.decode("utf-8", "replace")
        headers = {key: _plain(value) for key, value in self.headers.items()}
        return {**self.summary(), "headers": headers, "body": body}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def message_id(body: bytes, headers: dict[str, Any]) -> str:
    """Stable across browses: the body and when/why it was dead-lettered."""
    seed = json.dumps([str(headers.get("x-dead-lettered-at")),
                       str(headers.get("x-original-routing-key")),
                       str(headers.get("x-failure-reason"))]).encode()
    return hashlib.sha1(body + seed).hexdigest()[:12]


def origin_queue(service: str, headers: dict[str, Any]) -> str | None:
    """The queue the message failed on."""
    deaths = headers.get("x-death") or []
    if deaths and isinstance(deaths[0], dict) and deaths[0].get("queue"):
        return _plain(deaths[0]["queue"])  # dead-lettered by the broker (delivery limit)
    exchange = headers.get("x-original-exchange")
    key = headers.get("x-original-routing-key")
    if exchange in ("", None) and key == FEED_QUEUE:
        return FEED_QUEUE
    source = (exchange or "").removesuffix(".events")
    for sub in SUBSCRIPTIONS:
        if (sub.source, sub.event_type, sub.service) == (source, key, service):
            return sub.queue_name
    return None


@contextmanager
def browse(amqp_uri: str, services: tuple[str, ...] = SERVICE_NAMES) -> Iterator[list]:
    """Every dead letter of the services, held unacked; whatever is not replayed goes back
    to its queue when the browse ends."""
    with Connection(amqp_uri, connect_timeout=10,
                    transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        found: list[DeadLetter] = []
        for service in services:
            queue = dead_letter_queue(service)(channel)
            queue.declare()
            while len(found) < MAX_MESSAGES and (message := queue.get(no_ack=False)):
                headers = dict(message.headers or {})
                body = message.body if isinstance(message.body, bytes) else \
                    str(message.body).encode("utf-8")
                found.append(DeadLetter(
                    message_id(body, headers), service,
                    origin_queue(service, headers),
                    _plain(headers.get("x-failure-reason") or "dead-lettered by the broker"),
                    headers, body, message.content_type, message))
        try:
            yield found
        finally:
            channel.close()  # unacked messages return to their dead-letter queues


def replay(conn_uri: str, letter: DeadLetter) -> None:
    """Publish to the queue it failed on (confirmed), then remove it from the DLQ."""
    if letter.queue is None:
        raise ValueError(f"message {letter.id}: the queue it failed on is unknown")
    headers = {key: value for key, value in letter.headers.items()
               if key not in DROPPED_HEADERS}
    headers["x-replayed-from"] = dead_letter_queue_name(letter.service)
    with Connection(conn_uri, connect_timeout=10,
                    transport_options={"confirm_publish": True}) as conn:
        conn.default_channel.queue_declare(queue=letter.queue, passive=True)  # must exist
        conn.Producer().publish(letter.body, exchange="", routing_key=letter.queue,
                                headers=headers, content_type=letter.content_type,
                                content_encoding=letter.message.content_encoding,
                                reply_to=_plain(letter.headers.get("x-reply-to")),
                                correlation_id=_plain(letter.headers.get("x-correlation-id")),
                                delivery_mode=2, mandatory=True, retry=True,
                                retry_policy={"max_retries": 3})
    letter.message.ack()
