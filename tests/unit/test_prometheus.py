"""Recording and alert rules: valid for promtool, each alert proven to fire and to stay
silent (deploy/prometheus/tests), and named level:metric:operations."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: `make prometheus` installs it (Debian package "
                    "prometheus), or put it on PATH")
    return path


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120)


def _rules() -> list[dict]:
    return [rule for path in RULE_FILES
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"]]


def test_rule_files_pass_promtool_check(promtool):
    result = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool_check(promtool):
    result = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool):
    for path in RULE_TESTS:
        result = _run(promtool, "test", "rules", path.name, cwd=path.parent)
        assert result.returncode == 0, result.stdout + result.stderr


# Fires by design all the time: the dead man's switch behind Alertmanager pages when it stops.
ALWAYS_FIRING = {"Watchdog"}


def test_every_alert_has_a_firing_and_a_silent_case():
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    firing, silent = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts, "no alerts defined"
    assert alerts - firing == set(), "alerts never shown to fire"
    assert alerts - silent - ALWAYS_FIRING == set(), "alerts never shown to stay silent"


def test_watchdog_always_fires_and_alertmanager_routes_it_apart():
    watchdog = next(rule for rule in _rules() if rule.get("alert") == "Watchdog")
    assert watchdog["expr"].strip() == "vector(1)" and "for" not in watchdog
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml")
                            .read_text(encoding="utf-8"))
    route = next(r for r in config["route"]["routes"]
                 if 'alertname="Watchdog"' in r.get("matchers", []))
    assert route["receiver"] == "watchdog" and route["repeat_interval"] == "5m"


def test_every_scraped_service_has_an_absent_guard():
    scraped = {target["labels"]["service"]
               for job in yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(
                   encoding="utf-8"))["scrape_configs"]
               for target in job["static_configs"]}
    guard = next(rule for rule in _rules() if rule.get("alert") == "ScrapeTargetAbsent")
    guarded = set(re.findall(r'absent\(up\{job="aftersales", service="(\w+)"\}\)',
                             guard["expr"]))
    assert scraped and scraped == guarded


def test_recording_rules_are_named_level_metric_operations():
    names = [rule["record"] for rule in _rules() if "record" in rule]
    assert "branch_milestone:aftersales_milestone_on_time:ratio_rate1h" in names
    for name in names:
        assert re.fullmatch(r"[a-z_]+:aftersales_[a-z0-9_]+:[a-z0-9_]+", name), name
