"""Dispatch at scale: offering a queue of orders to a large roster with the real rules.

Each decision is what ``Dispatcher._reserve_best`` computes for one order:
``offerable(rank_candidates(...))`` over the branch's roster, and the best candidate takes
a slot. A run builds the queue (``drain_order`` over all queued orders), then decides for
every order in queue order; the time per decision is the run's total over its decisions.
Each grid cell is run ``REPEATS`` times and the median reported, with the growth along
each axis as ratios to the smallest cell. No database and no broker: this is the CPU cost
of the policy itself, measured as process CPU time (other work on the machine inflates
wall-clock time, not this).

    make bench-sim          # also writes bench/report/dispatch_scale.md
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import replace
from datetime import timedelta

from bench.peak_season import (
    DAY_START,
    REFERENCE_PATH,
    REPORT_DIR,
    SimOrder,
    make_orders,
    make_roster,
)
from services.common.reference import load_reference
from services.dispatch.domain.matching import Technician, parse_shift, rank_candidates
from services.dispatch.domain.queueing import drain_order, offerable, queue_deadline

ORDERS = (1_000, 5_000, 10_000)
TECHNICIANS = (200, 1_000, 2_000)
REPEATS = 3


def roster(size: int, cap: int) -> list[Technician]:
    """``size`` technicians in one branch (copies of the demo rows, both cities' bases
    moved onto Shanghai's), on shift, each with ``cap`` slots."""
    rng = random.Random(size)
    base = [t for t in make_roster(copies=size // 20 + 1) if t.technician_id.startswith("SH")]
    base += [replace(t, lat=31.2 + rng.uniform(-0.2, 0.2), lon=121.45 + rng.uniform(-0.2, 0.2),
                     technician_id="SH-" + t.technician_id)
             for t in make_roster(copies=size // 20 + 1) if t.technician_id.startswith("SZ")]
    return [replace(t, shift="always", cap=cap) for t in base[:size]]


def queue(count: int) -> list[SimOrder]:
    reference = load_reference(str(REFERENCE_PATH))
    orders = [o for o in make_orders(reference, count / 80, seed=count)
              if o.branch == "SH"]
    while len(orders) < count:  # top up to exactly ``count`` Shanghai orders
        orders += [o for o in make_orders(reference, count / 80, seed=count + len(orders))
                   if o.branch == "SH"]
    return orders[:count]


def one_run(orders: list[SimOrder], technicians: list[Technician]) -> tuple[float, float, int]:
    """(seconds ordering the queue, seconds per decision, orders offered)."""
    shifts = {name: parse_shift(spec)
              for name, spec in load_reference(str(REFERENCE_PATH)).shifts.items()}
    now = DAY_START + timedelta(hours=10)
    by_id = {o.order_id: o for o in orders}
    techs = list(technicians)
    index = {t.technician_id: n for n, t in enumerate(techs)}
    started = time.process_time()
    ordered = drain_order([o.doc for o in orders], now)
    sorted_at = time.process_time()
    offered = 0
    for doc in ordered:
        order = by_id[doc["_id"]]
        ranked = offerable(rank_candidates(techs, set(order.needed), order.zone, order.lat,
                                           order.lon, shifts, now),
                           queue_deadline(doc), now)
        if ranked:
            best = ranked[0]
            techs[index[best.technician_id]] = replace(best, active_jobs=best.active_jobs + 1)
            offered += 1
    done = time.process_time()
    return sorted_at - started, (done - sorted_at) / len(orders), offered


def grid() -> dict[tuple[int, int], tuple[float, float, int]]:
    results = {}
    for count in ORDERS:
        orders = queue(count)
        for size in TECHNICIANS:
            # Room for every order: each decision ranks a roster with free slots.
            technicians = roster(size, cap=max(10, 2 * count // size))
            runs = [one_run(orders, technicians) for _ in range(REPEATS)]
            results[(count, size)] = (statistics.median(r[0] for r in runs),
                                      statistics.median(r[1] for r in runs), runs[0][2])
            print(f"{count:>6} orders x {size:>5} technicians: "
                  f"{1000 * results[(count, size)][1]:.3f} ms/decision", flush=True)
    return results


def markdown(results: dict[tuple[int, int], tuple[float, float, int]]) -> str:
    smallest = results[(ORDERS[0], TECHNICIANS[0])][1]
    lines = ["# Dispatch at scale: time per decision", "",
             f"Median of {REPEATS} runs per cell, process CPU time; one decision = rank the "
             "roster and offer one queued order (pure rules, no database).", "",
             "| orders | technicians | queue ordering | per decision | × smallest cell "
             "| offered |", "|---|---|---|---|---|---|"]
    for (count, size), (ordering, per, offered) in results.items():
        lines.append(f"| {count:,} | {size:,} | {1000 * ordering:.1f} ms | {1000 * per:.3f} ms"
                     f" | {per / smallest:.1f} | {offered:,} |")
    lines += ["", "Growth of the per-decision time with the roster (ratio to "
              f"{TECHNICIANS[0]:,} technicians, same queue):", "",
              "| orders | " + " | ".join(f"{s:,} techs" for s in TECHNICIANS) + " |",
              "|---|" + "---|" * len(TECHNICIANS)]
    for count in ORDERS:
        row = [results[(count, s)][1] / results[(count, TECHNICIANS[0])][1] for s in TECHNICIANS]
        lines.append(f"| {count:,} | " + " | ".join(f"{r:.2f}" for r in row) + " |")
    lines += ["", f"Growth with the queue (ratio to {ORDERS[0]:,} orders, same roster):", "",
              "| technicians | " + " | ".join(f"{c:,} orders" for c in ORDERS) + " |",
              "|---|" + "---|" * len(ORDERS)]
    for size in TECHNICIANS:
        row = [results[(c, size)][1] / results[(ORDERS[0], size)][1] for c in ORDERS]
        lines.append(f"| {size:,} | " + " | ".join(f"{r:.2f}" for r in row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    results = grid()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    (REPORT_DIR / "dispatch_scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
