"""The runner's restart loop with fake processes and a fake clock: the backoff, what is
logged and counted, and that nothing is restarted once stopping began."""

from __future__ import annotations

import signal
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.ops.supervisor import Backoff, Supervisor, SupervisorMetrics, metrics_port
from tests.conftest import free_port


class FakeProcess:
    """A child that runs until the test ends it; SIGTERM ends it unless ``stubborn``."""

    next_pid = 40000

    def __init__(self, name: str, stubborn: bool = False) -> None:
        FakeProcess.next_pid += 1
        self.pid = FakeProcess.next_pid
        self.name = name
        self.stubborn = stubborn
        self.returncode: int | None = None
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.name, timeout or 0)
        return self.returncode

    def die(self, returncode: int = -signal.SIGKILL) -> None:
        self.returncode = returncode

    def receive(self, sig: int) -> None:
        self.signals.append(sig)
        if self.returncode is None and (sig == signal.SIGKILL or not self.stubborn):
            self.returncode = -sig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSupervisor(Supervisor):
    """Starts fakes instead of processes and signals them instead of process groups."""

    def __init__(self, names=("dispatch", "gateway"), **kwargs) -> None:
        self.clock_ = Clock()
        self.said: list[str] = []
        self.started: list[FakeProcess] = []
        super().__init__({}, names=names, clock=self.clock_, say=self.said.append, **kwargs)

    def _launch(self, name, env, out):
        process = FakeProcess(name)
        self.started.append(process)
        return process

    def _signal_group(self, pid, sig):
        for process in self.started:
            if process.pid == pid:
                process.receive(sig)

    def after(self, seconds: float) -> None:
        self.clock_.now += seconds
        self.tick()


def restarts(supervisor: Supervisor, process: str) -> float:
    return supervisor.metrics.registry.get_sample_value(
        "aftersales_process_restarts_total", {"process": process})


def up(supervisor: Supervisor, process: str) -> float:
    return supervisor.metrics.registry.get_sample_value(
        "aftersales_processes_up", {"process": process})


# -- the backoff policy -------------------------------------------------------------
def test_backoff_doubles_from_one_second_up_to_thirty():
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_survives_a_process_that_dies_forever():
    assert Backoff().delay(10_000) == 30


def test_a_minute_up_counts_as_healthy_again():
    backoff = Backoff()
    assert backoff.failures_after_death(5, uptime=59.9) == 6
    assert backoff.failures_after_death(5, uptime=60) == 1
    assert backoff.failures_after_death(0, uptime=0.1) == 1


# -- the restart loop ---------------------------------------------------------------
def test_a_killed_process_is_restarted_after_the_delay_logged_and_counted():
    supervisor = FakeSupervisor()
    supervisor.start()
    first = supervisor.children["dispatch#0"]
    assert restarts(supervisor, "dispatch") == 0 and up(supervisor, "dispatch") == 1
    first.die()
    supervisor.after(0.5)
    assert supervisor.children["dispatch#0"] is first  # not yet: waiting 1 s
    assert up(supervisor, "dispatch") == 0
    assert "进程 dispatch#0 意外退出" in supervisor.said[-1]
    assert supervisor.said[-1].index("进程") < supervisor.said[-1].index("process")
    assert "(killed by SIGKILL); restart 1 in 1 s" in supervisor.said[-1]
    supervisor.after(0.9)
    assert supervisor.children["dispatch#0"] is first
    supervisor.after(0.2)
    assert supervisor.children["dispatch#0"] is not first
    assert restarts(supervisor, "dispatch") == 1 and up(supervisor, "dispatch") == 1
    assert restarts(supervisor, "gateway") == 0 and up(supervisor, "gateway") == 1
    assert "restarted (restart 1, pid" in supervisor.said[-1]


def delays_of_crash_loop(supervisor: FakeSupervisor, deaths: int) -> list[str]:
    """Kill dispatch as soon as it is back, ``deaths`` times; the delays announced."""
    for _ in range(deaths):
        supervisor.children["dispatch#0"].die()
        supervisor.after(0)
        due = supervisor._watched["dispatch#0"].due
        supervisor.after(due - supervisor.clock_.now)
    return [line.rsplit(" in ", 1)[1] for line in supervisor.said if "died" in line]


def test_a_crash_loop_backs_off_exponentially_up_to_the_cap():
    supervisor = FakeSupervisor()
    supervisor.start()
    assert delays_of_crash_loop(supervisor, 7) == ["1 s", "2 s", "4 s", "8 s", "16 s",
                                                   "30 s", "30 s"]
    assert restarts(supervisor, "dispatch") == 7


def test_the_backoff_resets_once_the_process_stayed_up():
    supervisor = FakeSupervisor()
    supervisor.start()
    delays_of_crash_loop(supervisor, 3)
    supervisor.after(60)
    supervisor.children["dispatch#0"].die()
    supervisor.after(0)
    assert supervisor.said[-1].endswith("restart 4 in 1 s")


def test_an_exit_code_is_reported_as_such():
    supervisor = FakeSupervisor()
    supervisor.start()
    supervisor.children["gateway#0"].die(3)
    supervisor.after(0)
    assert "退出码 3" in supervisor.said[-1] and "(exit code 3)" in supervisor.said[-1]


def test_each_process_has_its_own_backoff():
    supervisor = FakeSupervisor()
    supervisor.start()
    delays_of_crash_loop(supervisor, 3)
    supervisor.children["gateway#0"].die()
    supervisor.after(0)
    assert supervisor.said[-1].endswith("restart 1 in 1 s")


def test_a_start_that_fails_is_retried_with_more_delay():
    supervisor = FakeSupervisor()
    supervisor.start()
    fail = {"left": 1}
    launch = supervisor._launch

    def flaky(name, env, out):
        if fail["left"]:
            fail["left"] -= 1
            raise OSError(24, "Too many open files")
        return launch(name, env, out)

    supervisor._launch = flaky
    supervisor.children["dispatch#0"].die()
    supervisor.after(0)
    supervisor.after(1)
    assert "Too many open files" in supervisor.said[-1]
    assert supervisor.said[-1].endswith("restart 1 in 2 s")
    supervisor.after(2)
    assert restarts(supervisor, "dispatch") == 1 and up(supervisor, "dispatch") == 1


# -- stopping -----------------------------------------------------------------------
def test_nothing_is_restarted_once_a_stop_was_asked_for():
    supervisor = FakeSupervisor()
    supervisor.start()
    supervisor.children["dispatch#0"].die()
    supervisor.after(0)  # a restart is pending
    supervisor.request_stop()
    supervisor.after(60)
    assert len(supervisor.started) == 2 and restarts(supervisor, "dispatch") == 0


def test_supervise_returns_when_a_stop_is_asked_for():
    supervisor = FakeSupervisor()
    supervisor.start()
    supervisor.request_stop()
    supervisor.supervise(poll_seconds=0)  # returns rather than looping


def test_stop_terminates_every_group_and_kills_what_stays():
    supervisor = FakeSupervisor()
    supervisor.start()
    stubborn, gentle = supervisor.children["dispatch#0"], supervisor.children["gateway#0"]
    stubborn.stubborn = True
    supervisor.stop(grace=0)
    assert stubborn.returncode == -signal.SIGKILL
    assert stubborn.signals[:2] == [signal.SIGTERM, signal.SIGKILL]
    assert gentle.returncode == -signal.SIGTERM
    assert supervisor.children == {} and supervisor.stopping


def test_stop_leaves_a_dead_child_alone_and_restarts_nothing():
    supervisor = FakeSupervisor()
    supervisor.start()
    dead = supervisor.children["dispatch#0"]
    dead.die()
    supervisor.stop(grace=0)
    supervisor.after(60)
    assert signal.SIGTERM not in dead.signals and len(supervisor.started) == 2


# -- a process someone else started (the embedded store) -----------------------------
def test_an_adopted_process_is_restarted_by_its_owner_and_left_for_its_owner_to_stop():
    supervisor = FakeSupervisor(names=())
    store = FakeProcess("store")
    again = FakeProcess("store")
    supervisor.adopt("store", store, lambda: again)
    store.die(1)
    supervisor.after(0)
    supervisor.after(1)
    assert restarts(supervisor, "store") == 1 and up(supervisor, "store") == 1
    supervisor.stop(grace=0)
    assert again.returncode is None  # its owner stops it


def test_an_adopted_process_that_is_no_longer_ours_is_let_go():
    supervisor = FakeSupervisor(names=())
    store = FakeProcess("store")
    supervisor.adopt("store", store, lambda: None)
    store.die()
    supervisor.after(0)
    supervisor.after(1)
    assert "no longer ours" in supervisor.said[-1]
    supervisor.after(60)
    assert restarts(supervisor, "store") == 0


# -- the runner's own /metrics -------------------------------------------------------
def test_metrics_are_served_from_the_supervisors_own_registry():
    supervisor = FakeSupervisor()
    supervisor.start()
    supervisor.children["dispatch#0"].die()
    supervisor.after(0)
    supervisor.after(1)
    port = free_port()
    supervisor.metrics.serve("127.0.0.1", port)
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        supervisor.stop(grace=0)
    samples = {(s.name, s.labels.get("process")): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("aftersales_process_restarts_total", "dispatch")] == 1
    assert samples[("aftersales_process_restarts_total", "gateway")] == 0
    assert samples[("aftersales_processes_up", "dispatch")] == 1
    assert "python_info" not in text  # not the global registry


def test_two_supervisors_do_not_share_metrics():
    assert SupervisorMetrics().registry is not SupervisorMetrics().registry


@pytest.mark.parametrize("raw", ["abc", "0", "70000", "-1"])
def test_a_bad_metrics_port_is_refused(raw):
    with pytest.raises(ValueError, match="SUPERVISOR_METRICS_PORT"):
        metrics_port({"SUPERVISOR_METRICS_PORT": raw})


def test_the_metrics_port_defaults_next_to_the_services():
    assert metrics_port({}) == 9107
