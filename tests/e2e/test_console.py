"""The console (工作台) in headless Chromium, through the real system: each role signs in
with its token and works on the same order, as the API lets it and no further."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.browser import Browser, Tab, chromium
from tests.e2e.conftest import TOKENS

# The README's screenshots: refreshed with CONSOLE_SCREENSHOTS=docs (a folder); otherwise
# taken all the same, into the test's own folder, so a test run leaves the tree clean.
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
TECH = "SH-T02"  # SH-T01 is test_access_and_input's: its certificates stay as it set them


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def _sign_in(browser: Browser, base: str, token: str, page: str, **viewport) -> Tab:
    tab = browser.tab(**viewport)
    tab.goto(f"{base}{page}")
    assert tab.eval("location.pathname") == "/console/login"
    tab.fill("#token", TOKENS.get(token, token))
    tab.submit("form button[type=submit]")
    assert tab.eval("location.pathname") == page, tab.text()
    return tab


def _ensure_technician(api) -> None:
    """SH-T02 holds only a gas certificate, so an air conditioner waits for a dispatcher
    instead of being offered to it."""
    body = {"name": "张伟", "certificates": ["gas"], "zones": ["intensive", "standard"],
            "lat": 31.23, "lon": 121.47, "shift": "always", "cap": 3, "active": True}
    created = api.post("/api/v1/technicians", {"technician_id": TECH, **body})
    if created.status_code == 409:
        created = api.call("PATCH", f"/api/v1/technicians/{TECH}", json=body)
    assert created.status_code in (200, 201), created.text


def _fill_request(tab: Tab, phone: str, serial: str, description: str,
                  category: str = "air_conditioner") -> None:
    for selector, value in (("#f-customer-name", "王先生"), ("#f-customer-phone", phone),
                            ("#f-customer-address", "黄浦区南京东路100号3室"),
                            ("#f-customer-region_code", "310101"), ("#f-category", category),
                            ("#f-product-brand", "格力"),
                            ("#f-product-serial_number", serial),
                            ("#f-product-purchase_date", "2026-06-01"),
                            ("#f-request_type", "repair"), ("#f-channel", "hotline"),
                            ("#f-description", description)):
        tab.fill(selector, value)


def _new_request(tab: Tab, description: str = "空调不制冷，室内机漏水",
                 category: str = "air_conditioner") -> tuple[str, str]:
    phone, serial = f"139{uuid.uuid4().int % 10**8:08d}", f"SN{uuid.uuid4().hex[:10]}"
    _fill_request(tab, phone, serial, description, category)
    tab.submit("form.grid button[type=submit]")
    return phone, serial


def test_signed_out_user_goes_to_the_login_page(system, browser):
    api = system[0]
    tab = browser.tab()
    for page in ("/console/dispatch", "/console/orders/SH-20260101-000001", "/"):
        tab.goto(f"{api.base}{page}")
        assert tab.eval("location.pathname") == "/console/login"
        assert "访问令牌" in tab.text()
    tab.submit("a.lang")  # English on request, kept in a cookie
    assert "Access token" in tab.text() and tab.eval("document.documentElement.lang") == "en"
    tab.goto(f"{api.base}/console/agent")
    assert "Access token" in tab.text()
    plain = requests.get(f"{api.base}/console/tech", allow_redirects=False, timeout=10)
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/console/login")
    tab.close()


def test_agent_dispatcher_and_technician_work_one_order(api, browser, shots):
    _ensure_technician(api)
    agent = _sign_in(browser, api.base, "agent", "/console/agent")
    phone, serial = _new_request(agent)
    assert agent.wait("document.querySelector('#result')?.dataset.outcome") == "created"
    order_id = agent.eval("document.querySelector('#result').dataset.order")
    shown = agent.text("#result")
    assert "已建单" in shown and "保内" in shown and "密集区" in shown
    deadlines = agent.eval("[...document.querySelectorAll('#result [data-deadline]')]"
                           ".map(e => e.dataset.deadline)")
    order = api.order(order_id)
    # Shown as intake answered; dispatch stores the same times to the millisecond.
    assert [d[:19] for d in deadlines] == [d[:19] for d in order["deadlines"].values()]
    assert len(deadlines) == 3
    agent.screenshot(shots / "console-agent.png")

    _fill_request(agent, phone, serial, "空调不制冷，室内机漏水")  # the customer calls again
    agent.submit("form.grid button[type=submit]")
    assert agent.wait("document.querySelector('#result')?.dataset.outcome") == "reminder"
    assert agent.eval("document.querySelector('#result').dataset.order") == order_id
    assert agent.text("[data-reminders]") == "1" and "催单" in agent.text("#result")

    api.wait_listed(order_id)
    dispatcher = _sign_in(browser, api.base, "dispatcher", "/console/dispatch")
    row = f"tr[data-order='{order_id}']"
    dispatcher.wait(f"!!document.querySelector(\"{row}\")")
    assert api.order(order_id)["customer"]["phone"] not in dispatcher.text("#board")
    dispatcher.screenshot(shots / "console-dispatcher.png")
    dispatcher.select(f"#pick-{order_id}", TECH)
    dispatcher.submit(f"{row} .picker button")
    assert api.order(order_id)["technician_id"] == TECH
    dispatcher.wait(f"document.querySelector(\"{row} [data-status]\")?.dataset.status"
                    " === 'accepted'")

    # A gas water heater is offered to SH-T02 by dispatch itself. The offer lapses after
    # a few seconds here, so the technician is signed in on the phone first, then opens
    # the list and accepts at once; then works the assigned order on to completion.
    tech = _sign_in(browser, api.base, "tech2", "/console/tech", width=375, height=812,
                    mobile=True)
    _new_request(agent, "热水器打不着火", "gas_water_heater")
    offered_id = agent.eval("document.querySelector('#result').dataset.order")
    api.wait_order(offered_id, lambda o: (o.get("offer") or {}).get("technician_id") == TECH)
    tech.goto(f"{api.base}/console/tech")
    tech.submit(f"[data-order='{offered_id}'] .step-accept button")
    assert api.order(offered_id)["status"] == "accepted"
    assert tech.eval("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    tech.screenshot(shots / "console-technician.png")
    for step, status in (("contact", "contacted"), ("check-in", "on_site")):
        tech.submit(f"[data-order='{order_id}'] .step-{step} button")
        assert api.order(order_id)["status"] == status
    job = f"[data-order='{order_id}'] .step-complete"
    for field, value in (("diagnosis", "冷媒不足"), ("fault_code", "E1"),
                         ("repair_done", "补充冷媒，试机正常")):
        tech.fill(f"{job} [name={field}]", value)
    tech.submit(f"{job} button")
    assert api.order(order_id)["status"] == "completed"
    assert not tech.eval(f"!!document.querySelector(\"[data-order='{order_id}']\")")

    page = _sign_in(browser, api.base, "dispatcher", f"/console/orders/{order_id}")
    assert {"created", "reminder", "assigned", "contacted", "checked_in",
            "completed"} <= set(page.eval(
        "[...document.querySelectorAll('[data-step]')].map(e => e.dataset.step)"))
    for tab in (agent, dispatcher, tech, page):
        tab.close()


def test_another_branch_cannot_open_the_order(api, browser):
    created = api.post("/api/v1/requests", {
        "customer": {"name": "李女士", "phone": f"138{uuid.uuid4().int % 10**8:08d}",
                     "address": "徐汇区漕溪北路1号", "region_code": "310104"},
        "product": {"category": "range_hood", "serial_number": f"SN{uuid.uuid4().hex[:10]}"},
        "request_type": "repair", "description": "油烟机不转", "channel": "hotline"}, "agent")
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    tab = _sign_in(browser, api.base, "agent_sz", f"/console/orders/{order_id}")
    assert tab.eval("document.querySelector('[data-error]')?.dataset.error") == \
        "error.not_found"
    assert "李女士" not in tab.text() and "油烟机不转" not in tab.text()
    tab.close()


def test_the_queue_updates_without_a_reload_and_a_post_without_csrf_changes_nothing(
        api, browser):
    _ensure_technician(api)
    tab = _sign_in(browser, api.base, "dispatcher", "/console/dispatch")
    tab.eval("window.__same_page = true")
    created = api.post("/api/v1/requests", {
        "customer": {"name": "赵先生", "phone": f"137{uuid.uuid4().int % 10**8:08d}",
                     "address": "黄浦区南京东路2号", "region_code": "310101"},
        "product": {"category": "air_conditioner"},
        "request_type": "repair", "description": "空调异响", "channel": "hotline"}, "agent")
    order_id = created.json()["order_id"]
    tab.wait(f"!!document.querySelector(\"tr[data-order='{order_id}']\")")
    assert tab.eval("window.__same_page") is True  # polled in, not reloaded
    tab.select(f"#pick-{order_id}", TECH)
    tab.eval(f"document.querySelector(\"tr[data-order='{order_id}'] input[name=csrf]\")"
             ".remove()")
    tab.submit(f"tr[data-order='{order_id}'] .picker button")
    assert tab.eval("document.querySelector('[data-error]')?.dataset.error") == "error.csrf"
    cookies = {c["name"]: c["value"] for c in tab.page.send("Network.getAllCookies")["cookies"]}
    forged = requests.post(f"{api.base}/console/orders/{order_id}/assign",
                           data={"technician_id": TECH, "csrf": "guessed"}, cookies=cookies,
                           allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    order = api.order(order_id)
    assert order["technician_id"] is None and order["status"] == "new"
    tab.close()


def test_the_agent_sees_the_customer_file_as_the_phone_is_typed(api, browser):
    agent = _sign_in(browser, api.base, "agent", "/console/agent")
    phone, serial = _new_request(agent, "热水器不加热", "electric_water_heater")
    assert agent.wait("document.querySelector('#result')?.dataset.outcome") == "created"
    order_id = agent.eval("document.querySelector('#result').dataset.order")
    assert "7" in agent.text("#customer-file")  # nothing typed yet: how many digits
    for typed in (phone[:5], phone[:8]):
        agent.fill("#f-customer-phone", typed)
        agent.eval("document.querySelector('#f-customer-phone')"
                   ".dispatchEvent(new Event('input'))")
    agent.wait(f"!!document.querySelector(\"#customer-file [data-order='{order_id}']\")")
    shown = agent.text("#customer-file")
    assert serial in shown and "电热水器" in shown
    assert phone not in shown and f"{phone[:3]}****{phone[-4:]}" in shown
