"""The console's accessibility: axe-core (vendored, tests/e2e/vendor/axe-core) run over
each main screen of each role, failing on any serious or critical violation; and an agent
who takes a request with the keyboard alone (Tab to move, typing, Enter to save)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.browser import Tab, chromium
from tests.e2e.conftest import request_body
from tests.e2e.test_console import TECH, _ensure_technician, _sign_in

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
BLOCKING = ("serious", "critical")
# (token, screens it opens); {order} is an order the technician is on site for.
SCREENS = (
    ("agent", ("/console/agent",)),
    ("dispatcher", ("/console/dispatch", "/console/dispatch/schedule", "/console/orders/{order}")),
    ("supervisor", ("/console/orders/{order}",)),
    ("tech2", ("/console/tech", "/console/tech/jobs/{order}")),
    ("demo-warehouse-sh", ("/console/work/warehouse",)),
    ("demo-finance-sh", ("/console/work/finance",)),
    ("demo-callback-sh", ("/console/work/callbacks",)),
    ("demo-complaints-sh", ("/console/work/complaints",)),
    ("demo-hq-auditor-sh", ("/console/work/audit",)),
)


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def violations(tab: Tab) -> list[dict]:
    """axe's serious and critical findings on the page (WCAG 2.1 A and AA rules)."""
    if not tab.eval("typeof window.axe === 'object'"):
        tab.eval(AXE)  # DevTools evaluation: the page's CSP does not apply to it
    found = tab.eval("axe.run(document, {runOnly: {type: 'tag', values: "
                     "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
                     ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, "
                     "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))")
    return [v for v in found if v["impact"] in BLOCKING]


def _on_site(api) -> str:
    created = api.post("/api/v1/requests", request_body(
        product__serial_number=f"SN{uuid.uuid4().hex[:10]}"), "agent")
    order_id = created.json()["order_id"]
    api.wait_listed(order_id)
    for action, body in (("assign", {"technician_id": TECH}), ("contact", {}),
                         ("check-in", {})):
        assert api.post(f"/api/v1/orders/{order_id}/{action}", body).status_code == 200
    return order_id


def test_no_serious_or_critical_accessibility_violation_on_any_screen(api, browser):
    _ensure_technician(api)
    order_id = _on_site(api)
    login = browser.tab()
    login.goto(f"{api.base}/console/login")
    found = {"/console/login": violations(login)}
    login.close()
    for token, pages in SCREENS:
        viewport = {"width": 375, "height": 812, "mobile": True} if token == "tech2" else {}
        paths = [page.format(order=order_id) for page in pages]
        tab = _sign_in(browser, api.base, token, paths[0], **viewport)
        for path in paths:
            if path != paths[0]:
                tab.goto(f"{api.base}{path}")
            found[f"{token} {path}"] = violations(tab)
        tab.close()
    assert {page: v for page, v in found.items() if v} == {}, json.dumps(
        found, ensure_ascii=False, indent=1)


def _key(tab: Tab, key: str) -> None:
    codes = {"Tab": 9, "Enter": 13}
    for kind in ("rawKeyDown", "keyUp"):
        tab.page.send("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=codes[key])
    if key == "Enter":
        tab.page.send("Input.dispatchKeyEvent", type="char", text="\r", key=key,
                      windowsVirtualKeyCode=13)


def _tab_to(tab: Tab, selector: str, presses: int = 40) -> None:
    """Tab until the element has the focus, as a keyboard user would."""
    for _ in range(presses):
        if tab.eval(f"document.activeElement === document.querySelector('{selector}')"):
            return
        _key(tab, "Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_an_agent_takes_a_request_with_the_keyboard_alone(api, browser):
    tab = _sign_in(browser, api.base, "agent", "/console/agent")
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    for selector, text in (("#f-customer-name", "周先生"), ("#f-customer-phone", phone),
                           ("#f-customer-address", "黄浦区南京东路8号"),
                           ("#f-customer-region_code", "310101"),
                           ("#f-product-serial_number", f"SN{uuid.uuid4().hex[:10]}"),
                           ("#f-description", "空调不制冷")):
        _tab_to(tab, selector)
        tab.page.send("Input.insertText", text=text)
    _tab_to(tab, "form.grid button[type=submit]")
    tab.eval("window.__stale = true")
    _key(tab, "Enter")
    tab.wait("!window.__stale")
    assert tab.wait("document.querySelector('#result')?.dataset.outcome") == "created"
    order_id = tab.eval("document.querySelector('#result').dataset.order")
    assert api.order(order_id)["customer"]["phone"] == phone
    tab.close()
