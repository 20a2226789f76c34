"""Headless Chromium over the DevTools protocol, for the console's browser tests: one
browser, one isolated context (its own cookies) per signed-in user."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import websocket

from services.ops.browser import find_chromium

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--lang=zh-CN")


class DevTools:
    """One DevTools connection: a command and its answer, events skipped."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params: Any) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def close(self) -> None:
        self.ws.close()


class Tab:
    """A page in its own browser context."""

    def __init__(self, port: int, devtools: DevTools, width: int, height: int,
                 mobile: bool) -> None:
        context = devtools.send("Target.createBrowserContext")["browserContextId"]
        target = devtools.send("Target.createTarget", url="about:blank",
                               browserContextId=context)["targetId"]
        self.page = DevTools(f"ws://127.0.0.1:{port}/devtools/page/{target}")
        self.page.send("Page.enable")
        self.page.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                       deviceScaleFactor=1, mobile=mobile)

    def eval(self, expression: str) -> Any:
        result = self.page.send("Runtime.evaluate", expression=expression,
                                returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, seconds: float = 20) -> Any:
        """The expression's value once truthy (and the page loaded)."""
        deadline = time.monotonic() + seconds
        last = None
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError, RuntimeError):
                if self.eval("document.readyState") == "complete":
                    last = self.eval(expression)
                    if last:
                        return last
            time.sleep(0.1)
        raise AssertionError(f"never true: {expression}; last {last!r}; at {self.url()}")

    def goto(self, url: str) -> None:
        """Navigates and waits for the new document: the old one is marked first, since
        going to the page already shown (with another query) would otherwise be taken as
        arrived while the old page is still there."""
        with contextlib.suppress(AssertionError, RuntimeError):
            self.eval("window.__stale = true")
        self.page.send("Page.navigate", url=url)
        self.wait(f"!window.__stale && (location.href.startsWith("
                  f"{json.dumps(url.split('?')[0])}) || "
                  "location.pathname === '/console/login')")

    def url(self) -> str:
        return self.eval("location.href")

    def fill(self, selector: str, value: str) -> None:
        self.eval(f"(e => {{ e.value = {json.dumps(value)}; }})"
                  f"(document.querySelector({json.dumps(selector)}))")

    def select(self, selector: str, value: str) -> None:
        self.fill(selector, value)

    def submit(self, selector: str) -> None:
        """Clicks a submit button and waits for the next page to load."""
        self.eval("window.__stale = true")
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")
        self.wait("!window.__stale")

    def text(self, selector: str = "body") -> str:
        return self.eval(f"(document.querySelector({json.dumps(selector)}) || "
                         "{innerText: ''}).innerText")

    def screenshot(self, path: Path) -> None:
        shot = self.page.send("Page.captureScreenshot", format="png",
                              captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.page.close()


class Browser:
    def __init__(self, port: int) -> None:
        self.port = port
        version = requests.get(f"http://127.0.0.1:{port}/json/version", timeout=10).json()
        self.devtools = DevTools(version["webSocketDebuggerUrl"])

    def tab(self, width: int = 1280, height: int = 900, mobile: bool = False) -> Tab:
        return Tab(self.port, self.devtools, width, height, mobile)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("Chromium is missing: make test installs it (make browser)")
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        yield Browser(_devtools_port(Path(profile), process))
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen) -> int:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("Chromium did not start its DevTools endpoint")
        time.sleep(0.2)
    return int(port_file.read_text().split()[0])
