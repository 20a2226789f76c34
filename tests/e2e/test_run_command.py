"""`aftersales run` (what `make run` starts): it prints the banner once everything is up,
restarts a process that dies on its own, and a SIGTERM or Ctrl-C stops every process it
started."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient, WriteConcern

from services.ops.infra import EmbeddedMongo, port_open
from services.ops.supervisor import Supervisor, embedded_store_restarter
from tests.conftest import free_port

PROCESSES = 7  # six services and the gateway
SERVICES = ("INTAKE", "DISPATCH", "INVENTORY", "BILLING", "CALLBACKS", "COMPLAINTS")


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid``, from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            listed = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended while we looked
            continue
        for child in listed:
            found += [int(child), *_children(int(child))]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _serving(pid: int) -> bool:
    return b"serve" in _cmdline(pid)


def _serving_one(runner: int, name: str) -> list[int]:
    return [pid for pid in _children(runner)
            if _cmdline(pid).endswith(b"\0serve\0" + name.encode() + b"\0") and _alive(pid)]


def _in_groups(groups: set[int]) -> list[int]:
    """Live processes whose process group is one of ``groups``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.append(int(stat.parent.name))
    return found


def _run_env(amqp_uri: str, mongo_uri: str) -> dict[str, str]:
    return {**os.environ, "AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri,
            "DB_PREFIX": f"run{uuid.uuid4().hex[:8]}", "GATEWAY_PORT": str(free_port()),
            "SUPERVISOR_METRICS_PORT": str(free_port()),
            **{f"{name}_METRICS_PORT": str(free_port()) for name in SERVICES}}


def _start(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`aftersales run`, once its banner is printed."""
    with open(log, "wb") as out:
        runner = subprocess.Popen([sys.executable, "-m", "services.cli", "run", "--quiet"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    deadline = time.monotonic() + 180
    while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
        assert runner.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "no banner in time"
        time.sleep(0.5)
    return runner


def _stop_and_check_gone(runner: subprocess.Popen, stop_signal: int, children: list[int]):
    runner.send_signal(stop_signal)
    assert runner.wait(60) == 0
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in children if _alive(pid)] == []
    assert _in_groups(set(children)) == []  # nothing a child left behind either


def _kill_runner(runner: subprocess.Popen) -> None:
    if runner.poll() is None:
        os.killpg(runner.pid, signal.SIGKILL)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_starts_everything_and_a_signal_stops_it_all(amqp_uri, mongo_uri, tmp_path,
                                                          stop_signal):
    runner = _start(_run_env(amqp_uri, mongo_uri), tmp_path / "run.log")
    try:
        children = [pid for pid in _children(runner.pid) if _serving(pid)]
        assert len(children) == PROCESSES
        _stop_and_check_gone(runner, stop_signal, children)
    finally:
        _kill_runner(runner)


def _restarts(port: int) -> dict[str, float]:
    """The runner's own /metrics: restarts per process."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {sample.labels["process"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "aftersales_process_restarts"
            for sample in family.samples if sample.name.endswith("_total")}


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok
    except requests.RequestException:
        return False


def test_run_restarts_a_killed_service_and_sigterm_still_stops_everything(
        amqp_uri, mongo_uri, tmp_path):
    env = _run_env(amqp_uri, mongo_uri)
    log = tmp_path / "run.log"
    runner = _start(env, log)
    try:
        first = [pid for pid in _children(runner.pid) if _serving(pid)]
        [dispatch] = _serving_one(runner.pid, "dispatch")
        os.kill(dispatch, signal.SIGKILL)  # `kill -9` of one service
        deadline = time.monotonic() + 120
        while True:
            assert runner.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            back = [pid for pid in _serving_one(runner.pid, "dispatch") if pid != dispatch]
            if back and _healthy(int(env["DISPATCH_METRICS_PORT"])):
                break
            time.sleep(0.5)
        restarts = _restarts(int(env["SUPERVISOR_METRICS_PORT"]))
        assert {name: count for name, count in restarts.items() if count} == {"dispatch": 1}
        text = log.read_text(errors="replace")
        assert "dispatch" in text and "SIGKILL" in text
        children = [pid for pid in _children(runner.pid) if _serving(pid)]
        assert len(children) == PROCESSES and back[0] in children
        _stop_and_check_gone(runner, signal.SIGTERM, sorted({*first, *children}))
    finally:
        _kill_runner(runner)


def test_the_embedded_store_is_restarted_on_its_port_and_data(tmp_path):
    """What `run` does with the store it starts when MONGO_URI is not set."""
    store = EmbeddedMongo(tmp_path / "db", port=free_port())
    said: list[str] = []
    supervisor = Supervisor({}, names=(), say=said.append)
    try:
        uri = store.start()
        with MongoClient(uri, serverSelectionTimeoutMS=10000) as client:
            # journalled: a write still in the store's own buffers dies with a SIGKILL
            journalled = WriteConcern(j=True)
            client.runcheck.get_collection("items", write_concern=journalled).insert_one(
                {"_id": "kept"})
        supervisor.adopt("store", store.process, embedded_store_restarter(store))
        first = store.process
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        deadline = time.monotonic() + 60
        while supervisor.metrics.registry.get_sample_value(
                "aftersales_process_restarts_total", {"process": "store"}) != 1:
            assert time.monotonic() < deadline, said
            supervisor.tick()
            time.sleep(0.2)
        assert store.process is not first and port_open("127.0.0.1", store.port)
        with MongoClient(uri, serverSelectionTimeoutMS=10000) as client:
            assert client.runcheck.items.find_one({"_id": "kept"}) == {"_id": "kept"}
    finally:
        supervisor.stop()
        store.stop()
