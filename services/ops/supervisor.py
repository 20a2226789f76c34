"""Runs every service and the gateway as separate processes; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from services.common.config import SERVICE_NAMES

PROCESSES = (*SERVICE_NAMES, "gateway")


def serve_command(name: str) -> list[str]:
    """The one command that starts a service, here and in docker-compose / Kubernetes."""
    return [sys.executable, "-m", "services.cli", "serve", name]


class Supervisor:
    def __init__(self, env: dict[str, str], log_dir: Path | None = None,
                 names: tuple[str, ...] = PROCESSES,
                 replicas: dict[str, int] | None = None) -> None:
        self.env = env
        self.log_dir = log_dir
        self.names = names
        self.replicas = replicas or {}
        self.children: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        for name in self.names:
            for index in range(self.replicas.get(name, 1)):
                self.start_one(name, index)

    def start_one(self, name: str, index: int = 0) -> subprocess.Popen:
        key = f"{name}#{index}"
        env = dict(self.env)
        if index:  # extra replicas serve /metrics on their own ports
            env[f"{name.upper()}_METRICS_PORT"] = str(replica_port(env, name, index))
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}-{index}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(serve_command(name), env=env, stdout=out,
                                   stderr=subprocess.STDOUT if out else None,
                                   start_new_session=True)
        self.children[key] = process
        return process

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        process = self.children[key]
        os.killpg(process.pid, sig)
        process.wait(30)

    def wait_ready(self, health_urls: list[str], seconds: float = 90) -> None:
        """Until every first replica answers /health (its consumers are then running)."""
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
        """Block until Ctrl-C or a child dies."""
        while True:
            for key, process in self.children.items():
                if process.poll() is not None:
                    print(f"{key} exited with {process.returncode}; stopping everything",
                          file=sys.stderr)
                    return
            time.sleep(0.5)

    def stop(self) -> None:
        for process in self.children.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.children.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.children.clear()


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
