"""The load generator and its ledger: every request gets a unique call id, is sent once
at a fixed rate, and — if it got no answer or a failure — is retried later with the same
call id, as a call centre would. Each request ends acknowledged, recovered or failed.

Half the requests go through the gateway (acknowledged: a 200/201 with the order number),
the other half through the call-centre feed, the ``intake.requests`` queue (acknowledged:
the broker confirmed the persistent message; the order number is found in the store)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import requests
from kombu import Connection

from schemas.feeds import FEED_QUEUE

REGIONS = ["310101", "310104", "310115", "310117", "310151"]
CATEGORIES = ["air_conditioner", "gas_water_heater", "electric_water_heater", "range_hood"]
HEADERS = {"Authorization": "Bearer demo-agent-sh"}
# Bought three months ago: inside every warranty, so a driven repair costs the customer
# nothing and needs no quote.
PURCHASED = (date.today() - timedelta(days=90)).isoformat()


@dataclass
class Try:
    """One sending of a request: when it went out and when its answer (or failure) came,
    on ``time.monotonic()`` (the clock the faults' windows use)."""

    sent_at: float
    answered_at: float
    ok: bool


@dataclass
class Attempt:
    call_id: str
    body: dict
    channel: str = "gateway"  # or "feed"
    order_id: str | None = None
    acked: bool = False  # some try was acknowledged (first_ok: the first one was)
    first_ok: bool = False
    retries: int = 0
    error: str | None = None
    tries: list[Try] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.first_ok:
            return "acknowledged"
        return "recovered" if self.acked else "failed"


@dataclass
class Ledger:
    attempts: list[Attempt] = field(default_factory=list)

    def by_outcome(self) -> dict[str, int]:
        counts = {"acknowledged": 0, "recovered": 0, "failed": 0}
        for attempt in self.attempts:
            counts[attempt.outcome] += 1
        return counts


def request_body(index: int, tag: str) -> dict:
    serial = f"{tag}-{index:05d}"
    return {"customer": {"name": "测试客户", "phone": f"139{uuid.uuid4().int % 10**8:08d}",
                         "address": "测试地址1号", "region_code": REGIONS[index % len(REGIONS)]},
            "product": {"category": CATEGORIES[index // 2 % len(CATEGORIES)],  # both channels
                        "serial_number": serial, "purchase_date": PURCHASED},
            "request_type": "repair", "description": "不工作 not working",
            "channel": "hotline", "call_id": f"{tag}-call-{index:05d}"}


@dataclass
class Channels:
    """Where requests go: the gateway's HTTP API and the call-centre feed's broker."""

    api: str
    feed: FeedPublisher

    def send(self, attempt: Attempt, timeout: float) -> bool:
        sent_at = time.monotonic()
        if attempt.channel == "feed":
            ok = _publish(self.feed, attempt, timeout)
        else:
            ok = _post(self.api, attempt, timeout)
        attempt.tries.append(Try(sent_at, time.monotonic(), ok))
        attempt.acked = attempt.acked or ok
        return ok


def _post(api: str, attempt: Attempt, timeout: float) -> bool:
    try:
        response = requests.post(f"{api}/api/v1/requests", json=attempt.body,
                                 headers=HEADERS, timeout=timeout)
    except requests.RequestException as exc:
        attempt.error = type(exc).__name__
        return False
    if response.status_code in (200, 201):
        attempt.order_id = response.json()["order_id"]
        return True
    attempt.error = f"HTTP {response.status_code}"
    return False


class FeedPublisher:
    """One confirming connection per sending thread (a kombu connection is not shared
    across threads); a connection that failed is dropped and opened again next time."""

    def __init__(self, amqp_uri: str) -> None:
        self.amqp_uri = amqp_uri
        self._local = threading.local()
        self._opened: list[Connection] = []

    def publish(self, body: dict, timeout: float) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = Connection(self.amqp_uri, connect_timeout=timeout,
                              transport_options={"confirm_publish": True})
            self._local.conn = conn
            self._opened.append(conn)
        try:
            conn.Producer(serializer="json").publish(
                body, routing_key=FEED_QUEUE, delivery_mode=2, mandatory=True,
                timeout=timeout)
        except Exception:
            self._local.conn = None
            conn.release()
            raise

    def close(self) -> None:
        for conn in self._opened:
            conn.release()
        self._opened.clear()


def _publish(feed: FeedPublisher, attempt: Attempt, timeout: float) -> bool:
    try:
        feed.publish(attempt.body, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure to confirm means: send it again
        attempt.error = type(exc).__name__
        return False
    return True


def burst(channels: Channels, count: int, rate: float, tag: str, timeout: float = 10,
          ledger: Ledger | None = None) -> Ledger:
    """Open model: request i is sent at i / rate seconds, whatever the answers; even
    requests through the gateway, odd ones through the feed. The ledger (given, so others
    can follow the burst as it goes) is filled before the first request is sent."""
    ledger = ledger if ledger is not None else Ledger()
    ledger.attempts[:] = [Attempt(f"{tag}-call-{i:05d}", request_body(i, tag),
                                  channel="feed" if i % 2 else "gateway")
                          for i in range(count)]
    start = time.monotonic()
    lock = threading.Lock()

    def one(attempt: Attempt, at: float) -> None:
        delay = start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ok = channels.send(attempt, timeout)
        with lock:
            attempt.first_ok = ok

    with ThreadPoolExecutor(max_workers=32) as pool:
        for index, attempt in enumerate(ledger.attempts):
            pool.submit(one, attempt, index / rate)
    return ledger


def retry_failed(channels: Channels, ledger: Ledger, seconds: float = 120) -> None:
    """Resend what failed, same call id, until acknowledged or out of time."""
    deadline = time.monotonic() + seconds
    pending = [a for a in ledger.attempts if not a.first_ok]
    while pending and time.monotonic() < deadline:
        for attempt in pending:
            attempt.retries += 1
            channels.send(attempt, timeout=10)
        pending = [a for a in pending if not a.acked]
        if pending:
            time.sleep(1)
