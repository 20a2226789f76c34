"""When each fault struck: its window, recorded by the fault itself, so the checker can
prove the fault met requests in flight instead of trusting the schedule.

A window runs from the moment the fault begins (before a kill, a stop, a fail point) to
the moment the system is whole again (the killed process's replacement answers /health,
the broker or store is back, the fail point is off). Times are ``time.monotonic()``, the
clock the load generator stamps its tries with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PROCESS = "process"
STORE = "store"


@dataclass
class Window:
    label: str
    start: float
    end: float | None = None  # None: the fault never reported being over
    # How a milestone's count may be lost in this window, if it may: PROCESS, a dispatch
    # replica dies and its counters with it; STORE, the store applies a write whose reply
    # it loses, so the step fails uncounted and its retry finds it done.
    loses_counts: str | None = None
    # The last moment a count can be lost: a killed process counts nothing after its kill,
    # however long its replacement takes. None: until the window's end.
    lost_by: float | None = None


class FaultLog:
    """Shared by the fault's thread (and its helpers) and the checker."""

    def __init__(self, ends_at: float, reader: Callable[[], dict] | None = None) -> None:
        self.ends_at = ends_at  # when the burst sends its last request
        self.windows: list[Window] = []
        # Dispatch's counters, read by ``reader`` as each window that may lose counts
        # opens, in time order: what a replica counted before the fault is still seen if
        # the fault takes its process (and its counters) away.
        self.reader = reader
        self.readings: list[dict] = []
        self._lock = threading.Lock()

    def left(self) -> float:
        """Seconds of the burst still to come."""
        return max(0.0, self.ends_at - time.monotonic())

    def open(self, label: str, loses_counts: str | None = None) -> Window:
        window = Window(label, time.monotonic(), loses_counts=loses_counts)
        with self._lock:
            self.windows.append(window)
        if loses_counts and self.reader is not None:
            self.add_reading(self.reader())
        return window

    @staticmethod
    def close(window: Window) -> None:
        window.end = time.monotonic()

    def record(self, label: str, start: float, end: float,
               loses_counts: str | None = None) -> Window:
        """A window whose end is known in advance (a fail point that lasts so long)."""
        window = Window(label, start, end, loses_counts)
        with self._lock:
            self.windows.append(window)
        return window

    def add_reading(self, reading: dict) -> None:
        with self._lock:
            self.readings.append(reading)

    @contextmanager
    def window(self, label: str, loses_counts: str | None = None) -> Iterator[Window]:
        opened = self.open(label, loses_counts)
        try:
            yield opened
        finally:
            self.close(opened)
