"""Runs every service and the gateway as separate processes, restarts one that dies on its
own (with a growing delay, counted in Prometheus metrics), and stops them all on Ctrl-C or
SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol

import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from services.common.config import SERVICE_NAMES

PROCESSES = (*SERVICE_NAMES, "gateway")
DEFAULT_METRICS_PORT = 9107  # the services use 9101-9106
STOP_GRACE_SECONDS = 20.0
POLL_SECONDS = 0.5


class Process(Protocol):
    """What the supervisor needs of a child: ``subprocess.Popen`` or a test's fake."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def serve_command(name: str) -> list[str]:
    """The one command that starts a service, here and in docker-compose / Kubernetes."""
    return [sys.executable, "-m", "services.cli", "serve", name]


@dataclass(frozen=True)
class Backoff:
    """Delay before restarting a process that died: ``first`` after one death, doubling
    with every further death up to ``cap``. A process that stayed up ``reset_after``
    seconds counts as healthy again, so one crash a day is not punished like a crash loop."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th death in a row (1, 2, ...)."""
        exponent = min(max(failures - 1, 0), 64)  # 2.0 ** 1024 would overflow a float
        return min(self.cap, self.first * self.factor ** exponent)

    def failures_after_death(self, failures: int, uptime: float) -> int:
        return 1 if uptime >= self.reset_after else failures + 1


class SupervisorMetrics:
    """The supervisor's own /metrics, on its own registry: the services' registries are
    per container, and the global one would mix in whatever else this process imports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.restarts = Counter(
            "aftersales_process_restarts", "Processes restarted after dying on their own",
            ["process"], registry=self.registry)
        self.up = Gauge("aftersales_processes_up", "Processes running, by process",
                        ["process"], registry=self.registry)
        self._server = None

    def known(self, process: str) -> None:
        """A zero series from the start, so rate() and alerts see the first restart."""
        self.restarts.labels(process=process)
        self.up.labels(process=process)

    def serve(self, host: str, port: int) -> None:
        self._server, _thread = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class _Watched:
    """The restart loop's record of one process."""

    label: str                                  # the metric's `process` label
    process: Process | None
    restart: Callable[[], Process | None]
    started: float
    failures: int = 0                           # deaths in a row, for the backoff
    restarts: int = 0
    due: float | None = None                    # when a pending restart is due


class Supervisor:
    def __init__(self, env: dict[str, str], log_dir: Path | None = None,
                 names: tuple[str, ...] = PROCESSES,
                 replicas: dict[str, int] | None = None, *,
                 backoff: Backoff | None = None,
                 metrics: SupervisorMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 say: Callable[[str], None] | None = None) -> None:
        self.env = env
        self.log_dir = log_dir
        self.names = names
        self.replicas = replicas or {}
        self.children: dict[str, subprocess.Popen] = {}
        self.backoff = backoff or Backoff()
        self.metrics = metrics or SupervisorMetrics()
        self.clock = clock
        self.say = say or _say
        self.stopping = False
        self._watched: dict[str, _Watched] = {}

    # -- starting --------------------------------------------------------------------
    def start(self) -> None:
        for name in self.names:
            for index in range(self.replicas.get(name, 1)):
                self.start_one(name, index)

    def start_one(self, name: str, index: int = 0) -> subprocess.Popen:
        key = f"{name}#{index}"
        env = dict(self.env)
        if index:  # extra replicas serve /metrics on their own ports
            env[f"{name.upper()}_METRICS_PORT"] = str(replica_port(env, name, index))
        process = self._launch(name, env, self._log_file(name, index))
        self.children[key] = process
        self._track(key, name, process, lambda: self.start_one(name, index))
        return process

    def _log_file(self, name: str, index: int) -> IO[bytes] | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}-{index}.log", "ab")  # noqa: SIM115

    def _launch(self, name: str, env: dict[str, str],
                out: IO[bytes] | None) -> subprocess.Popen:
        """A new session per child: a terminal's Ctrl-C reaches only us, and we stop each
        child's whole process group."""
        try:
            return subprocess.Popen(serve_command(name), env=env, stdout=out,
                                    stderr=subprocess.STDOUT if out else None,
                                    start_new_session=True)
        finally:
            if out is not None:
                out.close()  # the child holds its own copy; restarts must not leak files

    def adopt(self, key: str, process: Process,
              restart: Callable[[], Process | None]) -> None:
        """Restart a process someone else started (the embedded store) when it dies:
        ``restart`` starts it again and returns it, or None if it is no longer ours to
        watch. Its owner stops it; ``stop`` leaves it alone."""
        self._track(key, key, process, restart)

    def _track(self, key: str, label: str, process: Process,
               restart: Callable[[], Process | None]) -> None:
        watched = self._watched.get(key)
        if watched is None:
            self._watched[key] = _Watched(label, process, restart, self.clock())
            self.metrics.known(label)
        else:
            watched.process, watched.started, watched.due = process, self.clock(), None
        self._count_up()

    # -- running ---------------------------------------------------------------------
    def wait_ready(self, health_urls: list[str], seconds: float = 90) -> None:
        """Until every first replica answers /health."""
        deadline = time.monotonic() + seconds
        pending = list(health_urls)
        while time.monotonic() < deadline:
            dead = [k for k, p in self.children.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"process(es) exited during start-up: {', '.join(dead)}")
            pending = [url for url in pending if not _healthy(url)]
            if not pending:
                return
            time.sleep(0.3)
        raise RuntimeError(f"not healthy in time: {', '.join(pending)}")

    def watch(self) -> None:
        """Block until Ctrl-C or a child dies (no restarts: see ``supervise``)."""
        while True:
            for key, process in self.children.items():
                if process.poll() is not None:
                    print(f"{key} exited with {process.returncode}; stopping everything",
                          file=sys.stderr)
                    return
            time.sleep(0.5)

    def supervise(self, poll_seconds: float = POLL_SECONDS) -> None:
        """Restart what dies until ``request_stop``. Signal handlers should call that
        rather than raise: an exception between starting a child and recording it would
        leave that child running after we stop."""
        while not self.stopping:
            self.tick()
            time.sleep(poll_seconds)

    def request_stop(self) -> None:
        """From here on nothing is restarted (safe to call from a signal handler)."""
        self.stopping = True

    def tick(self) -> None:
        """One pass of the restart loop: note deaths, start what is due."""
        for key, watched in list(self._watched.items()):
            if self.stopping:
                return
            if watched.due is None and _exited(watched.process):
                self._schedule(key, watched, _describe_exit(watched.process))
            if watched.due is not None and self.clock() >= watched.due:
                self._restart(key, watched)
        self._count_up()

    def _schedule(self, key: str, watched: _Watched, what: tuple[str, str]) -> None:
        """``what`` happened, in Chinese and English: a death, or a start that failed."""
        uptime = self.clock() - watched.started
        watched.failures = self.backoff.failures_after_death(watched.failures, uptime)
        delay = self.backoff.delay(watched.failures)
        watched.due = self.clock() + delay
        number = watched.restarts + 1
        self.say(f"进程 {key} {what[0]}，{delay:g} 秒后第 {number} 次重启 / "
                 f"process {key} {what[1]}; restart {number} in {delay:g} s")

    def _restart(self, key: str, watched: _Watched) -> None:
        try:
            process = watched.restart()
        except Exception as exc:  # a start that fails is one more death: back off again
            watched.process, watched.started = None, self.clock()
            self._schedule(key, watched, (f"启动失败（{exc}）", f"failed to start ({exc})"))
            return
        if process is None:
            del self._watched[key]
            self.say(f"进程 {key} 已不归本程序管理，不再重启 / process {key} is no longer "
                     "ours to watch; not restarting it")
            return
        watched.restarts += 1
        self.metrics.restarts.labels(process=watched.label).inc()
        self._track(key, watched.label, process, watched.restart)
        self.say(f"进程 {key} 已重启（第 {watched.restarts} 次，pid {process.pid}） / "
                 f"process {key} restarted (restart {watched.restarts}, pid {process.pid})")

    def _count_up(self) -> None:
        up: dict[str, int] = {}
        for watched in self._watched.values():
            up[watched.label] = up.get(watched.label, 0) + (not _exited(watched.process))
        for label, count in up.items():
            self.metrics.up.labels(process=label).set(count)

    # -- stopping --------------------------------------------------------------------
    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        process = self.children[key]
        os.killpg(process.pid, sig)
        process.wait(30)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every child's process group, SIGKILL to what is left after
        ``grace`` seconds; nothing is restarted from the moment this is called."""
        self.request_stop()
        children = list(self.children.values())
        for process in children:
            if process.poll() is None:
                self._signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in children:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(process.pid, signal.SIGKILL)
                _reap(process)
        for process in children:  # anything a child started and left in its group
            self._signal_group(process.pid, signal.SIGKILL)
        self.children.clear()
        self._count_up()
        self.metrics.close()

    def _signal_group(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(pid, sig)


def _say(message: str) -> None:
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


def _reap(process: Process) -> None:
    # A process stuck in the kernel dies when it returns; do not hang the stop on it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def _exited(process: Process | None) -> bool:
    return process is None or process.poll() is not None


def _describe_exit(process: Process | None) -> tuple[str, str]:
    """Chinese and English words for how a child ended (a negative code is a signal)."""
    returncode = None if process is None else process.returncode
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"意外退出（被信号 {name} 终止）", f"died unexpectedly (killed by {name})"
    return (f"意外退出（退出码 {returncode}）",
            f"died unexpectedly (exit code {returncode})")


def embedded_store_restarter(store) -> Callable[[], Process | None]:
    """How the supervisor restarts the embedded document store (an ``EmbeddedMongo``):
    on the same port and data directory. None when another server already holds the
    port: that one is not ours to watch."""

    def restart() -> Process | None:
        store.process = None  # the dead one; start() must not mistake it for ours
        store.start()         # waits for the port; raises InfraError if it never opens
        return store.process

    return restart


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def replica_port(env: dict, name: str, index: int) -> int:
    """The /metrics port of a process's extra replica (number ``index`` ≥ 1)."""
    return int(env.get("REPLICA_PORT_BASE", "9200")) + 10 * index + PROCESSES.index(name)


def health_urls(settings: dict) -> list[str]:
    return [f"http://127.0.0.1:{port}/health" for port in settings["metrics_ports"].values()]


def metrics_port(env: dict[str, str]) -> int:
    """The supervisor's /metrics port: SUPERVISOR_METRICS_PORT, else 9107."""
    raw = env.get("SUPERVISOR_METRICS_PORT", str(DEFAULT_METRICS_PORT))
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"SUPERVISOR_METRICS_PORT must be a port number, not {raw!r}")
    return int(raw)
