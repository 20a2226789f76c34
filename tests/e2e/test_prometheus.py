"""A real Prometheus (the OS package's server) scrapes the running system every second and
evaluates the project's rules: the SLO counters, the overdue gauge, the chassis gauges and
the recording rules are what the orders driven through the API make them."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml

from services.common.config import SERVICE_NAMES
from services.ops.supervisor import PROCESSES
from tests.conftest import free_port
from tests.e2e.conftest import request_body

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_CONTACT_SZ = 'branch="SZ",milestone="first_contact"'


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` now, None while it has no sample."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} has several series: {result}"
        return float(result[0]["value"][1]) if result else None

    def wait(self, expr: str, predicate, seconds: float = 30) -> float | None:
        """The value of ``expr`` once ``predicate`` holds for it, else the last one seen."""
        started = time.monotonic()
        value = self.value(expr)
        while not predicate(value) and time.monotonic() - started < seconds:
            time.sleep(0.5)
            value = self.value(expr)
        self.waited = time.monotonic() - started  # for the failure message
        return value


def _targets(system) -> list[dict]:
    api, supervisor, _ = system
    groups = [{"targets": [f"127.0.0.1:{api.metrics[name]}"], "labels": {"service": name}}
              for name in PROCESSES]
    # the second dispatch replica serves /metrics on its own port (Supervisor.start_one)
    replica = int(supervisor.env["REPLICA_PORT_BASE"]) + 10 + PROCESSES.index("dispatch")
    groups.append({"targets": [f"127.0.0.1:{replica}"], "labels": {"service": "dispatch"}})
    return groups


@pytest.fixture(scope="module")
def prometheus(system, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: `make prometheus` installs it (Debian package "
                    "prometheus), or put it on PATH")
    home = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULES],
        "scrape_configs": [{"job_name": "aftersales", "honor_labels": True,
                            "static_configs": _targets(system)}],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    with open(home / "prometheus.log", "wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={home / 'prometheus.yml'}",
             f"--storage.tsdb.path={home / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:
        _wait_ready(server, process, home / "prometheus.log")
        yield server
    finally:
        process.terminate()
        process.wait(20)


def _wait_ready(server: Prometheus, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{server.url}/-/ready", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"Prometheus did not start:\n{log.read_text(errors='replace')[-2000:]}")


def _complete_an_sz_repair(api) -> str:
    api.technician(["refrigeration"], lat=22.54, lon=114.05, token="dispatcher_sz")
    body = request_body(customer__region_code="440304", customer__address="福田区深南大道1号")
    order_id = api.post("/api/v1/requests", body, "agent_sz").json()["order_id"]
    api.wait_order(order_id, lambda o: o["status"] == "offered", token="dispatcher_sz")
    now = datetime.now(SHANGHAI)
    for action, payload in [
        ("accept", {}), ("contact", {}),
        ("appointment", {"start": (now + timedelta(hours=1)).isoformat(),
                         "end": (now + timedelta(hours=2)).isoformat()}),
        ("check-in", {}),
        ("complete", {"diagnosis": "冷媒不足", "fault_code": "E1", "repair_done": "补充冷媒"}),
    ]:
        response = api.post(f"/api/v1/orders/{order_id}/{action}", payload, "dispatcher_sz")
        assert response.status_code == 200, (action, response.text)
    return order_id


def _breach_an_sz_first_contact(api) -> str:
    # A gas smell 40 minutes ago in a remote zone: first contact (30 min) is already late,
    # and nobody holds a gas certificate, so the order stays open and overdue.
    received = datetime.now(SHANGHAI) - timedelta(minutes=40)
    body = request_body(product__category="gas_stove", description="燃气灶漏气",
                        customer__region_code="440310", customer__address="坪山区坪山大道1号",
                        received_at=received.isoformat())
    order = api.post("/api/v1/requests", body, "agent_sz").json()
    assert (order["priority"], order["zone"]) == ("emergency", "remote"), order
    return order["order_id"]


def test_prometheus_sees_the_slo_counters_gauges_and_recording_rules(api, prometheus):
    met = f"sum(aftersales_milestone_met_total{{{FIRST_CONTACT_SZ}}})"
    breached = f"sum(aftersales_milestone_breached_total{{{FIRST_CONTACT_SZ}}})"
    completed = ('sum(aftersales_orders_completed_total{branch="SZ",zone="intensive",'
                 'request_type="repair"})')
    # Both dispatch replicas scraped, their counters seen at zero before anything happens.
    up = 'count(up{service="dispatch"} == 1)'
    assert prometheus.wait(up, lambda v: v == 2) == 2, (
        f"after {prometheus.waited:.1f} s: {prometheus.query('up')}")
    assert prometheus.wait(met, lambda v: v is not None) == 0, "SZ first contact not fresh"
    assert prometheus.value(breached) == 0 and prometheus.value(completed) == 0

    _complete_an_sz_repair(api)
    _breach_an_sz_first_contact(api)

    assert prometheus.wait(met, lambda v: v == 1) == 1
    assert prometheus.wait(breached, lambda v: v == 1) == 1
    assert prometheus.wait(completed, lambda v: v == 1) == 1
    overdue = ('max(aftersales_open_overdue_orders{branch="SZ",zone="remote",'
               'milestone="first_contact",request_type="repair",priority="emergency"})')
    assert prometheus.wait(overdue, lambda v: v == 1) == 1
    # Recording rules, evaluated by Prometheus from the scraped series.
    recorded = f"branch_milestone:aftersales_open_overdue_orders:sum{{{FIRST_CONTACT_SZ}}}"
    assert prometheus.wait(recorded, lambda v: v == 1) == 1  # one order, two replicas
    on_time = f"branch_milestone:aftersales_milestone_on_time:ratio_rate1h{{{FIRST_CONTACT_SZ}}}"
    ratio = prometheus.wait(on_time, lambda v: v is not None and abs(v - 0.5) < 0.02)
    assert ratio == pytest.approx(0.5, abs=0.02)  # one met, one breached


def test_every_service_exports_the_chassis_gauges(prometheus):
    expr = "count by (service) (aftersales_outbox_oldest_unsent_seconds)"
    deadline = time.monotonic() + 30
    while len(prometheus.query(expr)) < len(SERVICE_NAMES) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {r["metric"]["service"] for r in prometheus.query(expr)} == set(SERVICE_NAMES)
    queues = {r["metric"]["queue"]
              for r in prometheus.query("aftersales_dead_letter_messages")}
    assert {"dispatch.dlq", "intake.dlq", "complaints.dlq"} <= queues


def test_gateway_answers_by_route_and_status_and_every_process_reports_itself(api,
                                                                               prometheus):
    missing = api.get("/api/v1/orders/SH-20260101-999999", "dispatcher")
    assert missing.status_code == 404
    route = 'route="/api/v1/orders/{order_id}",method="GET",status="404"'
    counted = prometheus.wait(f"sum(aftersales_http_requests_total{{{route}}})",
                              lambda v: v is not None and v >= 1)
    assert counted is not None and counted >= 1
    expr = "count by (service) (process_resident_memory_bytes)"
    deadline = time.monotonic() + 30
    while len(prometheus.query(expr)) < len(PROCESSES) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert {r["metric"]["service"] for r in prometheus.query(expr)} == set(PROCESSES)
