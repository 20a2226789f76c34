"""Intake -> dispatch at rising fixed arrival rates (open model) until saturation.

Each rate is one run of bench/intake_dispatch.py on a fresh system (its own store and
vhost). The sweep stops after the first saturated rate: fewer accepted per second than
offered (below 95 %), errors, or a p99 request latency over one second.

    make bench-sweep                              # 25, 50, 75, 100, ... requests/s, 30 s each
    SWEEP_RATES=40,80,120 SWEEP_SECONDS=60 make bench-sweep
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

RATES = [float(r) for r in os.environ.get("SWEEP_RATES", "25,50,75,100,125,150").split(",")]
SECONDS = os.environ.get("SWEEP_SECONDS", "30")
NUMBER = r"([0-9.]+)"


@dataclass
class Run:
    rate: float
    accepted: float
    errors: int
    p50_ms: float
    p99_ms: float
    offered_p99_ms: float
    cpu_ms: float  # CPU per order, every process and the store together

    @property
    def saturated(self) -> bool:
        return self.accepted < 0.95 * self.rate or self.errors > 0 or self.p99_ms > 1000


def run_once(rate: float) -> Run:
    env = {**os.environ, "BENCH_RATE": f"{rate:g}", "BENCH_SECONDS": SECONDS}
    out = subprocess.run([sys.executable, "-m", "bench.intake_dispatch"], env=env,
                         capture_output=True, text=True, timeout=1800).stdout

    def grab(label: str) -> float:
        found = re.search(label + r"\s+" + NUMBER, out)
        if found is None:
            raise RuntimeError(f"no '{label}' in the bench output:\n{out[-2000:]}")
        return float(found.group(1))

    errors = int(re.search(r"\((\d+) ok, (\d+) errors\)", out).group(2))
    cpu = sum(float(v) for v in re.findall(r"CPU s/order \S+\s+" + NUMBER, out))
    return Run(rate, grab("accepted/s"), errors, grab("request latency p50"),
               grab("request latency p99"), grab("received->offered p99"), cpu)


def main() -> int:
    print(f"{'offered/s':>9} {'accepted/s':>10} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'recv->offered p99 ms':>20} {'CPU ms/order':>12}", flush=True)
    for rate in RATES:
        run = run_once(rate)
        print(f"{run.rate:>9g} {run.accepted:>10.1f} {run.errors:>6} {run.p50_ms:>8.1f} "
              f"{run.p99_ms:>8.1f} {run.offered_p99_ms:>20.1f} {run.cpu_ms:>12.1f}"
              + ("   <- saturated" if run.saturated else ""), flush=True)
        if run.saturated:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
