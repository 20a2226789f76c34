"""The broker and the document store for a local run: use what is configured, else start
(or, as root on Debian/Ubuntu, install) a local RabbitMQ, and launch the embedded
MongoDB-wire server (SecantusDB) with its data under ./var."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from services.common.config import PROJECT_ROOT

EMBEDDED_MONGO_PORT = 27217


class InfraError(Exception):
    pass


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.3)
    return False


def ensure_broker(amqp_uri: str, say=print) -> None:
    url = urlparse(amqp_uri)
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if port_open(host, port):
        return
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise InfraError(f"RabbitMQ at {host}:{port} does not answer; check AMQP_URI")
    if shutil.which("rabbitmq-server") is None:
        _install_rabbitmq(say)
    say("starting the local RabbitMQ (rabbitmq-server -detached) ...")
    subprocess.run(["rabbitmq-server", "-detached"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_for_port(host, port, 90):
        raise InfraError("RabbitMQ did not start within 90 s; see its logs under "
                         "/var/log/rabbitmq")
    subprocess.run(["rabbitmqctl", "await_startup"], check=False, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _install_rabbitmq(say) -> None:
    _apt_install("rabbitmq-server", "RabbitMQ", "or set AMQP_URI to a broker", say)


def ensure_prometheus(say=print) -> str:
    """promtool (and the prometheus server the metrics tests start), installed from the OS
    packages when missing and running as root on Debian/Ubuntu; returns promtool's path."""
    if shutil.which("promtool") is None or shutil.which("prometheus") is None:
        _apt_install("prometheus", "Prometheus (promtool)",
                     "or put promtool and prometheus on PATH", say)
    path = shutil.which("promtool")
    if path is None:
        raise InfraError("the prometheus package installed no promtool on PATH")
    return path


def _apt_install(package: str, what: str, otherwise: str, say) -> None:
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        raise InfraError(f"{what} is not installed: install it with "
                         f"'sudo apt-get install {package}', {otherwise}")
    say(f"{what} is missing: installing it from the OS packages (apt-get install "
        f"{package}) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    # --no-install-recommends: only the server and promtool, not the exporters it suggests
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
                   check=True, env=env)


class EmbeddedMongo:
    """secantusd-py as a child process; its data survives restarts under ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = EMBEDDED_MONGO_PORT,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.port = port
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        """Retryable writes off: a single node has no failover for a retry to ride out,
        and SecantusDB keeps a reply per retryable write for 30 minutes (up to 10,000),
        scanning them on every write and sorting them all once the cap is reached. At
        50 orders/s that cap is reached within a minute and every write then costs
        milliseconds more. A write whose reply is lost surfaces as an error instead:
        requests repeat by call id, events are redelivered to idempotent consumers."""
        return (f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
                "&retryWrites=false")

    def start(self) -> str:
        if port_open("127.0.0.1", self.port):
            return self.uri  # one is already running on our port (a previous run)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = Path(sys.executable).with_name("secantusd-py")
        if not server.exists():  # an optional extra: production names its MongoDB instead
            raise InfraError("the embedded document store is not installed: "
                             "pip install -e '.[embedded]' (or set MONGO_URI)")
        log = open(self.data_dir.parent / f"secantusd-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(server), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(self.data_dir), "--log-level", "WARNING", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port("127.0.0.1", self.port, 30):
            self.stop()
            raise InfraError(f"the embedded document store did not start; see {log.name}")
        return self.uri

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def default_var_dir() -> Path:
    return PROJECT_ROOT / "var"
