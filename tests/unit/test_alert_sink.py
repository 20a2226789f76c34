"""The compose deployment's alert receiver: Alertmanager's webhook body, posted over HTTP,
is logged alert by alert and kept for reading back; compose wires Alertmanager to it."""

import json
import threading
import urllib.request
from pathlib import Path

import yaml

from services.ops.alert_sink import AlertSink

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK = {  # Alertmanager's webhook format, version 4
    "version": "4", "status": "firing", "receiver": "on-call",
    "alerts": [{"status": "firing", "startsAt": "2026-12-03T10:00:00Z",
                "labels": {"alertname": "OutboxNotDraining", "branch": "SZ",
                           "severity": "page"},
                "annotations": {"summary": "SZ: intake has events unsent for 9m 0s"}}]}


def test_an_alert_posted_to_the_sink_is_logged_and_kept(caplog):
    sink = AlertSink(("127.0.0.1", 0))
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{sink.server_address[1]}"
    try:
        request = urllib.request.Request(f"{url}/on-call", json.dumps(WEBHOOK).encode(),
                                         {"Content-Type": "application/json"})
        with caplog.at_level("WARNING", logger="alert_sink"):
            assert urllib.request.urlopen(request, timeout=5).status == 200
        kept = json.loads(urllib.request.urlopen(url, timeout=5).read())["alerts"]
    finally:
        sink.shutdown()
    assert kept == [{"receiver": "on-call", "status": "firing",
                     "alertname": "OutboxNotDraining", "branch": "SZ", "severity": "page",
                     "summary": "SZ: intake has events unsent for 9m 0s",
                     "starts_at": "2026-12-03T10:00:00Z"}]
    assert "alert firing: OutboxNotDraining" in caplog.text


def test_alertmanager_sends_every_receiver_to_the_sink_that_compose_runs():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text(
        encoding="utf-8"))
    assert "alert-sink" in compose["services"]
    urls = [hook["url"] for receiver in config["receivers"]
            for hook in receiver["webhook_configs"]]
    assert urls and all(url.startswith("http://alert-sink:9099/") for url in urls)
