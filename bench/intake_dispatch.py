"""Intake -> dispatch at a fixed arrival rate (open model), through the gateway.

Starts its own system (embedded store in a temporary folder, a vhost of its own), then
prints accepted/s, p50/p99 request latency, p99 received->offered, CPU seconds per order
for each service, and the same-run floor: a raw Mongo insert plus a raw confirmed publish.

    make bench                      # 50 requests/s for 60 s, capacity for every order
    BENCH_TECHNICIANS=10 make bench # 10 per branch (400 slots): the rest queue
    BENCH_RATE=80 BENCH_SECONDS=30 make bench
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
from kombu import Connection, Exchange, Queue

from services.common.config import load_settings
from services.common.mongo import connect
from services.ops.infra import EmbeddedMongo, ensure_broker
from services.ops.seed import demo_technicians
from services.ops.supervisor import Supervisor, health_urls

RATE = float(os.environ.get("BENCH_RATE", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
JOBS_EACH = 20  # every bench technician's cap
# Technicians per branch; by default enough for every order of the run, plus spares.
ENOUGH_FOR_ALL = int(RATE * SECONDS) // 2 // JOBS_EACH + 10
PER_BRANCH = int(os.environ.get("BENCH_TECHNICIANS") or ENOUGH_FOR_ALL)
REGIONS = ["310101", "310104", "310115", "310117", "310151", "440304", "440305", "440307",
           "440310"]
CATEGORIES = ["air_conditioner", "gas_water_heater", "electric_water_heater", "range_hood"]
CERTS = ["gas", "refrigeration", "electrical", "ewh_install", "appliance"]


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def body(n: int) -> dict:
    region = random.choice(REGIONS)
    return {"customer": {"name": "压测", "phone": f"138{n:08d}", "address": "测试路1号",
                         "region_code": region},
            "product": {"category": random.choice(CATEGORIES), "serial_number": f"B{n:09d}",
                        "purchase_date": "2026-05-01"},
            "request_type": random.choice(["repair", "repair", "installation", "maintenance"]),
            "description": "不工作了", "channel": "hotline", "call_id": f"bench-{n}"}


def register_technicians(gateway: str, per_branch: int = PER_BRANCH) -> None:
    """per_branch technicians per branch, JOBS_EACH jobs each; by default every order is
    offered, so received->offered is measured for all. Bases spread around the demo
    technicians."""
    for branch in ("SH", "SZ"):
        rows = demo_technicians([branch])
        for n in range(per_branch):
            row = rows[n % len(rows)]
            payload = {"technician_id": f"{row['id']}-{n:03d}", "name": row["name"],
                       "certificates": CERTS, "zones": ["standard", "intensive", "remote"],
                       "lat": row["lat"] + random.uniform(-0.05, 0.05),
                       "lon": row["lon"] + random.uniform(-0.05, 0.05),
                       "shift": "always", "cap": JOBS_EACH}
            response = requests.post(f"{gateway}/api/v1/technicians", json=payload, timeout=10,
                                     headers={"Authorization":
                                              f"Bearer demo-admin-{branch.lower()}"})
            response.raise_for_status()


def token_for(region: str) -> str:
    return "demo-agent-sh" if region.startswith("31") else "demo-agent-sz"


timeline: list[tuple[float, float]] = []  # (seconds into the run, latency)


def drive(gateway: str) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    session_local = threading.local()
    total = int(RATE * SECONDS)

    def send(n: int, due: float) -> None:
        nonlocal errors
        session = getattr(session_local, "s", None) or requests.Session()
        session_local.s = session
        payload = body(n)
        try:
            response = session.post(f"{gateway}/api/v1/requests", json=payload, timeout=30,
                                    headers={"Authorization": "Bearer " +
                                             token_for(payload["customer"]["region_code"])})
            ok = response.status_code == 201
        except requests.RequestException:
            ok = False
        elapsed = time.perf_counter() - due  # from the intended send time: no omission
        with lock:
            if ok:
                latencies.append(elapsed)
                timeline.append((due - start, elapsed))
            else:
                errors += 1

    start = time.perf_counter()
    timeline.clear()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for n in range(total):
            due = start + n / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, n, due)
    return latencies, errors, time.perf_counter() - start


def received_to_offered(mongo_uri: str, prefix: str) -> list[float]:
    client = connect(mongo_uri)
    waits = []
    for order in client[f"{prefix}_dispatch"].orders.find(
            {}, {"received_at": 1, "timeline": {"$slice": 2}}):
        offered = [e["at"] for e in order["timeline"] if e["step"] == "offered"]
        if offered:
            waits.append((offered[0] - order["received_at"]).total_seconds())
    client.close()
    return waits


def floor(mongo_uri: str, amqp_uri: str, count: int = 500) -> float:
    """Median seconds of one raw insert plus one raw confirmed publish, sequentially."""
    client = connect(mongo_uri)
    collection = client[f"floor{uuid.uuid4().hex[:6]}"].docs
    exchange = Exchange("bench.floor", type="topic", durable=True)
    samples = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        queue = Queue(f"bench-floor-{uuid.uuid4().hex[:6]}", exchange=exchange,
                      routing_key="#", durable=True)
        queue(conn.default_channel).declare()
        producer = conn.Producer(serializer="json")
        for n in range(count):
            began = time.perf_counter()
            collection.insert_one(body(n) | {"at": datetime.now()})
            producer.publish({"n": n}, exchange=exchange, routing_key="x", mandatory=True)
            samples.append(time.perf_counter() - began)
        queue(conn.default_channel).delete()
    client.drop_database(collection.database.name)
    client.close()
    return statistics.median(samples)


@dataclass
class System:
    """A running system of the bench's own: its environment, gateway and processes."""

    env: dict[str, str]
    amqp_uri: str
    gateway: str
    supervisor: Supervisor
    mongo: EmbeddedMongo

    def pids(self) -> dict[str, int]:
        """Every service process and the gateway by key, and the embedded store."""
        pids = {k: p.pid for k, p in self.supervisor.children.items()}
        if self.mongo.process is not None:  # the embedded store is measured too
            pids["store"] = self.mongo.process.pid
        return pids


@contextmanager
def running_system() -> Iterator[System]:
    """Starts the whole system on its own vhost and store, waits until it is healthy, and
    stops it (and drops the vhost) afterwards."""
    base = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    ensure_broker(base)
    vhost = f"bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*",
                    ".*"], check=True)
    amqp_uri = base.rstrip("/") + "/" + vhost
    workdir = Path(tempfile.mkdtemp(prefix="aftersales-bench-"))
    mongo = EmbeddedMongo(workdir / "db", port=_port())
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    ports = {name: _port() for name in ("intake", "dispatch", "inventory", "billing",
                                         "callbacks", "complaints")}
    env = dict(os.environ, AMQP_URI=amqp_uri, MONGO_URI=mongo.start(), DB_PREFIX=prefix,
               GATEWAY_PORT=str(_port()), LOG_LEVEL="WARNING",
               **{f"{k.upper()}_METRICS_PORT": str(v) for k, v in ports.items()})
    settings = load_settings(environ=env)
    gateway = f"http://127.0.0.1:{settings['http']['gateway_port']}"
    supervisor = Supervisor(env, log_dir=workdir / "log")
    try:
        supervisor.start()
        supervisor.wait_ready(health_urls(settings), 120)
        yield System(env, amqp_uri, gateway, supervisor, mongo)
    finally:
        supervisor.stop()
        mongo.stop()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


STORE_OPS = ("insert", "query", "update", "delete", "getmore", "command")
IDLE_SECONDS = 10


def store_requests(mongo_uri: str) -> dict[str, int]:
    """The store's own request counters (``serverStatus.opcounters``)."""
    client = connect(mongo_uri)
    try:
        counters = client.admin.command("serverStatus")["opcounters"]
    finally:
        client.close()
    return {op: int(counters.get(op, 0)) for op in STORE_OPS}


def main() -> int:
    with running_system() as system:
        register_technicians(system.gateway)
        pids = system.pids()
        mongo_uri = system.env["MONGO_URI"]
        before = {k: cpu_seconds(pid) for k, pid in pids.items()}
        ops_before = store_requests(mongo_uri)
        latencies, errors, elapsed = drive(system.gateway)
        time.sleep(3)  # let the last offers land
        after = {k: cpu_seconds(pid) for k, pid in pids.items()}
        ops_after = store_requests(mongo_uri)
        time.sleep(IDLE_SECONDS)  # nothing offered: what the timers ask of the store
        ops_idle = store_requests(mongo_uri)
        waits = received_to_offered(mongo_uri, system.env["DB_PREFIX"])
        floor_seconds = floor(mongo_uri, system.amqp_uri)
    report(latencies, errors, elapsed, waits, before, after, floor_seconds)
    report_store(len(latencies), ops_before, ops_after, ops_idle)
    return 0 if errors == 0 else 1


def report_store(done: int, before: dict[str, int], after: dict[str, int],
                 idle: dict[str, int]) -> None:
    """Store requests per order (the run and its 3 s tail, timers included) and while
    idle; each reading itself is one ``command``."""
    per_order = {op: (after[op] - before[op]) / max(done, 1) for op in STORE_OPS}
    print("  store requests per order  " + f"{sum(per_order.values()):8.2f}   (" + ", ".join(
        f"{op} {value:.2f}" for op, value in per_order.items()) + ")")
    idle_rate = sum(idle[op] - after[op] for op in STORE_OPS) / IDLE_SECONDS
    print(f"  store requests/s idle     {idle_rate:8.1f}")
    sys.stdout.flush()


def report(latencies, errors, elapsed, waits, before, after, floor_seconds) -> None:
    done = len(latencies)
    p50 = percentile(latencies, 0.50)
    print(f"\nintake -> dispatch, open model: {RATE:g} requests/s offered for {SECONDS:g} s; "
          f"{2 * PER_BRANCH} technicians, {2 * PER_BRANCH * JOBS_EACH} slots")
    print(f"  accepted/s                {done / elapsed:8.1f}   ({done} ok, {errors} errors)")
    print(f"  request latency p50       {p50 * 1000:8.1f} ms")
    print(f"  request latency p99       {percentile(latencies, 0.99) * 1000:8.1f} ms")
    print(f"  received->offered p50     {percentile(waits, 0.50) * 1000:8.1f} ms "
          f"({len(waits)} offered)")
    print(f"  received->offered p99     {percentile(waits, 0.99) * 1000:8.1f} ms")
    for key in sorted(before):
        spent = after[key] - before[key]
        print(f"  CPU s/order {key:<13} {spent / max(done, 1) * 1000:8.2f} ms")
    windows: dict[int, list[float]] = {}
    for at, latency in timeline:
        windows.setdefault(int(at // 10), []).append(latency)
    print("  p99 per 10 s window     " + " ".join(
        f"{percentile(v, 0.99) * 1000:.0f}" for _, v in sorted(windows.items())) + " ms")
    print(f"  floor (insert + confirmed publish) p50 {floor_seconds * 1000:.2f} ms; "
          f"request p50 / floor = {p50 / floor_seconds:.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
