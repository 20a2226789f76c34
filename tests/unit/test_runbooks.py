"""Every alert links a runbook that exists and says, Chinese first then English, what the
alert means, what to check and what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERT_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RUNBOOKS = sorted(path for path in (ROOT / "docs" / "runbooks").glob("*.md")
                  if path.name != "README.md")
SECTIONS = ("## 含义", "## 检查", "## 处理", "## Meaning", "## What to check", "## What to do")


def _alerts() -> list[dict]:
    return [rule for path in ALERT_FILES
            for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_there_are_alerts():
    assert len(_alerts()) >= 10


@pytest.mark.parametrize("alert", _alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_links_its_runbook(alert: dict):
    url = alert.get("annotations", {}).get("runbook_url")
    assert url == f"docs/runbooks/{alert['alert']}.md", url
    assert (ROOT / url).is_file(), f"{url} missing"


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda path: path.stem)
def test_runbook_says_what_it_means_what_to_check_and_do_in_both_languages(path: Path):
    text = path.read_text(encoding="utf-8")
    places = [text.find(f"{heading}\n") for heading in SECTIONS]
    assert -1 not in places, f"{path.name}: missing {SECTIONS[places.index(-1)]}"
    assert places == sorted(places), f"{path.name}: sections out of order"
    chinese, english = text[places[0]:places[3]], text[places[3]:]
    assert re.search(r"[\u4e00-\u9fff]{10}", chinese), "Chinese part not in Chinese"
    for start, end in zip(places, [*places[1:], len(text)], strict=True):
        body = text[start:end].split("\n", 1)[1].strip()
        assert len(body) > 20, f"{path.name}: empty section at {text[start:start + 20]!r}"
    assert english.isascii() or not re.search(r"[\u4e00-\u9fff]{6}", english)


def test_no_runbook_without_an_alert():
    alerts = {rule["alert"] for rule in _alerts()}
    assert {path.stem for path in RUNBOOKS} <= alerts
