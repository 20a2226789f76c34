"""`aftersales run` (what `make run` starts): it prints the banner once everything is up,
and a SIGTERM or Ctrl-C stops every process it started."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port

PROCESSES = 7  # six services and the gateway


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid``, from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _serving(pid: int) -> bool:
    try:
        return b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_starts_everything_and_a_signal_stops_it_all(amqp_uri, mongo_uri, tmp_path,
                                                          stop_signal):
    env = {**os.environ, "AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri,
           "DB_PREFIX": f"run{uuid.uuid4().hex[:8]}", "GATEWAY_PORT": str(free_port()),
           **{f"{name}_METRICS_PORT": str(free_port()) for name in (
               "INTAKE", "DISPATCH", "INVENTORY", "BILLING", "CALLBACKS", "COMPLAINTS")}}
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        runner = subprocess.Popen([sys.executable, "-m", "services.cli", "run", "--quiet"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
            assert runner.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "no banner in time"
            time.sleep(0.5)
        children = [pid for pid in _children(runner.pid) if _serving(pid)]
        assert len(children) == PROCESSES
        runner.send_signal(stop_signal)
        assert runner.wait(60) == 0
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
