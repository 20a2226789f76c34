"""A webhook receiver for Alertmanager that writes every alert it gets to the log (one
JSON line per alert: receiver, status, name, branch, summary) and keeps the last ones for
``GET /``. Compose runs it as ``alert-sink``, so the alerts of a local deployment land
somewhere a person can read them; a real deployment points the webhooks at its pager and
ticket queue instead (deploy/alertmanager/alertmanager.yml).

    python -m services.ops.alert_sink --port 9099
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common.logs import configure_logging

log = logging.getLogger("alert_sink")
KEPT = 200


def alert_lines(receiver: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Alertmanager's webhook body (version 4) as one record per alert."""
    return [{"receiver": receiver, "status": alert.get("status", payload.get("status")),
             "alertname": alert.get("labels", {}).get("alertname"),
             "branch": alert.get("labels", {}).get("branch"),
             "severity": alert.get("labels", {}).get("severity"),
             "summary": alert.get("annotations", {}).get("summary"),
             "starts_at": alert.get("startsAt")}
            for alert in payload.get("alerts", [])]


class AlertSink(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.received: deque[dict[str, Any]] = deque(maxlen=KEPT)


class _Handler(BaseHTTPRequestHandler):
    server: AlertSink

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        try:
            length = int(self.headers.get("Content-Length", 0))
            payload = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            self._answer(400, {"error": "not JSON"})
            return
        for line in alert_lines(self.path.strip("/") or "default", payload):
            self.server.received.append(line)
            log.warning("alert %s: %s", line["status"], line["alertname"], extra=line)
        self._answer(200, {"ok": True})

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, {"alerts": list(self.server.received)})

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return  # the alerts are logged, not every request


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alert-sink", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9099)
    args = parser.parse_args(argv)
    configure_logging("alert-sink")
    AlertSink((args.host, args.port)).serve_forever()


if __name__ == "__main__":
    main()
