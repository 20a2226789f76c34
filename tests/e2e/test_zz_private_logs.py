"""Personal data never reaches the logs: after the other e2e tests and a few requests that
carry phone numbers and addresses in every field (free text included), no log line of
any process holds a full mobile number or a street address. Named to run last."""

import re

from tests.e2e.conftest import request_body
from tests.unit.masking_table import ADDRESSES as ADDRESS_TABLE
from tests.unit.masking_table import PHONES, surviving_runs

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ADDRESSES = ("南京东路100号", "世纪大道88号", "淮海中路999弄")
# One of each family of the masking table, written into the descriptions of the requests
# below: no extra request, and anything that ever logs a description is caught.
FORMATS = [PHONES[i][0] for i in (2, 14, 22, 35, 40)] + [ADDRESS_TABLE[i][0] for i in (16, 20)]


def test_logs_hold_no_full_phone_or_address(system):
    api, _, logs = system
    for phone, address in (("13912340001", "黄浦区南京东路100号3室"),
                           ("13812340002", "浦东新区世纪大道88号")):
        body = request_body(customer__phone=phone, customer__address=address,
                            description=f"请回电 {phone}，地址 淮海中路999弄 漏水。"
                                        + "；".join(FORMATS))
        assert api.post("/api/v1/requests", body, "agent").status_code == 201
        bad = request_body(customer__phone=phone, customer__address=address,
                           customer__region_code="999999")
        assert api.post("/api/v1/requests", bad, "agent").status_code == 422
    api.get("/api/v1/orders", "dispatcher")
    files = sorted(logs.glob("*.log"))
    assert files, "the processes wrote no logs"
    text = "\n".join(path.read_text(errors="replace") for path in files)
    assert "order created" in text  # the logs are there, and hold the orders' events
    assert MOBILE.findall(text) == []
    assert [a for a in ADDRESSES if a in text] == []
    assert [f for f in FORMATS if f in text or surviving_runs(f, text)] == []
