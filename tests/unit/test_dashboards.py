"""Grafana dashboards and Prometheus rules use only metric names that exist: recorded by a
rule in deploy/prometheus, exported by the code in this repository, or promised by
deploy/metrics_contract.yaml."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.cli import _service_class
from services.common.config import load_settings
from services.ops.supervisor import PROCESSES

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
CONTRACT = ROOT / "deploy" / "metrics_contract.yaml"
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}

# What is not a metric name in a PromQL expression: label matchers, ranges, strings,
# grouping clauses, Grafana variables, function calls, keywords.
_NOT_NAMES = [
    r'"(?:[^"\\]|\\.)*"', r"\{[^}]*\}", r"\[[^\]]*\]", r"\$\w+",
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
    r"\b[a-zA-Z_][a-zA-Z0-9_]*\s*(?=\()",
]
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    for pattern in _NOT_NAMES:
        expr = re.sub(pattern, " ", expr)
    tokens = re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr)
    return {t for t in tokens if t.lower() not in _KEYWORDS}


def test_metric_names_are_found_in_promql():
    expr = ('histogram_quantile(0.9, sum by (branch, le) (rate(a_bucket{x="b c"}[5m]))) '
            '/ on (branch) group_left b:c:d{branch="$branch"} * 3600 or vector(0)')
    assert metric_names(expr) == {"a_bucket", "b:c:d"}


def _exported_by_code() -> set[str]:
    """Every sample name the services and the gateway register, as their containers do."""
    settings = load_settings(environ={})
    names: set[str] = set()
    for process in PROCESSES:
        registry = CollectorRegistry()
        _service_class(process).metrics.register(registry, settings)
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def _contract() -> tuple[set[str], set[str]]:
    data = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    promised = {entry["name"] if entry["type"] == "counter" else entry["name"] + suffix
                for entry in data["metrics"]
                for suffix in SUFFIXES[entry["type"]]}
    return promised, set(data["prometheus"])


def _rules() -> list[dict]:
    return [rule for path in RULE_FILES
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]]


@pytest.fixture(scope="module")
def known() -> set[str]:
    promised, builtin = _contract()
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    return _exported_by_code() | promised | builtin | recorded


def test_contract_lists_only_what_the_code_does_not_export_yet():
    promised, _ = _contract()
    exported = _exported_by_code()
    assert "aftersales_outbox_oldest_unsent_seconds" in exported  # the code really is read
    assert "aftersales_orders_completed_total" in exported
    assert promised & exported == set(), "exported now: move these out of the contract"


def _expressions(node) -> Iterator[str]:
    """Every query of a dashboard: panel targets (rows nest panels) and variables."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, str) and value.startswith("label_"):
                yield re.sub(r"^label_values\(|,\s*\w+\)$", " ", value)
            else:
                yield from _expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _expressions(item)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_valid_json_using_known_metrics(path, known):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    expressions = list(_expressions(dashboard))
    assert len(expressions) >= len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        assert len(panel.get("description", "")) > 20, f"{panel['title']}: no description"
    for expr in expressions:
        unknown = metric_names(expr) - known
        assert not unknown, f"{path.name}: unknown metric(s) {sorted(unknown)} in {expr}"


def test_rules_use_known_metrics(known):
    for rule in _rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('record') or rule.get('alert')}: {sorted(unknown)}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_picks_its_prometheus_from_a_datasource_variable(path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    assert source["current"]["value"] == "prometheus"  # the provisioned one by default
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_three_audiences_have_a_dashboard():
    assert {p.stem for p in DASHBOARDS} == {"branch-operations", "hq", "platform"}
    uids = [json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


def test_grafana_provisioning_points_at_the_dashboards_and_the_datasource_they_use():
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text(
        encoding="utf-8"))["datasources"]
    assert (source["uid"], source["type"]) == ("prometheus", "prometheus")
    [provider] = yaml.safe_load((provisioning / "dashboards" / "aftersales.yml").read_text(
        encoding="utf-8"))["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts


def test_alertmanager_routes_every_severity_the_alerts_use():
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text(
        encoding="utf-8"))
    receivers = {r["name"] for r in config["receivers"]}
    routes = [config["route"], *config["route"].get("routes", [])]
    assert {r["receiver"] for r in routes} <= receivers
    matched = [m.split("=", 1) for r in routes for m in r.get("matchers", [])]
    by_name = {value.strip('"') for key, value in matched if key == "alertname"}
    severities = {rule["labels"]["severity"] for rule in _rules()
                  if "alert" in rule and rule["alert"] not in by_name}
    routed = {value.strip('"') for key, value in matched if key == "severity"}
    assert severities - routed <= {"ticket"}  # tickets take the default route
