"""Runs scenarios one after another on one system (the cluster's on a second one, on
three broker nodes) and prints the table.

    make chaos                                  # every scenario, 2,000 requests each
    CHAOS_REQUESTS=300 CHAOS_SCENARIOS="no fault,store restart" make chaos
    CHAOS_MIN_ACKED=0.95 make chaos             # tolerate 5 % of requests never acknowledged
    CHAOS_SCENARIOS="broker cluster: kill -9 a node" make chaos
    CHAOS_KEEP=/some/folder make chaos          # keep the processes' logs there
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from chaos import checks, load
from chaos.cluster import BrokerCluster
from chaos.lifecycle import Lifecycle
from chaos.scenarios import CLUSTER_SCENARIOS, SCENARIOS, no_fault
from chaos.system import ChaosSystem, broker_ports
from chaos.windows import FaultLog

FAULT_AT_SHARE = 0.3  # the fault strikes once this share of the burst has been sent
ALL_SCENARIOS = {**SCENARIOS, **CLUSTER_SCENARIOS}
CLUSTER_NODES = 3  # one may die and the quorum queues keep a majority


@dataclass
class Row:
    scenario: str
    verdict: checks.Verdict
    dead_letters: int
    completed: int  # orders driven to completion (during the burst and just after it)
    seconds: float
    # Each fault's window with the requests it met, and the milestone count.
    notes: list[str] = field(default_factory=list)


def run_scenario(system: ChaosSystem, name: str, count: int, rate: float,
                 drive_every: int = 2) -> Row:
    """The burst (half through the gateway, half through the feed) with the lifecycle of
    some of its orders driven alongside, the fault striking part-way and fitting itself
    into the rest of the burst; then the checks."""
    started = time.monotonic()
    tag = "".join(ch for ch in name if ch.isalnum())[:12] + f"{int(started) % 100000}"
    readings = [checks.counter_readings(system)]
    channels = load.Channels(system.api, load.FeedPublisher(system.broker.uri))
    ledger = load.Ledger()
    life = Lifecycle(system.api, ledger, every=drive_every)
    burst_done = threading.Event()
    driver = threading.Thread(target=life.run, args=(burst_done,))
    log = FaultLog(ends_at=time.monotonic() + count / rate,
                   reader=lambda: checks.counter_readings(system))
    fault = threading.Timer(count / rate * FAULT_AT_SHARE, ALL_SCENARIOS[name],
                            args=(system, log))
    driver.start()
    fault.start()
    try:
        load.burst(channels, count, rate, tag, ledger=ledger)
        fault.join()
        load.retry_failed(channels, ledger)
    finally:
        burst_done.set()
        driver.join()
        channels.feed.close()
    verdict = checks.classify(system, ledger, min_acked=min_acked())
    verdict.problems += checks.window_problems(log.windows, ledger.attempts,
                                               expect_fault=ALL_SCENARIOS[name] is not no_fault)
    verdict.problems += checks.downstream_problems(system, life.journeys)
    completed = sum(j.completed for j in life.journeys)
    readings += [*log.readings, checks.counter_readings(system)]
    reached = sum(j.reached for j in life.journeys)
    may_miss = checks.may_go_uncounted(life.journeys, log.windows,
                                       dispatch_restarted=bool(checks.restarted(readings)))
    verdict.problems += checks.outcome_problems(readings, reached, may_miss)
    verdict.problems += checks.invariants(system)
    dead = sum(len(v) for v in checks.dead_letters(system).values())
    return Row(name, verdict, dead, completed, time.monotonic() - started,
               [*checks.describe_windows(log.windows, ledger.attempts),
                checks.outcome_summary(readings, reached, may_miss)])


def min_acked() -> float:
    """The share of requests that must be acknowledged in the end (see checks)."""
    return float(os.environ.get("CHAOS_MIN_ACKED", checks.MIN_ACKED_SHARE))


def table(rows: list[Row]) -> str:
    head = (f"{'scenario':<30} {'sent':>6} {'acked':>6} {'recovered':>9} {'failed':>6} "
            f"{'lost':>5} {'dup':>4} {'DLQ':>4} {'done':>5} {'time':>6}  problems")
    lines = [head, "-" * len(head)]
    for row in rows:
        counts = row.verdict.counts
        lines.append(
            f"{row.scenario:<30} {sum(counts.values()):>6} {counts['acknowledged']:>6} "
            f"{counts['recovered']:>9} {counts['failed']:>6} {len(row.verdict.lost):>5} "
            f"{len(row.verdict.duplicated):>4} {row.dead_letters:>4} {row.completed:>5} "
            f"{row.seconds:>5.0f}s  "
            f"{'; '.join(row.verdict.problems) or 'none'}")
    return "\n".join(lines)


def notes(rows: list[Row]) -> str:
    """Where each fault struck, from its burst's first request, and what it met; then the
    milestones reached and counted."""
    return "\n".join(f"{row.scenario}: {note}" for row in rows for note in row.notes)


def run(names: list[str], count: int, rate: float, base: Path) -> list[Row]:
    """The single-node scenarios on one system, then the cluster's on another."""
    single = [n for n in names if n in SCENARIOS]
    cluster = [n for n in names if n in CLUSTER_SCENARIOS]
    rows = []
    if single:
        rows += run_on(ChaosSystem(base / "single", orders=count * len(single)), single,
                       count, rate)
    if cluster:
        broker = BrokerCluster(broker_ports(CLUSTER_NODES))
        rows += run_on(ChaosSystem(base / "cluster", orders=count * len(cluster),
                                   broker=broker), cluster, count, rate)
    return rows


def run_on(system: ChaosSystem, names: list[str], count: int, rate: float) -> list[Row]:
    rows = []
    try:
        system.start()
        for name in names:
            rows.append(run_scenario(system, name, count, rate))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            print(notes(rows[-1:]), flush=True)
    finally:
        system.stop()
    return rows


def main() -> int:
    count = int(os.environ.get("CHAOS_REQUESTS", "2000"))
    rate = float(os.environ.get("CHAOS_RATE", "40"))
    names = [n.strip() for n in os.environ.get("CHAOS_SCENARIOS", ",".join(ALL_SCENARIOS))
             .split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {unknown}; known: {list(ALL_SCENARIOS)}",
              file=sys.stderr)
        return 2
    keep = os.environ.get("CHAOS_KEEP")  # a folder to keep the processes' logs in
    if keep:
        rows = run(names, count, rate, Path(keep))
    else:
        with tempfile.TemporaryDirectory(prefix="aftersales-chaos-") as base:
            rows = run(names, count, rate, Path(base))
    print("\n" + table(rows))
    print("\nfault windows (seconds from each burst's first request), milestones:\n"
          + notes(rows))
    return 0 if all(row.verdict.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
