"""When each fault struck: its window, recorded by the fault itself, so the checker can
prove the fault met requests in flight instead of trusting the schedule.

A window runs from the moment the fault begins (before a kill, a stop, a fail point) to
the moment the system is whole again (the killed process's replacement answers /health,
the broker or store is back, the fail point is off). Times are ``time.monotonic()``, the
clock the load generator stamps its tries with."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Window:
    label: str
    start: float
    end: float | None = None  # None: the fault never reported being over
    # A count of a milestone may be lost in this window (a dispatch replica's counters die
    # with it; the store applies a write whose reply it loses, so the step's retry finds
    # it done and counts nothing).
    may_lose_counts: bool = False
    # The last moment a count can be lost: a killed process counts nothing after its kill,
    # however long its replacement takes. None: until the window's end.
    lost_by: float | None = None


class FaultLog:
    """Shared by the fault's thread (and its helpers) and the checker."""

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at  # when the burst sends its last request
        self.windows: list[Window] = []
        # Dispatch counter readings taken by faults just before a kill, in time order:
        # what a replica counted before it died is then still seen.
        self.readings: list[dict] = []
        self._lock = threading.Lock()

    def left(self) -> float:
        """Seconds of the burst still to come."""
        return max(0.0, self.ends_at - time.monotonic())

    def open(self, label: str, may_lose_counts: bool = False) -> Window:
        window = Window(label, time.monotonic(), may_lose_counts=may_lose_counts)
        with self._lock:
            self.windows.append(window)
        return window

    @staticmethod
    def close(window: Window) -> None:
        window.end = time.monotonic()

    def record(self, label: str, start: float, end: float,
               may_lose_counts: bool = False) -> Window:
        """A window whose end is known in advance (a fail point that lasts so long)."""
        window = Window(label, start, end, may_lose_counts)
        with self._lock:
            self.windows.append(window)
        return window

    def add_reading(self, reading: dict) -> None:
        with self._lock:
            self.readings.append(reading)

    @contextmanager
    def window(self, label: str, may_lose_counts: bool = False) -> Iterator[Window]:
        opened = self.open(label, may_lose_counts)
        try:
            yield opened
        finally:
            self.close(opened)
