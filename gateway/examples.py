"""Request body examples for the OpenAPI document (a client's first call, and what API
explorers fill in), by component schema name, with the demo data's ids (deploy/config).
tests/unit/test_openapi_document.py checks each against its schema."""

from __future__ import annotations

CUSTOMER = {"name": "王先生", "phone": "13812345678", "address": "黄浦区南京东路1号",
            "region_code": "310101"}

EXAMPLES: dict[str, dict] = {
    # the README's first call: a gas smell makes it an emergency
    "ServiceRequest": {
        "customer": CUSTOMER,
        "product": {"category": "gas_water_heater", "serial_number": "GWH-0001",
                    "purchase_date": "2026-03-01"},
        "request_type": "repair", "description": "热水器有煤气味", "channel": "hotline"},
    "Step_accept": {},
    "Step_reject": {"reason": "不在服务区域 / outside my zones today"},
    "Step_contact": {},
    "Step_appointment": {"start": "2026-11-24T14:00:00+08:00",
                         "end": "2026-11-24T16:00:00+08:00"},
    "Step_check_in": {},
    "Step_leave": {"outcome": "customer_absent", "note": "客户不在家，已电话改约 / not home"},
    "Step_complete": {"diagnosis": "点火针积碳 / carbon on the igniter",
                      "fault_code": "E1", "repair_done": "清洁点火针 / igniter cleaned",
                      "customer_signed": True},
    "Step_assign": {"technician_id": "SH-T01"},
    "Step_cancel": {"reason": "客户取消 / cancelled by the customer"},
    "Step_resume": {},
    "Step_pause": {"reason": "customer_away", "customer_informed": True},
    "Step_unpause": {},
    "Step_approve_delay": {"milestone": "arrival", "new_deadline": "2026-11-25T18:00:00+08:00",
                           "reason": "道路封闭 / road closed", "customer_informed": True},
    "CustomerPhone": {"phone": "021-64871234"},  # the household's landline
    "CustomerMerge": {"customer_id": "CU-SH-20261123-000002"},  # the spouse's record
    "TechnicianCreate": {"technician_id": "SH-T101", "name": "李师傅",
                         "certificates": ["gas"], "zones": ["standard"], "lat": 31.23,
                         "lon": 121.47, "shift": "day", "cap": 6},
    "Receipt": {"location": "SH-WH", "sku": "GWH-IGN-01", "accepted": 20},
    "Reservation": {"location": "SH-WH", "sku": "GWH-IGN-01", "quantity": 1,
                    "order_id": "SH-20261123-000001"},
    "Count": {"location": "SH-WH", "sku": "GWH-IGN-01", "counted": 19},
    "Transfer": {"from_location": "SH-WH", "to_location": "SH-VAN-T01", "sku": "GWH-IGN-01",
                 "quantity": 2},
    "QuoteCreate": {"order_id": "SH-20261123-000001", "fault_code": "E1", "cause": "wear"},
    "QuoteApproval": {"approved_by": "王先生", "method": "signature"},
    "Payment": {"method": "mobile", "amount_fen": 12000},
    "Refund": {"amount_fen": 2000, "reason": "多收上门费 / call-out fee charged twice"},
    "SettlementRun": {"month": "2026-11"},
    "EarningReview": {"action": "reduce", "amount_fen": 3500,
                      "reason": "客户未接电话，工单照片显示只完成清洁 / only the cleaning is "
                                "shown on the job photos"},
    "CallbackAnswers": {"reached": True},
    "ComplaintCreate": {"channel": "hotline", "category": "timeliness",
                        "description": "约好下午两点，师傅没来 / the technician did not come",
                        "customer": {"name": "王先生", "phone": "13812345678"}},
}
