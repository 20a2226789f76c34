"""The operator CLI against a running system: import, orders, report, dlq."""

import json
import os
import time
import uuid
from dataclasses import dataclass

import pytest
from kombu import Connection, Queue

from schemas.feeds import FEED_QUEUE
from services.cli import main
from services.common.messaging import dead_letter_queue
from tests.e2e.conftest import request_body

HEADER = "name,phone,address,region_code,category,serial_number,request_type,description"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(system, monkeypatch, capsys):
    """``aftersales ...`` in this process, configured like the running system."""
    for key, value in system[1].env.items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def _row(phone: str, serial: str) -> str:
    return (f"孙先生,{phone},黄浦区延安东路5号,310101,gas_water_heater,{serial},repair,"
            "来信：热水器不点火")


def test_import_is_idempotent_and_reports_bad_rows(cli, api, tmp_path):  # api: clean-up
    tag = uuid.uuid4().hex[:6]
    batch = tmp_path / f"letters-{tag}.csv"
    rows = [_row("13911110001", f"L{tag}1"), _row("12345", f"L{tag}2"),
            _row("13911110003", f"L{tag}3")]
    batch.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")

    first = cli("import", str(batch))
    assert first.returncode == 1, first.stderr
    assert "2 created" in first.stdout and "1 failed" in first.stdout
    report = (tmp_path / f"letters-{tag}.errors.csv").read_text(encoding="utf-8")
    assert report.splitlines()[1].startswith("3,") and "phone" in report

    again = cli("import", str(batch), "--quiet")
    assert again.returncode == 1 and "0 created, 2 already imported" in again.stdout

    rows[1] = _row("13911110002", f"L{tag}2")  # the operator fixes the bad row
    batch.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    fixed = cli("import", str(batch))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "1 created, 2 already imported" in fixed.stdout
    assert not (tmp_path / f"letters-{tag}.errors.csv").exists()
    assert cli("import", str(tmp_path / "missing.csv")).returncode == 2


def _first_contacts_met(cli) -> int:
    report = cli("report", "--since", "2026-01-01", "--branch", "SH",
                  "--format", "json")
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert set(body) >= {"since", "until", "rows", "total"}
    return sum(row["met"] for row in body["rows"]
               if (row["zone"], row["milestone"]) == ("intensive", "first_contact"))


def test_orders_and_report(cli, api):
    api.technician(["refrigeration"], lat=31.2317, lon=121.4846)
    met_before = _first_contacts_met(cli)
    board_before = api.get("/api/v1/board", "demo-board-sh").json()["dispatch"]["today"]
    order_id = api.post("/api/v1/requests", request_body(), "agent").json()["order_id"]
    api.wait_order(order_id, lambda o: o["status"] == "offered")
    for action in ("accept", "contact"):  # first contact reached in time: met
        assert api.post(f"/api/v1/orders/{order_id}/{action}", {}).status_code == 200

    shown = cli("orders", "show", order_id)
    assert shown.returncode == 0, shown.stderr
    assert "timeline:" in shown.stdout and "contact" in shown.stdout
    listed = cli("orders", "list", "--branch", "SH", "--json", "--page-size", "100")
    items = {item["order_id"]: item for item in json.loads(listed.stdout)["items"]}
    assert "*" in items[order_id]["customer"]["phone"]  # masked
    assert cli("orders", "show", "SH-20000101-000001").returncode == 3

    assert _first_contacts_met(cli) == met_before + 1
    board_after = api.get("/api/v1/board", "demo-board-sh").json()["dispatch"]["today"]
    assert board_after["met"] == board_before["met"] + 1
    assert cli("report", "--format", "csv").stdout.startswith(
        "branch,zone,milestone,met,breached,on_time_share")
    assert cli("report", "--since", "yesterday").returncode == 2


def test_dead_letters_are_listed_and_replayed_once(cli, system, api):
    amqp_uri = system[1].env["AMQP_URI"]
    call_id = f"CTI-{uuid.uuid4().hex[:8]}"
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        replies = Queue(f"cli-replies-{call_id}", exclusive=True)(channel)
        replies.declare()
        # A message that failed earlier (say the services were misconfigured), now fixable.
        conn.Producer(channel).publish(
            json.dumps({**request_body(), "call_id": call_id}).encode(),
            exchange="aftersales.dlx", routing_key="intake", content_type="application/json",
            content_encoding="utf-8", declare=[dead_letter_queue("intake")],
            headers={"x-original-exchange": "", "x-original-routing-key": FEED_QUEUE,
                     "x-failure-reason": f"test {call_id}", "x-reply-to": replies.name})
        listed = cli("dlq", "list", "--service", "intake", "--json")
        assert listed.returncode == 0, listed.stderr
        mine = [m for m in json.loads(listed.stdout) if call_id in m["reason"]]
        assert len(mine) == 1 and mine[0]["queue"] == FEED_QUEUE
        shown = cli("dlq", "show", mine[0]["id"])
        assert json.loads(shown.stdout)["body"]["call_id"] == call_id

        replayed = cli("dlq", "replay", mine[0]["id"])
        assert replayed.returncode == 0, replayed.stderr
        deadline = time.monotonic() + 30
        while (answer := replies.get(no_ack=True)) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer is not None and answer.payload["ok"] and answer.payload["created"]
        assert cli("dlq", "replay", mine[0]["id"]).returncode == 3  # once only
