"""A RabbitMQ node of the suite's own (its own port, data and node name), so that
stopping and restarting the broker disturbs nothing else on the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from services.ops.infra import InfraError


class PrivateBroker:
    def __init__(self, port: int) -> None:
        # Its own folder under the system's temporary directory: the server script may
        # drop to the rabbitmq user, who must reach it (a test's tmp_path is private).
        self.base = Path(tempfile.mkdtemp(prefix="aftersales-chaos-rabbitmq-"))
        self.port = port
        self.node = f"chaos{port}@localhost"
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                          "loopback_users = none\n")
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")
        os.chmod(self.base, 0o777)  # the server script may drop to the rabbitmq user
        return {**os.environ, "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.port + 20000),
                "RABBITMQ_CONFIG_FILE": str(config),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_PID_FILE": str(self.base / "pid")}

    def start(self, seconds: float = 120) -> None:
        if shutil.which("rabbitmq-server") is None:
            raise InfraError("rabbitmq-server is not installed (make broker installs it)")
        env = self._env()
        log = open(self.base / "server.out", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(["rabbitmq-server"], env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._await(seconds)

    def _await(self, seconds: float) -> None:
        """await_startup fails at once while the node is not yet reachable: poll it."""
        deadline = time.monotonic() + seconds
        while True:
            if self.process is not None and self.process.poll() is not None:
                tail = (self.base / "server.out").read_text(errors="replace")[-1500:]
                raise InfraError(f"the chaos broker exited:\n{tail}")
            try:
                self.ctl("await_startup", "--timeout", "30", timeout=40)
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(["rabbitmqctl", "-q", "-n", self.node, *args], check=True,
                       timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self._await(60)

    def restart(self) -> None:
        """A full restart of the node: durable queues and their messages survive."""
        self.stop()
        time.sleep(1)
        self.start()

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.ctl("stop", timeout=60)
        except (subprocess.SubprocessError, OSError):
            self.process.kill()
        self.process.wait(60)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
