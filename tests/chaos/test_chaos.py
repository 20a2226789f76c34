"""The chaos suite, shortened: every scenario with a small burst, on one system. The
full run (2,000 requests a scenario) is `make chaos`."""

import os
from collections import Counter

import pytest

from chaos import checks
from chaos.run import run_scenario, table
from chaos.scenarios import SCENARIOS
from chaos.system import ChaosSystem
from services.common.routes import SUBSCRIPTIONS

REQUESTS = int(os.environ.get("CHAOS_TEST_REQUESTS", "100"))
RATE = 20.0  # a burst of 5 s: every kill of "kill -9 each service" lands within it


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    chaos_system = ChaosSystem(tmp_path_factory.mktemp("chaos"),
                               orders=REQUESTS * len(SCENARIOS))
    try:
        chaos_system.start()
        yield chaos_system
    finally:
        chaos_system.stop()


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "poison messages"])
def test_nothing_lost_or_duplicated(system, name):
    row = run_scenario(system, name, REQUESTS, RATE, drive_every=1)
    report = table([row])
    assert row.verdict.lost == [] and row.verdict.duplicated == [], report
    assert row.verdict.problems == [], report
    counts = row.verdict.counts
    assert counts["acknowledged"] + counts["recovered"] == REQUESTS, report
    assert row.completed >= REQUESTS // 8 - 1, report  # every gas-heater order via HTTP


def test_poison_messages_are_dead_lettered_with_reasons_and_the_rest_flows(system):
    row = run_scenario(system, "poison messages", REQUESTS, RATE, drive_every=1)
    report = table([row])
    assert row.verdict.ok, report
    assert row.verdict.counts["acknowledged"] + row.verdict.counts["recovered"] == REQUESTS
    consumed = Counter(sub.service for sub in SUBSCRIPTIONS)
    letters = checks.dead_letters(system)
    for service, queues in consumed.items():
        # Not JSON, and a broken envelope: two per consumed queue at least.
        assert len(letters[service]) >= 2 * queues, (service, letters[service])
        assert all(h.get("x-failure-reason") for h in letters[service])
