"""The system under test: a private broker, the embedded store with its test commands,
two replicas of every service and the gateway, each a process; a keeper restarts any
process that dies, as an orchestrator would."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from pathlib import Path

import requests
from pymongo import MongoClient

from chaos.broker import PrivateBroker
from chaos.lifecycle import PART
from services.common.config import SERVICE_NAMES, load_settings
from services.ops.infra import EmbeddedMongo
from services.ops.supervisor import Supervisor, health_urls, replica_port

REPLICAS = {name: 2 for name in SERVICE_NAMES}
JOBS_EACH = 20  # every chaos technician's cap
SERVICE_CENTRE = "SC-CHAOS"  # paid for every completed order: a settlement per order
CERTIFICATES = ["gas", "refrigeration", "electrical", "ewh_install", "appliance"]


def broker_port() -> int:
    """A free AMQP port whose distribution port (+20000) is free and valid too."""
    for _ in range(100):
        port = random.randint(20000, 40000)
        if all(_free(p) for p in (port, port + 20000)):
            return port
    raise RuntimeError("no free port pair for the chaos broker")


def broker_ports(count: int) -> list[int]:
    """``count`` AMQP ports as broker_port() picks them, no two the same."""
    ports: list[int] = []
    while len(ports) < count:
        if (port := broker_port()) not in ports:
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChaosSystem:
    def __init__(self, base: Path, orders: int = 2400, broker=None) -> None:
        """``orders``: how many the whole run will send; every one of them can be offered
        (nothing is freed between scenarios, and the driven orders must be offered).
        ``broker``: a node of its own unless given (a BrokerCluster, say)."""
        self.base = base
        self.technicians = -(-orders // JOBS_EACH) + 10
        self.broker = broker if broker is not None else PrivateBroker(broker_port())
        self.mongo = EmbeddedMongo(base / "db", port=free_port(),
                                   extra_args=("--enable-test-commands",))
        self.prefix = f"chaos{uuid.uuid4().hex[:6]}"
        self.gateway_port = free_port()
        self.supervisor: Supervisor | None = None
        self.settings: dict = {}
        self._keeping = False
        self.restarts = 0

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        self.broker.start()
        mongo_uri = self.mongo.start()
        ports = {name: free_port() for name in SERVICE_NAMES}
        env = {**os.environ, "AMQP_URI": self.broker.uri, "MONGO_URI": mongo_uri,
               "DB_PREFIX": self.prefix, "BRANCHES": "SH,SZ",
               # Counters a killed process left wrong are repaired within a minute (two
               # passes agreeing); shorter, and a worker slowed by a fault between taking a
               # slot and writing its order would look dead to the reconciliation.
               "CAPACITY_RECONCILE_SECONDS": "20",
               "GATEWAY_PORT": str(self.gateway_port),
               "REPLICA_PORT_BASE": str(free_port() % 20000 + 30000),
               **{f"{name.upper()}_METRICS_PORT": str(port) for name, port in ports.items()}}
        self.settings = load_settings(environ=env)
        self.supervisor = Supervisor(env, log_dir=self.base / "logs", replicas=REPLICAS)
        self.supervisor.start()
        self.supervisor.wait_ready(health_urls(self.settings), seconds=180)
        self._keeping = True
        threading.Thread(target=self._keep, daemon=True).start()
        self._register_technicians()
        self._stock_parts(slots=self.technicians * JOBS_EACH)

    def stop(self) -> None:
        self._keeping = False
        if self.supervisor is not None:
            self.supervisor.stop()
        self.mongo.stop()
        self.broker.remove()

    def _keep(self) -> None:
        while self._keeping:
            for key, process in list(self.supervisor.children.items()):
                if process.poll() is not None and self._keeping:
                    name, index = key.split("#")
                    self.supervisor.start_one(name, int(index))
                    self.restarts += 1
            time.sleep(0.5)

    # -- access ----------------------------------------------------------------------
    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def client(self) -> MongoClient:
        """The checker's own client: patient, since it reads while the store recovers."""
        return MongoClient(self.settings["MONGO_URI"], serverSelectionTimeoutMS=60000,
                           socketTimeoutMS=120000, connectTimeoutMS=10000)

    def db(self, client: MongoClient, service: str):
        return client[f"{self.prefix}_{service}"]

    def processes(self, name: str) -> list[str]:
        return sorted(key for key in self.supervisor.children if key.startswith(f"{name}#"))

    def metrics_urls(self, name: str) -> list[str]:
        """Each replica's /metrics."""
        ports = [self.settings["metrics_ports"][name],
                 *(replica_port(self.supervisor.env, name, index)
                   for index in range(1, REPLICAS[name]))]
        return [f"http://127.0.0.1:{port}/metrics" for port in ports]

    def health_url(self, key: str) -> str:
        """The /health of one process (``name#index``): /health answers once its
        consumers are running."""
        name, index = key.split("#")
        if name == "gateway":
            return f"{self.api}/health"
        port = (self.settings["metrics_ports"][name] if index == "0" else
                replica_port(self.supervisor.env, name, int(index)))
        return f"http://127.0.0.1:{port}/health"

    def pids(self, name: str) -> list[int]:
        return [self.supervisor.children[key].pid for key in self.processes(name)]

    def restart_store(self) -> None:
        """Stop the document store and start it again on the same port and data."""
        self.mongo.stop()
        time.sleep(1)
        self.mongo.start()

    def _register_technicians(self) -> None:
        headers = {"Authorization": "Bearer demo-dispatcher-sh"}
        for index in range(self.technicians):
            body = {"technician_id": f"CH-{index:03d}", "name": "混沌技师",
                    "certificates": CERTIFICATES, "zones": ["intensive", "standard", "remote"],
                    "lat": 31.2 + index % 100 * 0.001, "lon": 121.4 + index // 100 * 0.001,
                    "shift": "always", "cap": JOBS_EACH, "service_centre_id": SERVICE_CENTRE}
            response = _post_when_up(f"{self.api}/api/v1/technicians", body, headers)
            if response.status_code not in (201, 409):
                raise RuntimeError(f"technician not registered: {response.text}")

    def _stock_parts(self, slots: int) -> None:
        """Enough of the driven orders' part in the warehouse that none waits for it (at
        most one order in eight is driven)."""
        body = {"location": "SH-WH", "sku": PART, "accepted": min(slots // 4 + 50, 10000),
                "receipt_id": "chaos-opening"}
        response = _post_when_up(f"{self.api}/api/v1/stock/receipts", body,
                                 {"Authorization": "Bearer demo-warehouse-sh"})
        if response.status_code not in (200, 201):
            raise RuntimeError(f"parts not received: {response.text}")


def _post_when_up(url: str, body: dict, headers: dict,
                  seconds: float = 60) -> requests.Response:
    """A 503 right after start-up: /health answers as soon as a service's web server does,
    and its RPC queue may be declared and bound a moment later (on a cluster, where each
    queue is replicated to every node, seconds later). A 504: a service still warming up
    (its first passes over the store) answered late; the write may have been made, and
    asking again is safe, since every body here names its own id (a repeat is a 409 or
    the same receipt). Asked again until ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        response = requests.post(url, json=body, headers=headers, timeout=20)
        if response.status_code not in (503, 504) or time.monotonic() > deadline:
            return response
        time.sleep(1)
