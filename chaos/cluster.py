"""Three RabbitMQ nodes of the suite's own, clustered on this machine, so that one can be
killed (kill -9) while the others carry on.

Each node is a PrivateBroker (its own ports, data and node name); they share the Erlang
cookie of the rabbitmq user the server script runs as, so they can join. Clients get one
URI naming all three (``amqp://a;amqp://b;amqp://c``): kombu, under nameko too, connects to
the first that answers and moves to the next when its node dies.

What is replicated: the services' own queues (events and the call-centre feed) are quorum
queues, whose members the cluster places on every node when they are declared; the rest
(nameko's RPC and reply queues, the dead-letter queues) are classic, mirrored to every
node by a policy, so that none is lost with the node it was declared on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from chaos.broker import PrivateBroker
from services.ops.infra import InfraError

MIRROR_CLASSIC = {"ha-mode": "all", "ha-sync-mode": "automatic"}


class BrokerCluster:
    def __init__(self, ports: list[int]) -> None:
        self.nodes = [PrivateBroker(port) for port in ports]

    @property
    def uri(self) -> str:
        return ";".join(node.uri for node in self.nodes)

    @property
    def first(self) -> PrivateBroker:
        return self.nodes[0]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", self.first.node)
            node.ctl("start_app")
        self.first.ctl("set_policy", "--apply-to", "queues", "mirror-classic",
                       "^(?!amq\\.).*", json.dumps(MIRROR_CLASSIC))
        self.await_members(len(self.nodes))

    def running(self) -> list[str]:
        """The nodes the cluster reports running, asked of any node that answers."""
        for node in self.nodes:
            try:
                out = subprocess.run(
                    ["rabbitmqctl", "-q", "-n", node.node, "cluster_status",
                     "--formatter", "json"], check=True, timeout=60, capture_output=True,
                    text=True).stdout
            except (subprocess.SubprocessError, OSError):
                continue
            return json.loads(out).get("running_nodes", [])
        return []

    def await_members(self, count: int, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while len(self.running()) < count:
            if time.monotonic() > deadline:
                raise InfraError(f"the chaos cluster has not {count} nodes running")
            time.sleep(1)

    def kill(self, index: int) -> None:
        """kill -9 of one node's Erlang VM: no goodbye to its peers or its clients."""
        node = self.nodes[index]
        pid = int((node.base / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        if node.process is not None:
            node.process.wait(60)  # the server script ends with its VM
            node.process = None

    def revive(self, index: int) -> None:
        """The killed node again, on its own data: it rejoins the cluster by itself."""
        self.nodes[index].start()
        self.await_members(len(self.nodes))

    def remove(self) -> None:
        for node in reversed(self.nodes):
            node.remove()
