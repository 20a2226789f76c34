"""The whole system as separate processes (six services, two dispatch replicas, gateway),
driven through HTTP."""

import contextlib
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from services.common.config import load_settings
from services.ops.supervisor import PROCESSES, Supervisor, health_urls
from tests.conftest import free_port

OFFER_TIMEOUT_SECONDS = 4
OPEN_STATES = ("new", "offered", "accepted", "contacted", "scheduled", "on_site",
               "waiting_parts", "escalated")
TOKENS = {
    "agent": "demo-agent-sh", "dispatcher": "demo-dispatcher-sh",
    "supervisor": "demo-supervisor-sh", "admin": "demo-admin-sh",
    "tech1": "demo-tech-sh-01", "tech2": "demo-tech-sh-02",
    "agent_sz": "demo-agent-sz", "dispatcher_sz": "demo-dispatcher-sz",
}


@dataclass
class Api:
    base: str
    metrics: dict
    tokens_file: Path

    def call(self, method: str, path: str, token: str | None = "dispatcher", **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {TOKENS.get(token, token)}"
        return requests.request(method, self.base + path, headers=headers, timeout=20,
                                **kwargs)

    def post(self, path: str, body=None, token: str | None = "dispatcher", **kwargs):
        return self.call("POST", path, token, json=body if body is not None else {}, **kwargs)

    def get(self, path: str, token: str | None = "dispatcher", **kwargs):
        return self.call("GET", path, token, **kwargs)

    def order(self, order_id: str, token: str = "dispatcher") -> dict:
        response = self.get(f"/api/v1/orders/{order_id}", token)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_order(self, order_id: str, predicate, seconds: float = 20, token="dispatcher"):
        deadline = time.monotonic() + seconds
        last = None
        while time.monotonic() < deadline:
            response = self.get(f"/api/v1/orders/{order_id}", token)
            if response.status_code == 200:
                last = response.json()
                if predicate(last):
                    return last
            time.sleep(0.2)
        raise AssertionError(f"order {order_id} never matched; last seen: {last}")

    def wait_listed(self, order_id: str, token: str = "dispatcher", seconds: float = 20):
        """The order as the list shows it, once dispatch has taken it in."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            items = self.get("/api/v1/orders", token, params={"page_size": 100}).json()["items"]
            found = [item for item in items if item["order_id"] == order_id]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"order {order_id} never listed")

    def scrape(self, service: str) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics[service]}/metrics",
                            timeout=10).text

    def technician(self, certificates, zones=("intensive", "standard", "remote"),
                   cap=2, lat=31.23, lon=121.47, shift="always", token="dispatcher",
                   service_centre_id: str | None = None) -> str:
        tech_id = f"E2E-{uuid.uuid4().hex[:8]}"
        body = {"technician_id": tech_id, "name": "测试技师", "certificates": list(certificates),
                "zones": list(zones), "lat": lat, "lon": lon, "shift": shift, "cap": cap}
        if service_centre_id:
            body["service_centre_id"] = service_centre_id
        response = self.post("/api/v1/technicians", body, token)
        assert response.status_code == 201, response.text
        return tech_id


def request_body(**overrides) -> dict:
    """A valid request; nested keys via customer__x / product__x."""
    body = {
        "customer": {"name": "王先生", "phone": f"139{uuid.uuid4().int % 10**8:08d}",
                     "address": "黄浦区南京东路100号3室", "region_code": "310101"},
        "product": {"category": "air_conditioner", "brand": "Gree", "model": "KFR-35",
                    "serial_number": f"SN{uuid.uuid4().hex[:10]}",
                    "purchase_date": "2026-06-01"},
        "request_type": "repair",
        "description": "空调不制冷 not cooling",
        "channel": "hotline",
    }
    for key, value in overrides.items():
        if "__" in key:
            outer, inner = key.split("__", 1)
            if value is None:
                body[outer].pop(inner, None)
            else:
                body[outer][inner] = value
        else:
            body[key] = value
    return body


@contextlib.contextmanager
def running_system(amqp_uri: str, mongo_uri: str, tmp_path_factory):
    """The whole system (two dispatch replicas) on its own databases: (api, supervisor,
    log folder)."""
    ports = {name: free_port() for name in ("gateway", "intake", "dispatch", "inventory",
                                             "billing", "callbacks", "complaints")}
    tokens_file = tmp_path_factory.mktemp("tokens") / "tokens.yaml"
    shutil.copy(Path(__file__).parents[2] / "deploy" / "config" / "tokens.yaml", tokens_file)
    env = dict(os.environ)
    env.update({
        "TOKENS_FILE": str(tokens_file),
        "AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri,
        "DB_PREFIX": f"e2e{uuid.uuid4().hex[:8]}", "BRANCHES": "SH,SZ",
        "OFFER_TIMEOUT_SECONDS": str(OFFER_TIMEOUT_SECONDS),
        # The second dispatch replica's metrics port is base + 10 + its index: a port
        # free now, rather than a random one (busy machines had it taken).
        "GATEWAY_PORT": str(ports["gateway"]),
        "REPLICA_PORT_BASE": str(free_port() - 10 - PROCESSES.index("dispatch")),
        **{f"{name.upper()}_METRICS_PORT": str(port) for name, port in ports.items()
           if name != "gateway"},
    })
    settings = load_settings(environ=env)
    logs = tmp_path_factory.mktemp("logs")
    supervisor = Supervisor(env, log_dir=logs, replicas={"dispatch": 2})
    supervisor.start()
    try:
        supervisor.wait_ready(health_urls(settings), seconds=120)
        yield (Api(f"http://127.0.0.1:{ports['gateway']}", ports, tokens_file), supervisor,
               logs)
    finally:
        supervisor.stop()


@pytest.fixture(scope="session")
def system(amqp_uri, mongo_uri, tmp_path_factory):
    with running_system(amqp_uri, mongo_uri, tmp_path_factory) as running:
        yield running


@pytest.fixture
def api(system):
    """The system's API; every open order and every technician is retired after the test,
    so tests do not feed each other's queues."""
    client = system[0]
    yield client
    retire_everything(client)


def retire_everything(client: Api, tokens: tuple[str, ...] = ("dispatcher", "dispatcher_sz")
                      ) -> None:
    """No open order and no active technician left (for each dispatcher's branch), to
    feed another test's queue."""
    for token in tokens:
        for tech in client.get("/api/v1/technicians", token).json().get("items", []):
            if tech["active"]:
                client.call("PATCH", f"/api/v1/technicians/{tech['technician_id']}", token,
                            json={"active": False})
        for status in OPEN_STATES:
            page = client.get("/api/v1/orders", token,
                              params={"status": status, "page_size": 100}).json()
            for item in page.get("items", []):
                client.post(f"/api/v1/orders/{item['order_id']}/cancel",
                            {"reason": "test clean-up"}, token)
