"""Resident memory of every process while many orders go through the system.

Starts its own system the way bench/intake_dispatch.py does, then puts N orders on the
call-centre feed (``intake.requests``, confirmed persistent publishes, each with a
``reply_to``) at a fixed rate, never more than AHEAD in flight. Orders leave the active
set as they would in a working branch: a few seconds after intake answers, every
COMPLETE_EVERY-th order is worked through accept, contact, check-in and complete via the
gateway (billing and callbacks then take their part), the others are cancelled. So the
stores grow with every order but the live state (held orders, the dispatch queue) stays
steady, and what grows in a process is what it keeps per order.

Every SAMPLE_SECONDS it reads VmRSS of each service process, the gateway and the
embedded store, with the number of orders intake has stored. It prints RSS at 5 % (after
warm-up), 25, 50, 75 and 100 % of the orders and the growth over the second half, writes
bench/report/memory.csv and memory.png, and exits 1 when a service grows.

    make bench-memory                                     # 100,000 orders, 60/s offered
    BENCH_MEMORY_ORDERS=5000 BENCH_MEMORY_RATE=80 make bench-memory
    BENCH_MEMORY_MINUTES=45 make bench-memory             # as many as fit in 45 minutes
"""

from __future__ import annotations

import csv
import os
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from kombu import Connection, Consumer, Queue

from bench.intake_dispatch import System, body, register_technicians, running_system
from schemas.feeds import FEED_QUEUE

ORDERS = int(os.environ.get("BENCH_MEMORY_ORDERS", "100000"))
RATE = float(os.environ.get("BENCH_MEMORY_RATE", "60"))
# Stop putting orders in after this many minutes and judge what was stored (0: no limit).
MINUTES = float(os.environ.get("BENCH_MEMORY_MINUTES", "0"))
# Published but not yet stored, or stored but not yet closed. Kept under the technicians'
# 800 slots: a backlog beyond them queues in dispatch, and then every closing pulls the
# next order from the queue, a heavier workload that halved the rate.
AHEAD = 300
SAMPLE_SECONDS = 5.0
CLOSE_AFTER = 3.0  # seconds from intake's answer to closing: the offer is out by then
CLOSERS = 16  # closing calls in flight: each waits on the gateway
COMPLETE_EVERY = 10  # every 10th order is worked to completion, the others cancelled
PER_BRANCH = 20  # technicians per branch, 20 slots each: orders are held for seconds
STALL_SECONDS = 180.0  # no order stored for this long: the run is broken
POINTS = (5, 25, 50, 75, 100)  # percent of the orders; 5 % is the start, after warm-up
# Verdict: the least-squares slope of RSS over the second half of the orders, in MB per
# 10,000 orders. 1 MB per 10k is 100 bytes an order, less than one order id kept in a
# dict or set, so anything kept per order shows; the slope over ~150 samples is far
# steadier than the allocator's few-MB steps between two single samples.
BOUNDED_MB_PER_10K = 1.0
STORE = "store"  # the embedded database: holds the data, so reported but not judged
REPORT_DIR = Path(__file__).resolve().parent / "report"
WORK = (("accept", {}), ("contact", {}), ("check-in", {}),
        ("complete", {"diagnosis": "压测", "fault_code": "E1", "repair_done": "压测"}))


# --- analysis (pure; tests/unit/test_bench_memory.py) -----------------------------------

Series = Sequence[tuple[int, float]]  # (orders stored, RSS in MB), by orders


def value_at(series: Series, orders: float) -> float:
    """RSS of the sample taken nearest to ``orders`` stored."""
    return min(series, key=lambda sample: abs(sample[0] - orders))[1]


def slope_per_10k(series: Series) -> float:
    """Least-squares growth of RSS in MB per 10,000 orders (0 for fewer than 2 points)."""
    if len(series) < 2:
        return 0.0
    mean_x = sum(x for x, _ in series) / len(series)
    mean_y = sum(y for _, y in series) / len(series)
    sxx = sum((x - mean_x) ** 2 for x, _ in series)
    if sxx == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in series) / sxx * 10_000


@dataclass
class Footprint:
    process: str
    at: dict[int, float]  # percent of the orders -> RSS in MB
    growth: float  # MB per 10k orders over the second half

    @property
    def bounded(self) -> bool:
        return self.growth < BOUNDED_MB_PER_10K

    @property
    def verdict(self) -> str:
        return "bounded" if self.bounded else "GROWING"


def footprint(process: str, series: Series, total: int) -> Footprint:
    second_half = [sample for sample in series if sample[0] >= total / 2]
    return Footprint(process, {p: value_at(series, total * p / 100) for p in POINTS},
                     slope_per_10k(second_half))


def judged(footprints: list[Footprint]) -> bool:
    """True when every process but the store stays bounded."""
    return all(f.bounded for f in footprints if f.process != STORE)


# --- the run ----------------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Progress:
    """Counters shared by the publisher, the answer reader, the closer and the sampler."""

    published: int = 0
    stored: int = 0
    closed: int = 0
    rejected: int = 0  # feed answers with ok false
    outcomes: Counter = field(default_factory=Counter)
    branches: dict[str, str] = field(default_factory=dict)  # call_id -> branch, in flight
    answered: deque = field(default_factory=deque)  # (monotonic, order_id, branch, n)
    # (seconds, orders stored, orders closed, RSS in kB by process)
    samples: list[tuple[float, int, int, dict[str, int]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None  # the publisher's, if it failed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self, outcome: str) -> None:
        with self.lock:  # closers run on several threads
            self.outcomes[outcome] += 1
            self.closed += 1


def publish_all(system: System, progress: Progress, reply_to: str) -> None:
    try:
        publish(system, progress, reply_to)
    except BaseException as exc:  # reported by run(), on the main thread
        progress.failure = exc


def publish(system: System, progress: Progress, reply_to: str) -> None:
    due = time.monotonic()
    deadline = due + MINUTES * 60 if MINUTES else float("inf")
    with Connection(system.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer(serializer="json")
        for n in range(ORDERS):
            if time.monotonic() > deadline:
                return
            while (progress.published - progress.stored - progress.rejected > AHEAD
                   or progress.stored - progress.closed > AHEAD):
                time.sleep(0.05)
                due = time.monotonic()  # no burst after waiting
            time.sleep(max(0.0, due - time.monotonic()))
            payload = body(n)
            progress.branches[payload["call_id"]] = (
                "SH" if payload["customer"]["region_code"].startswith("31") else "SZ")
            producer.publish(payload, exchange="", routing_key=FEED_QUEUE, delivery_mode=2,
                             reply_to=reply_to, mandatory=True)
            progress.published += 1
            due = max(due + 1 / RATE, time.monotonic() - 1)


def read_answers(system: System, progress: Progress, queue: Queue) -> None:
    def on_answer(answer: dict, message) -> None:
        branch = progress.branches.pop(answer.get("call_id"), "SH")
        if answer.get("ok"):
            progress.answered.append((time.monotonic(), answer["order_id"], branch,
                                      int(answer["call_id"].rsplit("-", 1)[1])))
            progress.stored += 1
        else:
            progress.rejected += 1
            progress.close("rejected")  # nothing to close
        message.ack()

    with Connection(system.amqp_uri) as conn, Consumer(conn, [queue], callbacks=[on_answer],
                                                        accept=["json"]):
        while not progress.stop.is_set():
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                continue


def close_order(gateway: str, session: requests.Session, order_id: str, branch: str,
                n: int) -> str:
    """Works the order to completion or cancels it; returns the outcome."""
    headers = {"Authorization": f"Bearer demo-admin-{branch.lower()}"}
    url = f"{gateway}/api/v1/orders/{order_id}"
    if n % COMPLETE_EVERY == 0:
        for action, payload in WORK:
            response = session.post(f"{url}/{action}", json=payload, headers=headers,
                                    timeout=30)
            if response.status_code == 409:  # not offered yet, say: cancel it instead
                break
            if not response.ok:
                return f"{action} {response.status_code}"
        else:
            return "completed"
    response = session.post(f"{url}/cancel", json={"reason": "压测"}, headers=headers,
                            timeout=30)
    return "cancelled" if response.ok else f"cancel {response.status_code}"


def close_all(system: System, progress: Progress) -> None:
    local = threading.local()

    def close(order_id: str, branch: str, n: int) -> None:
        local.session = getattr(local, "session", None) or requests.Session()
        try:
            outcome = close_order(system.gateway, local.session, order_id, branch, n)
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        progress.close(outcome)

    with ThreadPoolExecutor(max_workers=CLOSERS) as pool:
        while not progress.stop.is_set():
            if not progress.answered or progress.answered[0][0] > time.monotonic() - CLOSE_AFTER:
                time.sleep(0.05)
                continue
            _, order_id, branch, n = progress.answered.popleft()
            pool.submit(close, order_id, branch, n)


def sample_all(system: System, progress: Progress) -> None:
    started = time.monotonic()
    while True:
        pids = system.pids()
        progress.samples.append((time.monotonic() - started, progress.stored,
                                 progress.closed,
                                 {key: rss_kb(pid) for key, pid in pids.items()}))
        if progress.stop.wait(SAMPLE_SECONDS):
            return


def run(system: System) -> Progress:
    progress = Progress()
    reply_queue = Queue(f"bench.memory.{uuid.uuid4().hex[:6]}", exclusive=True,
                        auto_delete=True)
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, args in (
        (read_answers, (system, progress, reply_queue)), (close_all, (system, progress)),
        (sample_all, (system, progress)))]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the reply queue is declared by its consumer
    publisher = threading.Thread(target=publish_all, args=(system, progress,
                                                           reply_queue.name), daemon=True)
    publisher.start()
    try:
        last, last_change = -1, time.monotonic()
        while publisher.is_alive() or progress.closed < progress.published:
            dead = [k for k, p in system.supervisor.children.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"process(es) exited during the run: {', '.join(dead)}")
            done = progress.stored + progress.closed
            if done != last:
                if last // 10_000 != done // 10_000:
                    print(f"  {progress.stored} orders stored, {progress.closed} closed",
                          flush=True)
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > STALL_SECONDS:
                raise RuntimeError(f"no order stored or closed for {STALL_SECONDS:g} s")
            time.sleep(1)
        if progress.failure is not None:
            raise RuntimeError("publishing failed") from progress.failure
        time.sleep(2 * SAMPLE_SECONDS)  # a few samples with everything stored and closed
    finally:  # before the system stops
        progress.stop.set()
        for thread in threads:
            thread.join(10)
    return progress


# --- report -----------------------------------------------------------------------------

def label(key: str) -> str:
    return key.removesuffix("#0")


def series_of(progress: Progress) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for _, stored, _, rss in progress.samples:
        for key, kb in rss.items():
            series.setdefault(label(key), []).append((stored, kb / 1024))
    return series


def write_csv(progress: Progress, path: Path) -> None:
    keys = list(progress.samples[0][3])
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["seconds", "orders_stored", "orders_closed",
                         *(f"{label(k)}_rss_kb" for k in keys)])
        for seconds, stored, closed, rss in progress.samples:
            writer.writerow([f"{seconds:.1f}", stored, closed, *(rss.get(k, "") for k in keys)])


def plot(series: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (services, store) = plt.subplots(1, 2, figsize=(12, 5),
                                          gridspec_kw={"width_ratios": [2, 1]})
    for name, points in series.items():
        axes = store if name == STORE else services
        axes.plot([x / 1000 for x, _ in points], [y for _, y in points], label=name)
    for axes, title in ((services, "services and gateway"), (store, "embedded store")):
        axes.set_title(title)
        axes.set_xlabel("orders stored (thousands)")
        axes.set_ylabel("resident set size (MB)")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(progress: Progress, elapsed: float) -> list[Footprint]:
    series = series_of(progress)
    total = progress.stored  # fewer than ORDERS when the time limit cut the run short
    footprints = [footprint(name, points, total) for name, points in sorted(series.items())]
    stored_in = next(at for at, stored, _, _ in progress.samples if stored >= total)
    print(f"\nmemory: {total} of {ORDERS} orders stored in {stored_in / 60:.1f} min "
          f"({total / max(stored_in, 1e-9):.1f}/s, up to {RATE:g}/s offered), all closed after "
          f"{elapsed / 60:.1f} min; {progress.rejected} "
          f"rejected; closed: " + ", ".join(f"{k} {v}" for k, v in
                                            progress.outcomes.most_common()))
    print(f"{'process':<12}" + "".join(f"{f'{p} %':>9}" for p in POINTS)
          + f"{'MB/10k, 2nd half':>18}  verdict")
    for item in footprints:
        verdict = item.verdict if item.process != STORE else f"({item.verdict}: holds the data)"
        print(f"{item.process:<12}" + "".join(f"{item.at[p]:>9.1f}" for p in POINTS)
              + f"{item.growth:>18.2f}  {verdict}")
    print(f"RSS in MB; bounded: under {BOUNDED_MB_PER_10K:g} MB per 10,000 orders "
          "(least-squares slope over the second half)", flush=True)
    return footprints


def main() -> int:
    with running_system() as system:
        register_technicians(system.gateway, PER_BRANCH)
        started = time.monotonic()
        progress = run(system)
        elapsed = time.monotonic() - started
    REPORT_DIR.mkdir(exist_ok=True)
    write_csv(progress, REPORT_DIR / "memory.csv")
    plot(series_of(progress), REPORT_DIR / "memory.png")
    return 0 if judged(report(progress, elapsed)) else 1


if __name__ == "__main__":
    sys.exit(main())
