"""Pure parts of the operations features: compliance figures, HQ routing table, CSV rows,
report formatting, where a dead letter is replayed to."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.hq import parse_table
from services.cli import main
from services.common.config import ConfigError
from services.dispatch.domain import figures
from services.ops import dlq, importer
from services.ops.operator import CommandError, format_report, parse_moment

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _order(branch="SH", zone="intensive", **milestones) -> dict:
    return {"branch": branch, "zone": zone, "milestones": milestones,
            "deadlines": {m: T0 + timedelta(hours=2) for m in figures.MILESTONES}}


def test_compliance_counts_outcomes_inside_the_period_only():
    orders = [
        _order(first_contact={"at": T0 + timedelta(hours=1), "outcome": "met"},
               arrival={"outcome": "breached"}),  # breached at its deadline, T0 + 2 h
        _order(first_contact={"at": T0 + timedelta(days=3), "outcome": "met"}),  # later
        _order(branch="SZ", zone="remote", resolution={"at": None}),  # not counted yet
    ]
    rows = figures.compliance(orders, T0, T0 + timedelta(days=1))
    assert rows == [
        {"branch": "SH", "zone": "intensive", "milestone": "first_contact", "met": 1,
         "breached": 0, "on_time_share": 1.0},
        {"branch": "SH", "zone": "intensive", "milestone": "arrival", "met": 0,
         "breached": 1, "on_time_share": 0.0}]
    assert figures.totals(rows) == {"met": 1, "breached": 1, "on_time_share": 0.5}
    assert figures.totals([])["on_time_share"] is None  # '—' on the board, not 0 %


def test_overdue_by_milestone_sums_one_branch():
    status = {("SH", "intensive", "arrival", "repair", "normal"): (2, 1),
              ("SH", "remote", "arrival", "repair", "high"): (1, 0),
              ("SZ", "remote", "arrival", "repair", "high"): (5, 0)}
    assert figures.overdue_by_milestone(status, "SH") == {
        "first_contact": 0, "arrival": 3, "resolution": 0}


def test_hq_table_longest_prefix_and_bad_entries():
    table = parse_table({"branches": {"SH": {"amqp_uri": "amqp://h/sh"},
                                      "SZ": {"amqp_uri": "amqp://h/sz"}},
                         "regions": {"31": "SH", "3101": "SZ", "440304": "SZ"}})
    assert table.branch_for_region("310104") == "SZ"  # the longer prefix wins
    assert table.branch_for_region("312000") == "SH"
    assert table.branch_for_region("110101") is None
    assert table.branch_of_order("SZ-20261120-000001") == "SZ"
    assert table.branch_of_order("BJ-20261120-000001") is None
    with pytest.raises(ConfigError, match="region '31'"):
        parse_table({"branches": {"SH": {"amqp_uri": "amqp://h/sh"}},
                     "regions": {"31": "BJ"}})
    with pytest.raises(ConfigError, match="branch 'SH'"):
        parse_table({"branches": {"SH": {"amqp_uri": "http://h"}}, "regions": {"31": "SH"}})


def test_csv_row_becomes_a_request_with_a_call_id_from_its_content():
    row = {"name": " 周女士 ", "phone": "13800001111", "address": "南山区科技园1号",
           "region_code": "440305", "vip": "是", "category": "air_conditioner",
           "serial_number": "", "request_type": "repair", "description": "不制冷"}
    request = importer.row_to_request(row)
    assert request["customer"] == {"name": "周女士", "phone": "13800001111",
                                   "address": "南山区科技园1号", "region_code": "440305",
                                   "vip": True}
    assert request["product"] == {"category": "air_conditioner"}  # empty cells left out
    assert request["channel"] == "letter"
    assert request["call_id"] == importer.row_to_request(dict(row))["call_id"]  # any run
    assert request["call_id"] != importer.row_to_request(row, occurrence=2)["call_id"]
    corrected = importer.row_to_request({**row, "phone": "13800001112"})
    assert corrected["call_id"] != request["call_id"]
    assert importer.row_to_request({**row, "call_id": "FAX-9"})["call_id"] == "FAX-9"


HEADER = "name,phone,address,region_code,category,request_type,description"
ROW = "周女士,13800001111,南山区科技园1号,440305,air_conditioner,repair,不制冷"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_the_encodings_excel_writes_in_china_is_read(tmp_path, encoding):
    path = tmp_path / "letters.csv"
    path.write_bytes(f"{HEADER}\r\n{ROW}\r\n".encode(encoding))
    [(number, row)] = importer.read_rows(path)
    assert number == 2 and row["name"] == "周女士" and row["description"] == "不制冷"


def test_identical_rows_of_one_file_are_two_requests_and_a_rerun_is_a_no_op(tmp_path):
    path = tmp_path / "letters.csv"
    path.write_text(f"{HEADER}\n{ROW}\n{ROW}\n", encoding="utf-8")
    sent: list[str] = []

    def send(request: dict) -> dict:
        created = request["call_id"] not in sent
        sent.append(request["call_id"])
        return {"created": created}

    first = importer.import_rows(path, send, lambda done, total: None)
    again = importer.import_rows(path, send, lambda done, total: None)
    assert (first.created, again.created, again.existing) == (2, 0, 2)


def test_the_error_report_opens_in_excel(tmp_path):
    path = tmp_path / "letters.csv"
    report = importer.write_error_report(path, [{"row": 3, "call_id": "imp-1",
                                                 "error": "电话号码无效", "fields": {}}])
    assert report.read_bytes().startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM


def test_csv_without_required_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,phone\n甲,13800001111\n", encoding="utf-8")
    with pytest.raises(importer.ImportFileError, match="address"):
        importer.read_rows(path)


def test_report_formats_and_period_parsing():
    report = {"since": "a", "until": "b", "total": {"met": 3, "breached": 1,
                                                    "on_time_share": 0.75},
              "rows": [{"branch": "SH", "zone": "remote", "milestone": "arrival", "met": 3,
                        "breached": 1, "on_time_share": 0.75}]}
    assert format_report(report, "csv").splitlines() == [
        "branch,zone,milestone,met,breached,on_time_share", "SH,remote,arrival,3,1,0.75"]
    assert "75.0%" in format_report(report, "table")
    assert parse_moment("2026-11-20", "since").isoformat() == "2026-11-20T00:00:00+08:00"
    with pytest.raises(CommandError):
        parse_moment("last week", "since")


def test_dead_letters_go_back_to_the_queue_they_failed_on():
    assert dlq.origin_queue("intake", {"x-original-exchange": "",
                                       "x-original-routing-key": "intake.requests"}) \
        == "intake.requests"
    assert dlq.origin_queue("dispatch", {"x-original-exchange": "intake.events",
                                         "x-original-routing-key": "order_created"}) \
        == "evt-intake-order_created--dispatch.on_order_created"
    assert dlq.origin_queue("dispatch", {"x-death": [{"queue": "evt-x--y.z"}]}) == "evt-x--y.z"
    assert dlq.origin_queue("billing", {"x-original-exchange": "nowhere"}) is None


def test_the_cli_says_its_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == "aftersales 0.1.0"
