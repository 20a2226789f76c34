"""The load generator and its ledger: every request gets a unique call id, is sent once
at a fixed rate, and — if it got no answer or a failure — is retried later with the same
call id, as a call centre would. Each request ends acknowledged, recovered or failed."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

REGIONS = ["310101", "310104", "310115", "310117", "310151"]
CATEGORIES = ["air_conditioner", "gas_water_heater", "electric_water_heater", "range_hood"]
HEADERS = {"Authorization": "Bearer demo-agent-sh"}


@dataclass
class Attempt:
    call_id: str
    body: dict
    order_id: str | None = None
    first_ok: bool = False
    retries: int = 0
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.first_ok:
            return "acknowledged"
        return "recovered" if self.order_id else "failed"


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
            "product": {"category": CATEGORIES[index % len(CATEGORIES)],
                        "serial_number": serial, "purchase_date": "2026-06-01"},
            "request_type": "repair", "description": "不工作 not working",
            "channel": "hotline", "call_id": f"{tag}-call-{index:05d}"}


def _send(api: str, attempt: Attempt, timeout: float) -> bool:
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


def burst(api: str, count: int, rate: float, tag: str, timeout: float = 10) -> Ledger:
    """Open model: request i is sent at i / rate seconds, whatever the answers."""
    ledger = Ledger([Attempt(f"{tag}-call-{i:05d}", request_body(i, tag))
                     for i in range(count)])
    start = time.monotonic()
    lock = threading.Lock()

    def one(attempt: Attempt, at: float) -> None:
        delay = start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ok = _send(api, attempt, timeout)
        with lock:
            attempt.first_ok = ok

    with ThreadPoolExecutor(max_workers=32) as pool:
        for index, attempt in enumerate(ledger.attempts):
            pool.submit(one, attempt, index / rate)
    return ledger


def retry_failed(api: str, ledger: Ledger, seconds: float = 120) -> None:
    """Resend what failed, same call id, until answered or out of time."""
    deadline = time.monotonic() + seconds
    pending = [a for a in ledger.attempts if not a.first_ok]
    while pending and time.monotonic() < deadline:
        for attempt in pending:
            attempt.retries += 1
            _send(api, attempt, timeout=10)
        pending = [a for a in pending if a.order_id is None]
        if pending:
            time.sleep(1)
