"""The wallboard in headless Chromium: the page loads, shows the API's figures, and
updates after a new order."""

import json
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import websocket

from services.ops.browser import find_chromium
from tests.e2e.conftest import request_body

BOARD_TOKEN = "demo-board-sh"


class Page:
    """A Chromium tab driven over the DevTools protocol."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                return reply.get("result", {})

    def figures(self) -> dict:
        script = ("JSON.stringify(Object.fromEntries([...document.querySelectorAll("
                  "'[data-figure]')].map(e => [e.dataset.figure, e.textContent])))")
        result = self.send("Runtime.evaluate", expression=script, returnByValue=True)
        return json.loads(result["result"]["value"])


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        pytest.fail("Chromium is missing: make test installs it (make browser)")
    profile = tempfile.mkdtemp(prefix="board-chromium-")
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("Chromium did not start its DevTools endpoint")
        time.sleep(0.2)
    port = int(port_file.read_text().split()[0])
    yield port
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def _page(port: int) -> Page:
    targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
    tab = next(t for t in targets if t["type"] == "page")
    return Page(tab["webSocketDebuggerUrl"])


def _shown(value) -> str:
    return "—" if value is None else str(value)


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _wait_page(page: Page, predicate, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    seen = {}
    while time.monotonic() < deadline:
        seen = page.figures()
        if predicate(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"the board never showed the expected figures; last: {seen}")


def test_board_shows_api_figures_and_updates(api, chromium):
    board = api.get("/api/v1/board", BOARD_TOKEN)
    assert board.status_code == 200, board.text
    assert api.get("/api/v1/orders", BOARD_TOKEN).status_code == 403  # figures only
    page = _page(chromium)
    page.send("Page.navigate", url=f"{api.base}/board#token={BOARD_TOKEN}&interval=1")

    figures = board.json()
    shown = _wait_page(page, lambda f: f.get("open_total") == str(
        figures["dispatch"]["open_total"]) and f.get("branch") == "SH")
    for state, count in figures["dispatch"]["open_by_status"].items():
        assert shown[f"open.{state}"] == str(count)
    for milestone, count in figures["dispatch"]["overdue_by_milestone"].items():
        assert shown[f"overdue.{milestone}"] == str(count)
    assert shown["on_time_share"] == _percent(figures["dispatch"]["today"]["on_time_share"])
    assert shown["satisfaction"] == _percent(
        (figures.get("satisfaction") or {}).get("satisfaction_share"))
    assert shown["complaints.open"] == _shown((figures.get("complaints") or {}).get("open"))

    before = figures["dispatch"]["open_total"]
    created = api.post("/api/v1/requests", request_body(), "agent")
    assert created.status_code == 201, created.text
    api.wait_listed(created.json()["order_id"])
    after = api.get("/api/v1/board", BOARD_TOKEN).json()["dispatch"]
    assert after["open_total"] == before + 1
    _wait_page(page, lambda f: f.get("open_total") == str(after["open_total"]))


def test_board_api_carries_complaint_and_satisfaction_figures(api):
    """Callbacks and complaints answer the board: counts are numbers, not '—'."""
    before = api.get("/api/v1/board", "demo-board-sh").json()
    assert isinstance(before["complaints"]["open"], int), before
    assert "satisfaction_share" in before["satisfaction"], before
    opened = api.post("/api/v1/complaints", {
        "channel": "hotline", "category": "timeliness", "description": "师傅迟到了两小时",
        "customer": {"name": "周女士", "phone": "13911112222"}}, "demo-complaints-sh")
    assert opened.status_code in (200, 201), opened.text
    after = api.get("/api/v1/board", "demo-board-sh").json()
    assert after["complaints"]["open"] == before["complaints"]["open"] + 1
    assert after["complaints"]["opened_today"] == before["complaints"]["opened_today"] + 1
