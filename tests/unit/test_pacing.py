"""A sweep that sleeps until its earliest due moment, looking again every few seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common import pacing
from services.common.pacing import LOOK_AGAIN_SECONDS, Pacer

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


class Store:
    """What the sweep looks up and acts on: due moments, a count of look-ups."""

    def __init__(self, *due: datetime) -> None:
        self.due = sorted(due)
        self.lookups = 0
        self.acted: list[datetime] = []

    def next_due(self) -> datetime | None:
        self.lookups += 1
        return self.due[0] if self.due else None

    def act_at(self, now: datetime):
        def act() -> None:
            self.acted += [at for at in self.due if at <= now]
            self.due = [at for at in self.due if at > now]
        return act


@pytest.fixture
def monotonic(monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(pacing.time, "monotonic", lambda: clock["now"])
    return clock


def _pacer() -> Pacer:
    pacer = Pacer()
    pacer.setup()
    return pacer


def _tick(pacer: Pacer, store: Store, now: datetime) -> None:
    pacer.when_due("breaches", now, store.next_due, store.act_at(now))


def test_an_idle_store_is_asked_once_per_look_again_interval(monotonic):
    pacer, store = _pacer(), Store()
    for second in range(30):  # a timer ticking every second
        monotonic["now"] = 1000.0 + second
        _tick(pacer, store, T0 + timedelta(seconds=second))
    assert store.lookups == -(-30 // int(LOOK_AGAIN_SECONDS))
    assert store.acted == []


def test_the_due_moment_is_acted_on_within_the_tick_it_passes(monotonic):
    due = T0 + timedelta(minutes=30)
    pacer, store = _pacer(), Store(due)
    _tick(pacer, store, T0)
    monotonic["now"] += 0.5  # before the look-again interval, the due moment passes
    _tick(pacer, store, due - timedelta(seconds=1))
    assert store.acted == []
    _tick(pacer, store, due)
    assert store.acted == [due]


def test_work_written_elsewhere_after_the_look_up_is_found_by_the_next_look(monotonic):
    pacer, store = _pacer(), Store()
    _tick(pacer, store, T0)
    store.due.append(T0 - timedelta(hours=1))  # another replica wrote one already past
    monotonic["now"] += 1
    _tick(pacer, store, T0 + timedelta(seconds=1))
    assert store.acted == []  # not looked for yet
    monotonic["now"] += LOOK_AGAIN_SECONDS
    _tick(pacer, store, T0 + timedelta(seconds=4))
    assert store.acted == [T0 - timedelta(hours=1)]


def test_after_acting_the_next_due_moment_is_remembered(monotonic):
    first, second = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    pacer, store = _pacer(), Store(first, second)
    _tick(pacer, store, first)
    assert store.acted == [first]
    assert pacer.due_at["breaches"] == second


def test_plain_spacing(monotonic):
    pacer = _pacer()
    assert pacer.due("gauges", 5)
    monotonic["now"] += 4
    assert not pacer.due("gauges", 5)
    monotonic["now"] += 1
    assert pacer.due("gauges", 5)
