"""A technician's job on the phone (375 px), through the real system: call and book a
visit, ask for parts, a quote the customer approves on the screen, and the completion with
the customer's signature drawn on the page, kept with the order as a PNG."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from schemas.fields import DISPLAY_TZ, PNG_SIGNATURE
from tests.e2e.browser import Tab, chromium
from tests.e2e.conftest import request_body
from tests.e2e.test_console import SCREENSHOTS, TECH, _ensure_technician, _sign_in

PHONE = {"width": 375, "height": 812, "mobile": True}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


def _assigned_out_of_warranty_order(api) -> str:
    """An air conditioner out of warranty (a chargeable job), assigned to the technician."""
    created = api.post("/api/v1/requests", request_body(
        product__purchase_date="2020-01-01",
        product__serial_number=f"SN{uuid.uuid4().hex[:10]}"), "agent")
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    api.wait_listed(order_id)
    assigned = api.post(f"/api/v1/orders/{order_id}/assign", {"technician_id": TECH})
    assert assigned.status_code == 200, assigned.text
    return order_id


def _form(tab: Tab, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        tab.fill(f".step-{form} [name={name}]", value)
    tab.submit(f".step-{form} button[type=submit]")


def _draw(tab: Tab, canvas: str) -> None:
    """A stroke by a finger, then one by a mouse, across the signature pad."""
    tab.eval(f"document.querySelector('{canvas}').scrollIntoView({{block: 'center'}})")
    box = tab.eval(f"(r => [r.left, r.top, r.width, r.height])"
                   f"(document.querySelector('{canvas}').getBoundingClientRect())")
    left, top, width, height = box
    points = [(left + width * (0.1 + 0.08 * i), top + height * (0.3 + 0.05 * (i % 4)))
              for i in range(10)]
    tab.page.send("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=1)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (x, y) in zip(kinds, points, strict=True):
        tab.page.send("Input.dispatchTouchEvent", type=kind, touchPoints=[{"x": x, "y": y}])
    tab.page.send("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])
    tab.page.send("Emulation.setTouchEmulationEnabled", enabled=False)
    y = top + height * 0.75
    tab.page.send("Input.dispatchMouseEvent", type="mousePressed", x=left + 20, y=y,
                  button="left", clickCount=1)
    for step in range(1, 8):
        tab.page.send("Input.dispatchMouseEvent", type="mouseMoved", x=left + 20 + step * 30,
                      y=y - step * 3, button="left", buttons=1)
    tab.page.send("Input.dispatchMouseEvent", type="mouseReleased", x=left + 230, y=y - 21,
                  button="left", clickCount=1)


def _attach_photo(tab: Tab, selector: str, path: Path) -> None:
    """A photo picked in the file input (a JPEG of the page itself), made small by the
    page before it is sent."""
    shot = tab.page.send("Page.captureScreenshot", format="jpeg", quality=80)
    path.write_bytes(base64.b64decode(shot["data"]))
    root = tab.page.send("DOM.getDocument")["root"]["nodeId"]
    node = tab.page.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
    tab.page.send("DOM.setFileInputFiles", nodeId=node, files=[str(path)])
    hidden = selector.replace("#photo-file-", "#photo-")
    tab.wait(f"document.querySelector('{hidden}').value.startsWith('data:image/jpeg')")
    assert tab.eval(f"document.querySelector('{hidden}').value.length") <= 16000


def test_a_technician_books_quotes_and_completes_with_a_drawn_signature(api, browser, shots,
                                                                       tmp_path):
    _ensure_technician(api)
    order_id = _assigned_out_of_warranty_order(api)
    tech = _sign_in(browser, api.base, "tech2", "/console/tech", **PHONE)
    tech.submit(f"[data-order='{order_id}'] a.open-job")
    assert tech.eval("location.pathname") == f"/console/tech/jobs/{order_id}"
    phone = api.order(order_id)["customer"]["phone"]
    assert tech.eval("document.querySelector('a.call').getAttribute('href')") == f"tel:{phone}"

    _form(tech, "contact", {"note": "已电话联系"})
    assert api.order(order_id)["status"] == "contacted"
    tomorrow = (datetime.now(DISPLAY_TZ) + timedelta(days=1)).date().isoformat()
    _form(tech, "appointment", {"day": tomorrow, "start": "09:00", "end": "11:00"})
    booked = api.order(order_id)
    assert booked["status"] == "scheduled"
    assert booked["appointment"]["start"].startswith(f"{tomorrow}T09:00")
    _form(tech, "check-in", {})
    assert api.order(order_id)["status"] == "on_site"

    # A part the catalogue does not know: the API's refusal, on the same page.
    _form(tech, "parts", {"sku": "NO-SUCH-PART"})
    assert tech.eval("document.querySelector('[data-error]')?.dataset.error") == "parts"
    assert "NO-SUCH-PART" not in str(api.get(f"/api/v1/orders/{order_id}/parts").json())

    _form(tech, "quote", {"fault_code": "E1", "cause": "wear"})
    assert tech.eval("document.querySelector('[data-quote-status]')?.dataset.quoteStatus") \
        == "pending" or tech.eval("!!document.querySelector('.step-approve')")
    assert int(tech.eval("document.querySelector('[data-total]').dataset.total")) > 0
    _form(tech, "approve", {"approved_by": "王先生"})
    assert tech.eval("document.querySelector('[data-quote-status]').dataset.quoteStatus") \
        == "approved"

    # The completion starts from what the customer approved.
    assert tech.eval("document.querySelector('.step-complete [name=fault_code]').value") == "E1"
    assert tech.eval("document.querySelector('.step-complete [name=cause]').value") == "wear"
    done = {"diagnosis": "冷媒不足", "fault_code": "E1", "repair_done": "补充冷媒，试机正常",
            "cause": "wear"}
    for name, value in done.items():
        tech.fill(f".step-complete [name={name}]", value)
    # A value that is no PNG is refused, with the API's words, and nothing changes.
    tech.fill(".step-complete [name=signature_png]", "data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    tech.submit(".step-complete button[type=submit]")
    assert tech.eval("document.querySelector('[data-error]')?.dataset.error") == "complete"
    assert "PNG" in tech.text(".step-complete .signature .error")
    assert api.order(order_id)["status"] == "on_site"
    assert tech.eval("document.querySelector('[data-quote-status]').dataset.quoteStatus") \
        == "approved"  # the page as it was, the quote still on it

    quote_id = tech.eval("document.querySelector('[data-quote]').dataset.quote")
    tech.goto(f"{api.base}/console/tech/jobs/{order_id}?quote={quote_id}")  # afresh
    for name, value in done.items():
        tech.fill(f".step-complete [name={name}]", value)
    _attach_photo(tech, "#photo-file-old_part", tmp_path / "old-part.jpg")
    _draw(tech, ".signature canvas")
    assert tech.eval("document.querySelector('.signature canvas').dataset.signed") == "true"
    tech.screenshot(shots / "console-technician-job.png")
    tech.submit(".step-complete button[type=submit]")
    assert tech.eval("location.pathname") == "/console/tech", tech.text()
    completion = api.order(order_id)["completion"]
    image = base64.b64decode(completion["signature_png"])
    assert image.startswith(PNG_SIGNATURE) and completion["customer_signed"] is True
    assert [photo["kind"] for photo in completion["photos"]] == ["old_part"]
    assert base64.b64decode(completion["photos"][0]["image"]).startswith(b"\xff\xd8\xff")

    tech.goto(f"{api.base}/console/orders/{order_id}")
    assert tech.eval("document.querySelector('img.signature').naturalWidth") == 320
    assert tech.eval("document.querySelector('[data-photo=old_part] img').naturalWidth") > 0
    tech.submit("a.lang")  # the same page in English
    assert "Customer's signature" in tech.text() and "客户签名" not in tech.text()
    tech.submit("a.lang")
    tech.close()


def _booked_tomorrow(api) -> tuple[str, str]:
    """An order the technician has booked for tomorrow 09:00–11:00."""
    created = api.post("/api/v1/requests", request_body(
        product__serial_number=f"SN{uuid.uuid4().hex[:10]}"), "agent")
    order_id = created.json()["order_id"]
    api.wait_listed(order_id)
    assert api.post(f"/api/v1/orders/{order_id}/assign",
                    {"technician_id": TECH}).status_code == 200
    assert api.post(f"/api/v1/orders/{order_id}/contact", {}, "tech2").status_code == 200
    day = (datetime.now(DISPLAY_TZ) + timedelta(days=1)).date().isoformat()
    booked = api.post(f"/api/v1/orders/{order_id}/appointment", {
        "start": f"{day}T09:00:00+08:00", "end": f"{day}T11:00:00+08:00"}, "tech2")
    assert booked.status_code == 200, booked.text
    return order_id, day


def _drag(tab: Tab, source: str, target: str) -> None:
    """A drag and drop as the browser fires it (dragstart, dragover, drop), then the page
    the form's answer loads."""
    tab.eval("window.__stale = true")
    tab.eval(f"""(() => {{
      const data = new DataTransfer();
      const fire = (selector, kind) => document.querySelector(selector).dispatchEvent(
          new DragEvent(kind, {{bubbles: true, cancelable: true, dataTransfer: data}}));
      fire({json.dumps(source)}, "dragstart");
      fire({json.dumps(target)}, "dragover");
      fire({json.dumps(target)}, "drop");
    }})()""")
    tab.wait("!window.__stale")


def test_the_schedule_board_moves_a_visit_and_a_supervisor_approves_a_delay(
        api, browser, shots):
    _ensure_technician(api)
    order_id, day = _booked_tomorrow(api)
    board = _sign_in(browser, api.base, "dispatcher", "/console/dispatch/schedule")
    board.goto(f"{api.base}/console/dispatch/schedule?day={day}")
    row = f"tr[data-technician='{TECH}']"
    assert board.eval(f"!!document.querySelector(\"{row} td[data-hour='9'] "
                      f"[data-order='{order_id}']\")")
    assert board.eval(f"document.querySelector(\"{row} td[data-hour='10']\").className") \
        == "booked"
    board.screenshot(shots / "console-schedule.png")
    board.select(f"#hour-{order_id}", "14")
    board.submit(f"[data-order='{order_id}'] .move button")
    assert api.order(order_id)["appointment"]["start"].startswith(f"{day}T14:00")
    assert board.eval(f"!!document.querySelector(\"{row} td[data-hour='14'] "
                      f"[data-order='{order_id}']\")")
    _drag(board, f"[data-order='{order_id}']", f"{row} td[data-hour='16']")
    assert api.order(order_id)["appointment"]["start"].startswith(f"{day}T16:00")
    assert board.eval(f"!!document.querySelector(\"{row} td[data-hour='16'] "
                      f"[data-order='{order_id}']\")")

    board.goto(f"{api.base}/console/dispatch?zone=remote")  # an intensive-zone order
    assert not board.eval(f"!!document.querySelector(\"tr[data-order='{order_id}']\")")
    board.goto(f"{api.base}/console/orders/{order_id}")  # a dispatcher may not approve
    assert not board.eval("!!document.querySelector('form.approve-delay')")

    supervisor = _sign_in(browser, api.base, "supervisor", f"/console/orders/{order_id}")
    later = datetime.fromisoformat(api.order(order_id)["deadlines"]["resolution"]).astimezone(
        DISPLAY_TZ) + timedelta(days=2)
    supervisor.select("#delay-milestone", "resolution")
    supervisor.fill("#delay-deadline", later.strftime("%Y-%m-%dT%H:%M"))
    supervisor.fill("#delay-reason", "客户出差，约定下周上门")
    supervisor.eval("document.querySelector('#delay-informed').checked = true")
    supervisor.submit("form.approve-delay button")
    order = api.order(order_id)
    assert order["deadlines"]["resolution"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
    assert "delay_approved" in supervisor.eval(
        "[...document.querySelectorAll('[data-step]')].map(e => e.dataset.step)")
    for tab in (board, supervisor):
        tab.close()


def _completed_in_warranty(api) -> str:
    created = api.post("/api/v1/requests", request_body(
        product__serial_number=f"SN{uuid.uuid4().hex[:10]}"), "agent")
    order_id = created.json()["order_id"]
    api.wait_listed(order_id)
    for action, body in (("assign", {"technician_id": TECH}), ("contact", {}),
                         ("check-in", {}), ("complete", {"diagnosis": "冷媒不足",
                                                         "fault_code": "E1",
                                                         "repair_done": "补充冷媒"})):
        done = api.post(f"/api/v1/orders/{order_id}/{action}", body)
        assert done.status_code == 200, (action, done.text)
    return order_id


def _wait_task(api, task_id: str) -> None:
    for _ in range(100):
        if api.get(f"/api/v1/callbacks/tasks/{task_id}", "demo-callback-sh").status_code \
                == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"no callback task {task_id}")


def test_back_office_roles_work_their_lists(api, browser, shots):
    _ensure_technician(api)
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    opened = api.post("/api/v1/complaints", {
        "channel": "hotline", "category": "attitude", "description": "师傅态度不好",
        "customer": {"name": "孙女士", "phone": phone}}, "demo-complaints-sh")
    assert opened.status_code == 201, opened.text
    complaint_id = opened.json()["complaint_id"]
    handler = _sign_in(browser, api.base, "demo-complaints-sh", "/console/work/complaints")
    assert complaint_id in handler.text("[data-list=complaints]")
    assert phone not in handler.text("[data-list=complaints]")  # masked as the API lists it
    handler.screenshot(shots / "console-complaints.png")
    handler.goto(f"{api.base}/console/work/complaints/{complaint_id}")
    assert handler.eval("document.querySelectorAll('[data-milestone]').length") == 2
    handler.submit(".step-acknowledge button")
    assert api.get(f"/api/v1/complaints/{complaint_id}", "demo-complaints-sh").json()[
        "status"] == "acknowledged"
    assert "acknowledged" in handler.eval(
        "[...document.querySelectorAll('[data-step]')].map(e => e.dataset.step)")
    # The case through to its close, each step's form offered only where the state allows.
    assert handler.eval("[...document.querySelectorAll('form[class*=step-]')]"
                        ".map(f => f.className)") == ["card step-conclude"]
    assert handler.eval("document.querySelector('#c-findings').required")
    handler.fill("#c-findings", "师傅当日赶时间，语气生硬")
    handler.select("#c-responsibility", "technician")
    handler.submit(".step-conclude button")
    handler.select("#c-kind", "compensation")
    handler.fill("#c-amount", "50")
    handler.fill("#c-explanation", "致歉并补偿 50 元")
    handler.submit(".step-resolve button")
    handler.select("#c-satisfied", "true")
    handler.submit(".step-confirm button")
    closed = api.get(f"/api/v1/complaints/{complaint_id}", "demo-complaints-sh").json()
    assert closed["status"] == "closed", closed
    assert handler.eval("!!document.querySelector('.step-reopen')")

    task_id = f"CB-{_completed_in_warranty(api)}"
    _wait_task(api, task_id)
    caller = _sign_in(browser, api.base, "demo-callback-sh", "/console/work/callbacks")
    assert caller.eval("!!document.querySelector('[data-list=callbacks] table')")
    caller.goto(f"{api.base}/console/work/callbacks/{task_id}")
    caller.submit(".step-claim button")
    caller.select("#q-satisfaction", "4")
    caller.screenshot(shots / "console-callbacks.png")
    caller.submit(".step-call button")
    assert caller.eval("location.pathname") == "/console/work/callbacks", caller.text()
    task = api.get(f"/api/v1/callbacks/tasks/{task_id}", "demo-callback-sh").json()
    assert task["status"] == "done" and task["attempts"][-1]["reached"] is True

    keeper = _sign_in(browser, api.base, "demo-warehouse-sh", "/console/work/warehouse")
    for field, value in (("location", "SH-VAN-T02"), ("sku", "THERM-01"), ("accepted", "2")):
        keeper.fill(f"#receipt-{field}", value)
    keeper.submit(".action-receipt button")
    assert "THERM-01" in keeper.text("[data-list=stock]")
    assert "THERM-01" in keeper.text("[data-list=movements]")
    keeper.fill("#stock-sku", "THERM-01")  # the stock list filtered to one part
    keeper.submit("[data-list=stock] .list-filters button")
    skus = keeper.eval("[...document.querySelectorAll('[data-list=stock] tbody tr')]"
                       ".map(r => r.cells[1].innerText)")
    assert skus and set(skus) == {"THERM-01"}
    assert keeper.eval("document.querySelector('#stock-sku').value") == "THERM-01"
    keeper.close()
    tech = _sign_in(browser, api.base, "tech2", "/console/tech", **PHONE)  # SH-VAN-T02's
    assert tech.eval("!!document.querySelector('[data-list=van] tr[data-sku=THERM-01]')")
    tech.close()

    for token, screen, lists in (
            ("demo-warehouse-sh", "warehouse", ["stock", "movements"]),
            ("demo-finance-sh", "finance", ["bills", "anomalies", "held", "statements"]),
            ("demo-hq-auditor-sh", "audit", ["anomalies", "complaints", "callbacks"])):
        tab = _sign_in(browser, api.base, token, f"/console/work/{screen}")
        assert tab.eval("[...document.querySelectorAll('[data-list]')]"
                        ".map(e => e.dataset.list)") == lists
        assert not tab.eval("!!document.querySelector('.work-list .error')")
        tab.screenshot(shots / f"console-{screen}.png")
        tab.close()
    for tab in (handler, caller):
        tab.close()
