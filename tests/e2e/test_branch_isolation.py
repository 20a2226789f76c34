"""Branch isolation end to end: every operation of the OpenAPI document, given another
branch's ids wherever it names an object, is refused and writes nothing anywhere.

One deployment serves SH and SZ. The direct paths refuse another branch's objects, but
ids also travel in bodies, queries and the events they cause. Here an SH caller names SZ
objects (orders, technicians, locations, bills, refunds, quotes, callback tasks,
complaints, transfers, stock requests, statements, schedules, service centres) in every
place an operation takes one. Each attack must be refused (404, or the documented
403/409/422; never 2xx, never 500) and every document of every service database must be
unchanged once the events it could cause have had time to flow; SZ's counts of orders,
bills, refunds, complaints and callback tasks must not move either.

A few fields are look-ups rather than references (a unit's serial number, a client's
complaint reference, a parts request's id): the call may succeed there, but no SZ
document may change and nothing written may name an SZ object.

``TABLE`` maps each operation to its attacks, or to why it names no other object; the
guard test holds it to the OpenAPI document, so a new operation, path parameter, query
parameter or body field that looks like an id fails until it is classified here.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.service import openapi_document
from services.common.mongo import connect
from tests.conftest import fresh_vhost
from tests.e2e.conftest import request_body, running_system
from tests.e2e.conftest import retire_everything as retire_suite_leftovers

# The world is built inside the first test that uses it: far more than one test's time.
pytestmark = pytest.mark.timeout(2400)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Branch:
    code: str
    region: str
    lat: float
    lon: float
    warehouse: str

    def token(self, role: str) -> str:
        """The demo token of a role here (deploy/config/tokens.yaml)."""
        return f"demo-{'hq-auditor' if role == 'auditor' else role}-{self.code.lower()}"


SH = Branch("SH", "310101", 31.2317, 121.4846, "SH-WH")
SZ = Branch("SZ", "440304", 22.5400, 114.0500, "SZ-WH")

# ---------------------------------------------------------------------------------------
# The attacks
# ---------------------------------------------------------------------------------------

# Values are filled from the world built below: "{sz_...}" names an SZ object (what makes
# a field an attacked one), "{sh_...}" the caller's own, "{in_1h}" etc. a time from now,
# "{new_phone}" / "{new_id}" a fresh value.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
FOREIGN = "{sz_"


@dataclass
class Attack:
    token: str
    path: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    query: dict | None = None
    refused: tuple[int, ...] = (404,)
    # A look-up, not a reference: the call may succeed, but SZ stays untouched and
    # nothing written names SZ.
    accepts: bool = False
    label: str = ""  # tells apart attacks on the same fields


ORDER_REFUSED = (404,)
BODY_REFUSED = (404, 422)
EXISTING_ID = (404, 409, 422)  # an id already taken: 409 is the documented refusal
LIST_ANSWERS = (200, 404, 422)  # a filter naming SZ: SZ's objects are simply not there
HQ_ONLY = (403,)  # this gateway serves SH and SZ: every branch token is refused

DISPATCHER, SUPERVISOR = SH.token("dispatcher"), SH.token("supervisor")
AGENT, WAREHOUSE, FINANCE = SH.token("agent"), SH.token("warehouse"), SH.token("finance")
CALLBACK, HANDLER, AUDITOR = SH.token("callback"), SH.token("complaints"), SH.token("auditor")

ANSWERS = {"reached": True, "fixed": True, "on_time": True, "attitude": 5,
           "satisfaction": 5, "paid": "0.00"}
COMPLETION = {"diagnosis": "冷媒不足", "fault_code": "E1", "repair_done": "补充冷媒"}
# Inactive: one let through must not start taking offers under the later snapshots.
NEW_TECHNICIAN = {"technician_id": "{new_id}", "name": "测试技师", "certificates": ["gas"],
                  "zones": ["standard"], "lat": 31.23, "lon": 121.47, "shift": "always",
                  "cap": 2, "active": False}
NEW_COMPLAINT = {"channel": "hotline", "category": "attitude", "description": "态度不好",
                 "customer": {"name": "吴先生", "phone": "{new_phone}"}}
NEW_SCHEDULE = {"schedule_id": "{new_id}", "kind": "maintenance_visit",
                "first_run_at": "{in_60d}", "product": {"category": "air_conditioner"},
                "customer": {"name": "林女士", "phone": "{new_phone}",
                             "address": "黄浦区南京东路1号"}}


def _requests(token: str, refused_region: tuple[int, ...], refused_call: tuple[int, ...],
              accepts_serial: bool) -> list[Attack]:
    """A request for an SZ region, one reusing an SZ call's id, and one for a unit SZ
    repaired (a repeat repair must not link the new order to SZ's)."""
    serial = Attack(token, body=request_body(product__serial_number="{sz_serial}",
                                             product__category="gas_water_heater"),
                    refused=refused_call, accepts=accepts_serial)
    return [Attack(token, body=request_body(customer__region_code="{sz_region}"),
                   refused=refused_region),
            Attack(token, body=request_body(call_id="{sz_call_id}"), refused=refused_call),
            serial]


def _order_step(step: str, target: str, body: dict, token: str = DISPATCHER) -> tuple:
    return ("POST", f"/api/v1/orders/{{order_id}}/{step}",
            [Attack(token, {"order_id": f"{{{target}}}"}, body, refused=ORDER_REFUSED)])


# An order is offered for a few seconds only, so accept and reject go to the accepted
# order: the branch's 404 comes before any check of the order's state.
ORDER_STEPS = [
    _order_step("accept", "sz_accepted", {}),
    _order_step("reject", "sz_accepted", {"reason": "忙"}),
    _order_step("contact", "sz_accepted", {}),
    _order_step("appointment", "sz_contacted", {"start": "{in_1h}", "end": "{in_2h}"}),
    _order_step("check-in", "sz_contacted", {}),
    _order_step("leave", "sz_on_site", {"outcome": "customer_absent"}),
    _order_step("complete", "sz_on_site", COMPLETION),
    ("POST", "/api/v1/orders/{order_id}/assign", [
        Attack(DISPATCHER, {"order_id": "{sz_accepted}"}, {"technician_id": "{sz_tech2}"}),
        Attack(DISPATCHER, {"order_id": "{sh_accepted}"}, {"technician_id": "{sz_tech}"},
               refused=BODY_REFUSED)]),
    _order_step("cancel", "sz_accepted", {"reason": "客户取消"}),
    _order_step("wait-parts", "sz_on_site", {"parts": [{"sku": "AC-COMP-01", "quantity": 1}],
                                             "customer_informed": True}),
    _order_step("resume", "sz_waiting", {}),
    _order_step("pause", "sz_accepted", {"reason": "customer_away", "customer_informed": True}),
    _order_step("unpause", "sz_accepted", {}),
    _order_step("approve-delay", "sz_accepted", {
        "milestone": "resolution", "new_deadline": "{in_3d}", "reason": "等待厂家",
        "customer_informed": True}, SUPERVISOR),
]

STOCK_ATTACKS = [
    ("POST", "/api/v1/stock/receipts", [
        Attack(WAREHOUSE, body={"location": "{sz_warehouse}", "sku": "RC-01", "accepted": 1},
               refused=BODY_REFUSED),
        Attack(WAREHOUSE, body={"location": "SH-WH", "sku": "RC-01", "accepted": 1,
                                "purchase_id": "{sz_purchase}"}, refused=BODY_REFUSED)]),
    ("POST", "/api/v1/stock/reservations", [
        Attack(WAREHOUSE, body={"location": "{sz_warehouse}", "sku": "GWH-IGN-01",
                                "quantity": 1, "order_id": "{sh_on_site}"},
               refused=BODY_REFUSED),
        Attack(WAREHOUSE, body={"location": "SH-WH", "sku": "RC-01", "quantity": 1,
                                "order_id": "{sz_on_site}"}, refused=BODY_REFUSED)]),
    # SZ's on-site order holds one GWH-IGN-01 at SZ-WH: released from there, it is valid
    # for SZ's own keeper.
    ("POST", "/api/v1/stock/releases", [
        Attack(WAREHOUSE, body={"location": "{sz_warehouse}", "sku": "GWH-IGN-01",
                                "quantity": 1, "order_id": "{sz_on_site}"},
               refused=BODY_REFUSED),
        Attack(WAREHOUSE, body={"location": "SH-WH", "sku": "RC-01", "quantity": 1,
                                "order_id": "{sz_on_site}"}, refused=BODY_REFUSED)]),
    ("POST", "/api/v1/stock/counts", [
        Attack(WAREHOUSE, body={"location": "{sz_warehouse}", "sku": "RC-01", "counted": 3},
               refused=BODY_REFUSED)]),
    ("POST", "/api/v1/transfers", [
        Attack(WAREHOUSE, body={"from_location": "{sz_warehouse}", "to_location": "SH-WH",
                                "sku": "GWH-IGN-01", "quantity": 1}, refused=BODY_REFUSED),
        Attack(WAREHOUSE, body={"from_location": "SH-WH", "to_location": "{sz_warehouse}",
                                "sku": "RC-01", "quantity": 1}, refused=BODY_REFUSED)]),
    ("POST", "/api/v1/transfers/{transfer_id}/send", [
        Attack(WAREHOUSE, {"transfer_id": "{sz_transfer}"})]),
    ("POST", "/api/v1/transfers/{transfer_id}/receive", [
        Attack(WAREHOUSE, {"transfer_id": "{sz_transfer}"})]),
    ("POST", "/api/v1/purchases", [
        Attack(WAREHOUSE, body={"location": "{sz_warehouse}", "sku": "RC-01", "quantity": 1,
                                "expected_at": "{in_30d}"}, refused=BODY_REFUSED)]),
    ("POST", "/api/v1/stock-requests", [
        Attack(WAREHOUSE, body={"kind": "requisition", "location": "{sz_warehouse}",
                                "sku": "GWH-IGN-01", "quantity": 1, "reason": "维修领用"},
               refused=BODY_REFUSED),
        Attack(WAREHOUSE, body={"kind": "requisition", "location": "SH-WH", "sku": "RC-01",
                                "quantity": 1, "reason": "维修领用",
                                "order_id": "{sz_on_site}"}, refused=BODY_REFUSED)]),
    ("POST", "/api/v1/stock-requests/{request_id}/approve", [
        Attack(SUPERVISOR, {"request_id": "{sz_stock_request}"}, {"note": "同意"})]),
    ("POST", "/api/v1/stock-requests/{request_id}/reject", [
        Attack(SUPERVISOR, {"request_id": "{sz_stock_request}"}, {"note": "不同意"})]),
    ("POST", "/api/v1/writeoffs/{order_id}/returns", [
        Attack(WAREHOUSE, {"order_id": "{sz_writeoff_order}"},
               {"sku": "GWH-IGN-01", "quantity": 1}),
        Attack(WAREHOUSE, {"order_id": "{sh_writeoff_order}"},
               {"sku": "GWH-IGN-01", "quantity": 1, "location": "{sz_warehouse}"},
               refused=BODY_REFUSED)]),
    # The request id keys the job's lines and the transfers and backorders made for them:
    # SZ's request, backordered, and SH's for the same part must stay apart.
    ("POST", "/api/v1/orders/{order_id}/parts-request", [
        Attack(DISPATCHER, {"order_id": "{sz_on_site}"},
               {"parts": [{"sku": "AC-COMP-01", "quantity": 1}]}),
        Attack(DISPATCHER, {"order_id": "{sh_on_site}"},
               {"parts": [{"sku": "RH-MOT-01", "quantity": 1}],
                "request_id": "{sz_parts_request}"}, accepts=True)]),
]

BILLING_ATTACKS = [
    ("POST", "/api/v1/quotes", [
        Attack(DISPATCHER, body={"order_id": "{sz_on_site}", "fault_code": "E1",
                                 "cause": "customer_damage"}, refused=BODY_REFUSED)]),
    ("GET", "/api/v1/quotes/{quote_id}", [Attack(DISPATCHER, {"quote_id": "{sz_quote}"})]),
    ("POST", "/api/v1/quotes/{quote_id}/approve", [
        Attack(DISPATCHER, {"quote_id": "{sz_quote}"},
               {"approved_by": "王先生", "method": "signature"})]),
    ("GET", "/api/v1/bills/{bill_id}", [Attack(FINANCE, {"bill_id": "{sz_bill_open}"})]),
    ("POST", "/api/v1/bills/{bill_id}/payments", [
        Attack(FINANCE, {"bill_id": "{sz_bill_open}"},
               {"method": "cash", "amount_fen": "{sz_bill_open_total}"})]),
    ("POST", "/api/v1/bills/{bill_id}/refunds", [
        Attack(FINANCE, {"bill_id": "{sz_bill_paid}"}, {"amount_fen": 100,
                                                       "reason": "多收上门费"})]),
    ("POST", "/api/v1/bills/{bill_id}/refunds/{refund_id}/approve", [
        Attack(SUPERVISOR, {"bill_id": "{sz_bill_paid}", "refund_id": "{sz_refund}"},
               {"note": "同意"})]),
    ("POST", "/api/v1/bills/{bill_id}/refunds/{refund_id}/reject", [
        Attack(SUPERVISOR, {"bill_id": "{sz_bill_paid}", "refund_id": "{sz_refund}"},
               {"note": "不同意"})]),
    ("POST", "/api/v1/settlement/statements/{statement_id}/pay", [
        Attack(FINANCE, {"statement_id": "{sz_statement}"})]),
    ("POST", "/api/v1/settlement/earnings/{order_id}/review", [
        Attack(FINANCE, {"order_id": "{sz_completed}"},
               {"action": "release", "reason": "复核通过 / verified on review"})]),
]

CALLBACK_ATTACKS = [
    ("GET", "/api/v1/callbacks/tasks/{task_id}", [Attack(CALLBACK, {"task_id": "{sz_task}"})]),
    *[("POST", f"/api/v1/callbacks/tasks/{{task_id}}/{action}",
       [Attack(CALLBACK, {"task_id": "{sz_task}"}, body)])
      for action, body in (("claim", None), ("release", None), ("call", ANSWERS),
                           ("reschedule", {"at": "{in_1d}", "reason": "客户要求改时间"}))],
    ("POST", "/api/v1/callbacks/audits/{task_id}", [
        Attack(AUDITOR, {"task_id": "{sz_audit_task}"}, ANSWERS)]),
    ("POST", "/api/v1/callbacks/schedules", [
        Attack(CALLBACK, body={**NEW_SCHEDULE, "schedule_id": "{sz_schedule}"},
               refused=EXISTING_ID),
        Attack(CALLBACK, body={**NEW_SCHEDULE, "customer": {
            **NEW_SCHEDULE["customer"], "region_code": "{sz_region}"}},
               refused=BODY_REFUSED)]),
]

COMPLAINT_ATTACKS = [
    ("POST", "/api/v1/complaints", [
        Attack(HANDLER, body={**NEW_COMPLAINT, "order_ids": ["{sz_completed}"]},
               refused=BODY_REFUSED),
        Attack(HANDLER, body={**NEW_COMPLAINT, "technician_id": "{sz_tech}"},
               refused=BODY_REFUSED),
        Attack(HANDLER, body={**NEW_COMPLAINT, "service_centre_id": "{sz_centre}"},
               refused=BODY_REFUSED),
        Attack(HANDLER, body={**NEW_COMPLAINT, "serial_number": "{sz_serial}"},
               accepts=True),
        Attack(HANDLER, body={**NEW_COMPLAINT, "reference": "{sz_complaint_reference}"},
               accepts=True)]),
    ("GET", "/api/v1/complaints/{complaint_id}", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_open}"})]),
    ("POST", "/api/v1/complaints/{complaint_id}/acknowledge", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_open}"}, {"note": "已回电"})]),
    ("POST", "/api/v1/complaints/{complaint_id}/conclude", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_acknowledged}"},
               {"findings": "服务态度差", "responsibility": "branch"}),
        Attack(HANDLER, {"complaint_id": "{sh_complaint_acknowledged_1}"},
               {"findings": "技师态度差", "responsibility": "technician",
                "party_id": "{sz_tech}"}, refused=BODY_REFUSED, label="technician"),
        Attack(HANDLER, {"complaint_id": "{sh_complaint_acknowledged_2}"},
               {"findings": "网点多收费", "responsibility": "service_centre",
                "party_id": "{sz_centre}"}, refused=BODY_REFUSED, label="service_centre")]),
    # Each remedy on an SH complaint of its own, so one let through cannot hide the next.
    ("POST", "/api/v1/complaints/{complaint_id}/resolve", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_investigated}"},
               {"kind": "explanation", "explanation": "已道歉"}),
        Attack(HANDLER, {"complaint_id": "{sh_complaint_investigated_1}"},
               {"kind": "reservice", "order_id": "{sz_completed}"}, refused=BODY_REFUSED,
               label="reservice"),
        Attack(HANDLER, {"complaint_id": "{sh_complaint_investigated_2}"},
               {"kind": "exchange", "order_id": "{sz_completed}"}, refused=BODY_REFUSED,
               label="exchange"),
        Attack(HANDLER, {"complaint_id": "{sh_complaint_investigated_3}"},
               {"kind": "refund", "amount": "10.00", "order_id": "{sz_completed}"},
               refused=BODY_REFUSED, label="refund")]),
    ("POST", "/api/v1/complaints/{complaint_id}/confirm", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_resolved}"}, {"satisfied": True})]),
    ("POST", "/api/v1/complaints/{complaint_id}/reopen", [
        Attack(HANDLER, {"complaint_id": "{sz_complaint_resolved}"}, {"reason": "客户不满意"})]),
]

LIST_FILTERS = [
    ("GET", "/api/v1/orders", DISPATCHER, {"technician_id": "{sz_tech}"}),
    ("GET", "/api/v1/stock", WAREHOUSE, ({"location": "{sz_warehouse}"},
                                         {"technician_id": "{sz_tech}"})),
    ("GET", "/api/v1/bills", FINANCE, {"order_id": "{sz_bill_open_order}"}),
    ("GET", "/api/v1/charge-anomalies", FINANCE, {"order_id": "{sz_bill_open_order}"}),
    ("GET", "/api/v1/settlement/earnings", FINANCE, {"service_centre_id": "{sz_centre}"}),
    ("GET", "/api/v1/callbacks/tasks", CALLBACK, {"order_id": "{sz_bill_open_order}"}),
    ("GET", "/api/v1/complaints", HANDLER, {"order_id": "{sz_completed}"}),
]

TABLE: list[tuple[str, str, list[Attack] | str]] = [
    # -- requests, orders, technicians ------------------------------------------------
    ("POST", "/api/v1/requests", _requests(AGENT, (422,), EXISTING_ID, True)),
    ("GET", "/api/v1/orders/{order_id}", [Attack(DISPATCHER, {"order_id": "{sz_accepted}"})]),
    ("GET", "/api/v1/orders/{order_id}/timeline", [
        Attack(DISPATCHER, {"order_id": "{sz_accepted}"})]),
    *ORDER_STEPS,
    ("GET", "/api/v1/technicians", "the caller's branch's technicians; names none"),
    # -- the customer file ----------------------------------------------------------------
    ("GET", "/api/v1/customers", [
        Attack(AGENT, query={"phone": "{sz_customer_phone}"}, refused=LIST_ANSWERS)]),
    ("GET", "/api/v1/customers/{customer_id}", [
        Attack(AGENT, {"customer_id": "{sz_customer}"})]),
    ("POST", "/api/v1/customers/{customer_id}/phones", [
        Attack(AGENT, {"customer_id": "{sz_customer}"}, {"phone": "{new_phone}"})]),
    ("POST", "/api/v1/customers/{customer_id}/merge", [
        Attack(AGENT, {"customer_id": "{sz_customer}"}, {"customer_id": "{sh_customer}"}),
        Attack(AGENT, {"customer_id": "{sh_customer}"}, {"customer_id": "{sz_customer}"},
               refused=BODY_REFUSED)]),
    ("POST", "/api/v1/technicians", [
        Attack(DISPATCHER, body={**NEW_TECHNICIAN, "technician_id": "{sz_tech}"},
               refused=EXISTING_ID),
        Attack(DISPATCHER, body={**NEW_TECHNICIAN, "service_centre_id": "{sz_centre}"},
               refused=BODY_REFUSED)]),
    ("GET", "/api/v1/technicians/{technician_id}", [
        Attack(DISPATCHER, {"technician_id": "{sz_tech}"})]),
    ("PATCH", "/api/v1/technicians/{technician_id}", [
        Attack(DISPATCHER, {"technician_id": "{sz_tech}"}, {"cap": 5}),
        Attack(DISPATCHER, {"technician_id": "{sh_tech}"}, {"service_centre_id": "{sz_centre}"},
               refused=BODY_REFUSED)]),
    # -- inventory --------------------------------------------------------------------
    ("GET", "/api/v1/parts", "the national parts catalogue; names none"),
    ("GET", "/api/v1/stock/movements", [
        Attack(WAREHOUSE, query={"location": "{sz_warehouse}"}, refused=LIST_ANSWERS),
        Attack(WAREHOUSE, query={"order_id": "{sz_writeoff_order}"}, refused=LIST_ANSWERS)]),
    ("GET", "/api/v1/stock/valuation", "the caller's branch's stock value; names none"),
    ("GET", "/api/v1/transfers", "filters by status only; names none"),
    ("GET", "/api/v1/stock-requests", "filters by status only; names none"),
    ("GET", "/api/v1/backorders", "filters by status only; names none"),
    ("GET", "/api/v1/writeoffs", "filters by status only; names none"),
    ("GET", "/api/v1/orders/{order_id}/parts", [
        Attack(WAREHOUSE, {"order_id": "{sz_waiting}"})]),
    *STOCK_ATTACKS,
    # -- billing ------------------------------------------------------------------------
    *BILLING_ATTACKS,
    ("POST", "/api/v1/settlement/runs", "a month of the caller's branch; names none"),
    ("GET", "/api/v1/settlement/statements", "the caller's branch's statements; names none"),
    ("GET", "/api/v1/fee-schedule", "the national fee schedule; names none"),
    # -- callbacks ----------------------------------------------------------------------
    *CALLBACK_ATTACKS,
    ("POST", "/api/v1/callbacks/next", "the earliest due task of the caller's branch"),
    ("GET", "/api/v1/callbacks/audits", "filters by audit state only; names none"),
    ("GET", "/api/v1/callbacks/report", "a month of the caller's branch; names none"),
    ("GET", "/api/v1/callbacks/schedules", "the caller's branch's schedules; names none"),
    # -- complaints ---------------------------------------------------------------------
    *COMPLAINT_ATTACKS,
    ("GET", "/api/v1/complaints/report", "a month of the caller's branch; names none"),
    # -- wallboard, HQ, health ------------------------------------------------------------
    ("GET", "/api/v1/board", "the caller's branch's figures; names none"),
    ("GET", "/board", "a static page; no token, names none"),
    ("POST", "/api/v1/hq/requests", _requests(AGENT, HQ_ONLY, HQ_ONLY, False)),
    ("GET", "/api/v1/hq/orders/{order_id}", [
        Attack(AGENT, {"order_id": "{sz_accepted}"}, refused=HQ_ONLY)]),
    ("GET", "/health", "liveness; names none"),
    ("GET", "/health/live", "liveness probe; names none"),
    ("GET", "/health/ready", "readiness probe; names none"),
    *[(method, path, [Attack(token, query=one, refused=LIST_ANSWERS)
                      for one in (query if isinstance(query, tuple) else (query,))])
      for method, path, token, query in LIST_FILTERS],
]

# Fields that look like ids but name nothing a branch owns (the guard's other half).
NOT_BRANCH_OBJECTS = {
    "sku": "the national parts catalogue, the same in every branch",
    "fault_code": "a national fault code of the fee schedule",
    "repair_code": "a national repair code of the fee schedule",
    "invoice_number": "the customer's purchase invoice, not one of our objects",
    "Receipt.receipt_id": "the keeper's retry key for its own receipt; the ledger keys it "
                          "by location, so it never reaches another branch's stock",
    "Payment.reference": "the payment slip or transfer number; never looked up",
    "CallbackSchedule.product.serial_number": "the customer's unit, only copied into the "
                                              "schedule's own tasks",
}
ID_LIKE = re.compile(r"(?:^|_)(?:id|ids|number|code|location|reference|sku)$")


def _attacks() -> list[tuple[str, str, Attack]]:
    return [(method, path, attack) for method, path, entry in TABLE
            if not isinstance(entry, str) for attack in entry]


def _leaves(value: Any, name: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted field, value) of every leaf; a list of objects adds ``[]`` to the name."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, f"{name}[]" if isinstance(item, dict) else name)
    else:
        yield name, value


def foreign_fields(attack: Attack) -> set[str]:
    """Where the attack puts an SZ id: ``path:x``, ``body:a.b`` and ``query:x``."""
    found = {f"path:{name}" for name, value in attack.path.items() if FOREIGN in value}
    for where, value in (("body", attack.body), ("query", attack.query)):
        found |= {f"{where}:{name}" for name, leaf in _leaves(value or {})
                  if isinstance(leaf, str) and FOREIGN in leaf}
    return found


def _attack_id(method: str, path: str, attack: Attack) -> str:
    label = f" {attack.label}" if attack.label else ""
    return f"{method} {path} [{','.join(sorted(foreign_fields(attack)))}]{label}"


ATTACKS = _attacks()
ATTACK_IDS = [_attack_id(*row) for row in ATTACKS]

# ---------------------------------------------------------------------------------------
# The guard: the table against the OpenAPI document
# ---------------------------------------------------------------------------------------


def _schema_leaves(schemas: dict, schema: dict, name: str = "") -> Iterator[str]:
    ref = schema.get("$ref") or next((s["$ref"] for s in schema.get("anyOf", [])
                                      if "$ref" in s), None)
    if ref:
        schema = schemas[ref.rsplit("/", 1)[-1]]
    if "properties" in schema:
        for key, inner in schema["properties"].items():
            yield from _schema_leaves(schemas, inner, f"{name}.{key}" if name else key)
    elif schema.get("type") == "array":
        items = schema.get("items", {})
        nested = "$ref" in items or "properties" in items
        yield from _schema_leaves(schemas, items, f"{name}[]" if nested else name)
    else:
        yield name


def _body_schema(operation: dict) -> str | None:
    ref = operation.get("requestBody", {}).get("content", {}).get(
        "application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _classified(schema: str | None, dotted: str) -> bool:
    leaf = dotted.rsplit(".", 1)[-1].replace("[]", "")
    return leaf in NOT_BRANCH_OBJECTS or f"{schema}.{dotted}" in NOT_BRANCH_OBJECTS


def _required(spec: dict, operation: dict) -> tuple[set[str], set[str]]:
    """(fields that must be attacked, every body field) of one operation."""
    schemas = spec["components"]["schemas"]
    required = {f"path:{p['name']}" for p in operation.get("parameters", [])
                if p.get("in") == "path"}
    required |= {f"query:{p['name']}" for p in operation.get("parameters", [])
                 if p.get("in") == "query" and ID_LIKE.search(p["name"])
                 and not _classified(None, p["name"])}
    schema = _body_schema(operation)
    body = set(_schema_leaves(schemas, {"$ref": f"#/{schema}"})) if schema else set()
    required |= {f"body:{name}" for name in body
                 if ID_LIKE.search(name.rsplit(".", 1)[-1].replace("[]", ""))
                 and not _classified(schema, name)}
    return required, {f"body:{name}" for name in body}


def _problems_of(spec: dict, method: str, path: str, entry: list[Attack] | str) -> list[str]:
    operation = spec["paths"][path][method.lower()]
    required, body = _required(spec, operation)
    name = f"{method} {path}"
    if isinstance(entry, str):
        return [f"{name} names objects ({sorted(required)}) but is listed as naming none"
                ] if required else []
    problems = []
    covered: set[str] = set()
    for attack in entry:
        fields = foreign_fields(attack)
        covered |= fields
        if not fields:
            problems.append(f"{name}: an attack that names no SZ object")
        unknown = {f for f in fields if f.startswith("body:") and f not in body}
        if unknown:
            problems.append(f"{name}: attacks fields the body does not have: {unknown}")
    if required - covered:
        problems.append(f"{name}: id fields never given an SZ id: "
                        f"{sorted(required - covered)}")
    return problems


def test_table_covers_every_operation_and_id_field():
    """A new operation, or a new field that looks like an id, fails here until it is
    attacked or classified in NOT_BRANCH_OBJECTS with a reason."""
    spec = openapi_document()
    documented = {(method.upper(), path) for path, operations in spec["paths"].items()
                  for method in operations}
    listed = [(method, path) for method, path, _ in TABLE]
    assert len(listed) == len(set(listed)), "an operation is listed twice"
    assert set(listed) == documented, (
        f"not in the table: {sorted(documented - set(listed))}; "
        f"not documented: {sorted(set(listed) - documented)}")
    problems = [problem for method, path, entry in TABLE
                for problem in _problems_of(spec, method, path, entry)]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------
# Every document of every service database
# ---------------------------------------------------------------------------------------

# Keys rewritten with no request at all, dropped from every snapshot ("*": in every
# collection). Snapshots of the built world taken 10 s apart over 70 s of quiet showed
# only the first entry change; the other two are rewritten for a moment only, so a
# snapshot lands on them by chance. test_a_quiet_system_changes_only_these keeps the
# list honest.
VOLATILE: dict[str, tuple[str, ...]] = {
    # reconcile_capacity: one dispatch replica leases the job every reconcile period
    "dispatch.jobs": ("due_at", "claimed_at", "figures"),
    # the outbox: events are pushed with the write that causes them and pulled by the
    # relay a moment later (or leased again by its timer after a crash)
    "*": ("outbox", "outbox_due"),
    # fill_backorders leases every open backorder every 10 s and, finding no stock,
    # clears the lease at once
    "inventory.backorders": ("lease_until",),
    # the arrival forecast marks an order when its forecast turns late or on time again
    # (every minute, one replica; an advisory mark outside the order's versioned writes)
    "dispatch.orders": ("forecast",),
}
QUIET_SECONDS = 12  # longer than the slowest timer that touches documents (10 s)
REFUSAL_SECONDS = 3.0  # events are relayed at once and handled within a second or two
SZ_NUMBER = re.compile(r"(?<![A-Z])SZ-\d{8}-\d{4,6}")
SZ_NAMES = {"SZ-WH", "SZ-SC-LG", "SZ-VAN-T01", "SC-SZ-01", "SC-SZ-02"}

Snapshot = dict[str, dict[str, dict]]  # "service.collection" -> repr(_id) -> document


def _without(doc: dict, keys: tuple[str, ...]) -> dict:
    doc = dict(doc)
    for dotted in keys:
        head, _, rest = dotted.partition(".")
        if rest and isinstance(doc.get(head), dict):
            doc[head] = _without(doc[head], (rest,))
        else:
            doc.pop(head, None)
    return doc


class Store:
    """Every document of every database of this deployment, read directly."""

    def __init__(self, uri: str, prefix: str) -> None:
        self.client = connect(uri)
        self.prefix = f"{prefix}_"

    def snapshot(self) -> Snapshot:
        shot: Snapshot = {}
        for name in self.client.list_database_names():
            if not name.startswith(self.prefix):
                continue
            database = self.client[name]
            for collection in database.list_collection_names():
                if collection.startswith("system."):
                    continue
                key = f"{name[len(self.prefix):]}.{collection}"
                drop = VOLATILE["*"] + VOLATILE.get(key, ())
                shot[key] = {repr(doc["_id"]): _without(doc, drop)
                             for doc in database[collection].find()}
        return shot

    def settle(self, seconds: float = 90, every: float = 2.0) -> Snapshot:
        """A snapshot once two in a row agree."""
        deadline = time.monotonic() + seconds
        last = current = self.snapshot()
        while time.monotonic() < deadline:
            time.sleep(every)
            current = self.snapshot()
            if current == last:
                return current
            last = current
        raise AssertionError(f"the system never settled: {describe(changes(last, current))}")


def _flat(value: Any, name: str = "") -> dict[str, Any]:
    """Every leaf by its full path, list items by index (a diff must see each one)."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        flat: dict[str, Any] = {}
        for key, inner in items:
            flat.update(_flat(inner, f"{name}.{key}" if name else str(key)))
        return flat
    return {name: value}


@dataclass
class Written:
    collection: str
    doc_id: str
    before: dict | None
    after: dict | None

    @property
    def doc(self) -> dict:
        return self.after if self.after is not None else self.before or {}

    def changed_values(self) -> dict[str, Any]:
        old, new = _flat(self.before or {}), _flat(self.after or {})
        return {key: new.get(key) for key in old.keys() | new.keys()
                if old.get(key) != new.get(key)}

    def __str__(self) -> str:
        what = ("added" if self.before is None else "removed" if self.after is None
                else "changed")
        fields = sorted(self.changed_values()) if what == "changed" else []
        shown = f" fields {fields[:12]}" if fields else ""
        return (f"{what} {self.collection} {self.doc_id} "
                f"(branch {self.doc.get('branch')}){shown}")


def changes(before: Snapshot, after: Snapshot) -> list[Written]:
    found = []
    for collection in sorted(before.keys() | after.keys()):
        old, new = before.get(collection, {}), after.get(collection, {})
        for doc_id in sorted(old.keys() | new.keys()):
            if old.get(doc_id) != new.get(doc_id):
                found.append(Written(collection, doc_id, old.get(doc_id), new.get(doc_id)))
    return found


def describe(written: list[Written]) -> str:
    return "; ".join(str(w) for w in written[:20]) + (" ..." if len(written) > 20 else "")


def sz_ids(shot: Snapshot) -> set[str]:
    """The ids of every SZ document, and SZ's stores and service centres."""
    ids = set(SZ_NAMES)
    for docs in shot.values():
        ids |= {doc["_id"] for doc in docs.values()
                if doc.get("branch") == "SZ" and isinstance(doc["_id"], str)}
    return ids


def names_sz(value: Any, ids: set[str]) -> list[str]:
    return sorted({leaf for _, leaf in _leaves(value) if isinstance(leaf, str)
                   and (leaf in ids or SZ_NUMBER.search(leaf))})


def sz_counts(api) -> dict[str, int]:
    """SZ's own view of what it holds, through its own tokens."""
    bills = api.get("/api/v1/bills", SZ.token("finance"), params={"page_size": 100}).json()
    assert bills["total"] <= 100, "more SZ bills than one page"

    def total(path: str, role: str) -> int:
        return api.get(path, SZ.token(role), params={"page_size": 1}).json()["total"]

    return {"orders": total("/api/v1/orders", "dispatcher"), "bills": bills["total"],
            "refunds": sum(len(bill.get("refunds") or {}) for bill in bills["items"]),
            "complaints": total("/api/v1/complaints", "complaints"),
            "callback tasks": total("/api/v1/callbacks/tasks", "callback")}


# ---------------------------------------------------------------------------------------
# Building the world: SZ objects of every kind, and the SH objects the attacks need
# ---------------------------------------------------------------------------------------


def _ok(response, *codes: int) -> dict:
    assert response.status_code in (codes or (200, 201)), \
        f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else {}


def _wait(probe: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never happened: {what}")


def _phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def _technician(api, branch: Branch, certificates: list[str], cap: int,
                centre: str | None = None) -> str:
    tech_id = f"{branch.code}-E2E-{uuid.uuid4().hex[:6].upper()}"
    body = {"technician_id": tech_id, "name": "隔离测试", "certificates": certificates,
            "zones": ["intensive", "standard", "remote"], "lat": branch.lat,
            "lon": branch.lon, "shift": "always", "cap": cap}
    if centre:
        body["service_centre_id"] = centre
    _ok(api.post("/api/v1/technicians", body, branch.token("dispatcher")), 201)
    return tech_id


def _step(api, branch: Branch, order_id: str, action: str, body: dict | None = None) -> dict:
    return _ok(api.post(f"/api/v1/orders/{order_id}/{action}", body or {},
                        branch.token("dispatcher")))


def _order(api, branch: Branch, tech: str, **overrides) -> str:
    """A new order, taken by ``tech`` (accepted when offered to it, else assigned)."""
    body = request_body(customer__region_code=branch.region, **overrides)
    order_id = _ok(api.post("/api/v1/requests", body, branch.token("agent")), 201)["order_id"]
    listed = api.wait_listed(order_id, token=branch.token("dispatcher"))
    offered = (listed.get("offer") or {}).get("technician_id")
    if listed["status"] == "offered" and offered == tech:
        _step(api, branch, order_id, "accept")
    else:
        _step(api, branch, order_id, "assign", {"technician_id": tech})
    return order_id


def _on_site(api, branch: Branch, tech: str, **overrides) -> str:
    order_id = _order(api, branch, tech, **overrides)
    _step(api, branch, order_id, "contact")
    _step(api, branch, order_id, "check-in")
    return order_id


def _receive(api, branch: Branch, sku: str, quantity: int) -> None:
    _ok(api.post("/api/v1/stock/receipts", {"location": branch.warehouse, "sku": sku,
                                            "accepted": quantity},
                 branch.token("warehouse")), 201)


def _reserved_parts(api, branch: Branch, order_id: str, sku: str, **extra) -> dict:
    parts = _ok(api.post(f"/api/v1/orders/{order_id}/parts-request",
                         {"parts": [{"sku": sku, "quantity": 1}], **extra},
                         branch.token("dispatcher")))
    return parts["lines"][0]


def _bill(api, branch: Branch, order_id: str) -> dict:
    def probe() -> dict | None:
        items = api.get("/api/v1/bills", branch.token("finance"),
                        params={"order_id": order_id}).json()["items"]
        return items[0] if items else None
    return _wait(probe, f"a bill for {order_id}")


def _task(api, branch: Branch, order_id: str) -> dict:
    def probe() -> dict | None:
        response = api.get(f"/api/v1/callbacks/tasks/CB-{order_id}", branch.token("callback"))
        return response.json() if response.status_code == 200 else None
    return _wait(probe, f"a callback task for {order_id}")


def _chargeable_completion(api, tech: str) -> tuple[str, dict, str]:
    """An out-of-warranty gas water heater, quoted, approved and completed: an open
    bill. Returns the order, its bill and the unit's serial number."""
    serial = f"SN{uuid.uuid4().hex[:10]}"
    order_id = _on_site(api, SZ, tech, product__category="gas_water_heater",
                        product__model="JSQ25", product__purchase_date="2020-01-01",
                        product__serial_number=serial, description="不点火 no ignition")
    dispatcher = SZ.token("dispatcher")
    quote = _ok(api.post("/api/v1/quotes", {"order_id": order_id, "fault_code": "E1",
                                            "cause": "wear", "repair_code": "IGN"},
                         dispatcher), 201)
    _ok(api.post(f"/api/v1/quotes/{quote['quote_id']}/approve",
                 {"approved_by": "王先生", "method": "signature"}, dispatcher))
    _step(api, SZ, order_id, "complete", {"diagnosis": "点火针老化", "fault_code": "E1",
                                          "repair_done": "调整点火针", "cause": "wear",
                                          "repair_code": "IGN"})
    bill = _bill(api, SZ, order_id)
    assert bill["status"] == "open" and bill["total_fen"] > 0, bill
    return order_id, bill, serial


def _sz_bills(api, tech: str) -> dict[str, Any]:
    """An open bill (its callback task left open) and a paid one with a refund asked."""
    open_order, open_bill, _ = _chargeable_completion(api, tech)
    paid_order, paid_bill, serial = _chargeable_completion(api, tech)
    finance = SZ.token("finance")
    _ok(api.post(f"/api/v1/bills/{paid_bill['bill_id']}/payments",
                 {"method": "cash", "amount_fen": paid_bill["total_fen"]}, finance))
    refunded = _ok(api.post(f"/api/v1/bills/{paid_bill['bill_id']}/refunds",
                            {"amount_fen": 500, "reason": "多收上门费"}, finance), 201)
    return {"sz_bill_open_order": open_order, "sz_bill_open": open_bill["bill_id"],
            "sz_bill_open_total": open_bill["total_fen"], "sz_completed": paid_order,
            "sz_bill_paid": paid_bill["bill_id"], "sz_refund": next(iter(refunded["refunds"])),
            "sz_serial": serial, "sz_task": _task(api, SZ, open_order)["task_id"]}


def _call(api, order_id: str) -> dict:
    task_id = _task(api, SZ, order_id)["task_id"]
    _ok(api.post(f"/api/v1/callbacks/tasks/{task_id}/claim", {}, SZ.token("callback")))
    return _ok(api.post(f"/api/v1/callbacks/tasks/{task_id}/call", ANSWERS,
                        SZ.token("callback")))


def _sz_audit_and_writeoff(api, tech: str) -> dict[str, Any]:
    """A warranty part consumed (an open write-off), then satisfied callbacks until HQ
    samples one for a re-call: every branch's n-th reached callback is drawn the same
    way, about one in ten, so a fresh deployment needs about a dozen."""
    writeoff = _on_site(api, SZ, tech, product__category="gas_water_heater",
                        product__purchase_date="2026-06-01", description="不点火")
    assert _reserved_parts(api, SZ, writeoff, "GWH-IGN-01")["state"] == "reserved"
    _step(api, SZ, writeoff, "complete", {
        "diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "更换点火针",
        "repair_code": "IGN", "parts_used": [{"sku": "GWH-IGN-01", "quantity": 1}]})
    order_id = writeoff
    for _ in range(40):
        task = _call(api, order_id)
        if (task.get("audit") or {}).get("state") == "pending":
            return {"sz_writeoff_order": writeoff, "sz_audit_task": task["task_id"]}
        order_id = _on_site(api, SZ, tech, product__purchase_date="2026-06-01")
        _step(api, SZ, order_id, "complete", COMPLETION)
    raise AssertionError("no SZ callback was sampled for an HQ re-call")


def _sz_statement(api) -> str:
    """The month's statement of SZ's service centre: the satisfied callbacks released
    its earnings."""
    finance = SZ.token("finance")
    _wait(lambda: api.get("/api/v1/settlement/earnings", finance,
                          params={"state": "released"}).json()["total"],
          "a released SZ earning")
    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    items = _ok(api.post("/api/v1/settlement/runs", {"month": month}, finance))["items"]
    issued = [s["statement_id"] for s in items
              if s["service_centre_id"] == "SC-SZ-01" and s["status"] == "issued"]
    assert issued, items
    return issued[0]


def _complaint(api, branch: Branch, steps: int, **extra) -> str:
    """A complaint moved ``steps`` steps along: acknowledged, investigated, resolved."""
    token = branch.token("complaints")
    body = {**NEW_COMPLAINT, "customer": {"name": "吴先生", "phone": _phone()}, **extra}
    complaint_id = _ok(api.post("/api/v1/complaints", body, token), 201)["complaint_id"]
    for action, payload in [("acknowledge", {"note": "已回电"}),
                            ("conclude", {"findings": "服务态度差", "responsibility": "branch"}),
                            ("resolve", {"kind": "explanation", "explanation": "已道歉"})
                            ][:steps]:
        _ok(api.post(f"/api/v1/complaints/{complaint_id}/{action}", payload, token))
    return complaint_id


def _customer(api, branch: Branch, order_id: str) -> dict[str, Any]:
    """The household of an order, in its branch's customer file."""
    phone = _ok(api.get(f"/api/v1/orders/{order_id}", branch.token("dispatcher")))[
        "customer"]["phone"]
    found = _ok(api.get("/api/v1/customers", branch.token("agent"), params={"phone": phone}))
    prefix = branch.code.lower()
    return {f"{prefix}_customer": found["items"][0]["customer_id"],
            f"{prefix}_customer_phone": phone}


def _sz_open_orders(api, tech: str) -> dict[str, Any]:
    """Orders held by SZ's technician in the states the order steps start from."""
    call_id = f"CALL-SZ-{uuid.uuid4().hex[:8]}"
    accepted = _order(api, SZ, tech, call_id=call_id)
    contacted = _order(api, SZ, tech)
    _step(api, SZ, contacted, "contact")
    on_site = _on_site(api, SZ, tech)  # in warranty: completing it needs no approval
    quote = _ok(api.post("/api/v1/quotes", {"order_id": on_site, "fault_code": "E1",
                                            "cause": "customer_damage"},
                         SZ.token("dispatcher")), 201)["quote_id"]
    _ok(api.post("/api/v1/stock/reservations", {"location": "SZ-WH", "sku": "GWH-IGN-01",
                                                "quantity": 1, "order_id": on_site},
                 SZ.token("warehouse")))
    waiting = _on_site(api, SZ, tech, product__category="range_hood", description="吸力变小")
    request_id = f"PR-SZ-{uuid.uuid4().hex[:8]}"
    line = _reserved_parts(api, SZ, waiting, "RH-MOT-01", request_id=request_id)
    assert line["state"] == "backordered", line  # no motor anywhere in SZ
    api.wait_order(waiting, lambda o: o["status"] == "waiting_parts",
                   token=SZ.token("dispatcher"))
    return {"sz_call_id": call_id, "sz_accepted": accepted, "sz_contacted": contacted,
            "sz_on_site": on_site, "sz_quote": quote, "sz_waiting": waiting,
            "sz_parts_request": request_id, **_customer(api, SZ, accepted)}


def _sz_stock(api) -> dict[str, Any]:
    keeper = SZ.token("warehouse")
    transfer = _ok(api.post("/api/v1/transfers", {
        "from_location": "SZ-WH", "to_location": "SZ-SC-LG", "sku": "GWH-IGN-01",
        "quantity": 1}, keeper), 201)
    assert transfer["status"] == "sent", transfer
    request = _ok(api.post("/api/v1/stock-requests", {
        "kind": "requisition", "location": "SZ-WH", "sku": "GWH-IGN-01", "quantity": 1,
        "reason": "维修领用"}, keeper), 201)
    purchase = _ok(api.post("/api/v1/purchases", {
        "location": "SZ-WH", "sku": "RC-01", "quantity": 2,
        "expected_at": (datetime.now(SHANGHAI) + timedelta(days=30)).isoformat()},
                            keeper), 201)
    return {"sz_transfer": transfer["id"], "sz_stock_request": request["id"],
            "sz_purchase": purchase["id"]}


def _sz_complaints_and_schedule(api) -> dict[str, Any]:
    reference = f"REF-SZ-{uuid.uuid4().hex[:8]}"
    schedule = f"SCH-SZ-{uuid.uuid4().hex[:8]}"
    _ok(api.post("/api/v1/callbacks/schedules", {
        **NEW_SCHEDULE, "schedule_id": schedule,
        "first_run_at": (datetime.now(SHANGHAI) + timedelta(days=60)).isoformat(),
        "customer": {"name": "林女士", "phone": _phone(), "address": "福田区深南大道1号"}},
                 SZ.token("callback")), 201)
    return {"sz_complaint_reference": reference, "sz_schedule": schedule,
            "sz_complaint_open": _complaint(api, SZ, 0, reference=reference),
            "sz_complaint_acknowledged": _complaint(api, SZ, 1),
            "sz_complaint_investigated": _complaint(api, SZ, 2),
            "sz_complaint_resolved": _complaint(api, SZ, 3)}


def _hold_still(api, branch: Branch, tech: str) -> None:
    """No free slot: an order a hole might create stays queued instead of being offered
    and lapsing every few seconds under the snapshots."""
    held = _ok(api.get(f"/api/v1/technicians/{tech}", branch.token("dispatcher")))
    _ok(api.call("PATCH", f"/api/v1/technicians/{tech}", branch.token("dispatcher"),
                 json={"cap": max(held["active_jobs"], 1)}))


def build_sz(api) -> dict[str, Any]:
    tech = _technician(api, SZ, ["gas", "refrigeration", "appliance"], cap=20,
                       centre="SC-SZ-01")
    # Qualified for none of the orders here: a second technician to assign to.
    ids = {"sz_tech": tech, "sz_tech2": _technician(api, SZ, ["ewh_install"], cap=1),
           "sz_warehouse": "SZ-WH", "sz_centre": "SC-SZ-01", "sz_region": SZ.region}
    _receive(api, SZ, "GWH-IGN-01", 10)
    ids.update(_sz_open_orders(api, tech))
    ids.update(_sz_bills(api, tech))
    ids.update(_sz_audit_and_writeoff(api, tech))
    ids["sz_statement"] = _sz_statement(api)
    ids.update(_sz_stock(api))
    ids.update(_sz_complaints_and_schedule(api))
    _hold_still(api, SZ, tech)
    return ids


def build_sh(api) -> dict[str, Any]:
    tech = _technician(api, SH, ["gas", "refrigeration", "appliance"], cap=10)
    _receive(api, SH, "GWH-IGN-01", 2)
    _receive(api, SH, "RC-01", 3)
    accepted = _order(api, SH, tech)
    on_site = _on_site(api, SH, tech, product__category="range_hood", description="吸力变小")
    writeoff = _on_site(api, SH, tech, product__category="gas_water_heater",
                        product__purchase_date="2026-06-01", description="不点火")
    assert _reserved_parts(api, SH, writeoff, "GWH-IGN-01")["state"] == "reserved"
    _step(api, SH, writeoff, "complete", {
        "diagnosis": "点火针积碳", "fault_code": "E1", "repair_done": "更换点火针",
        "repair_code": "IGN", "parts_used": [{"sku": "GWH-IGN-01", "quantity": 1}]})
    _wait(lambda: writeoff in {w["order_id"] for w in api.get(
        "/api/v1/writeoffs", SH.token("warehouse"),
        params={"status": "open", "page_size": 200}).json()["items"]}, "an SH write-off")
    # Inactive: orders a look-up creates stay queued rather than offered under the
    # snapshots; the attacks need it only as a name.
    _ok(api.call("PATCH", f"/api/v1/technicians/{tech}", SH.token("dispatcher"),
                 json={"active": False}))
    return {"sh_tech": tech, "sh_accepted": accepted, "sh_on_site": on_site,
            "sh_writeoff_order": writeoff, **_customer(api, SH, accepted),
            **{f"sh_complaint_acknowledged_{n}": _complaint(api, SH, 1) for n in (1, 2)},
            **{f"sh_complaint_investigated_{n}": _complaint(api, SH, 2) for n in (1, 2, 3)}}


def _times() -> dict[str, str]:
    now = datetime.now(SHANGHAI)
    spans = {"in_1h": timedelta(hours=1), "in_2h": timedelta(hours=2),
             "in_1d": timedelta(days=1), "in_3d": timedelta(days=3),
             "in_30d": timedelta(days=30), "in_60d": timedelta(days=60)}
    return {name: (now + span).isoformat() for name, span in spans.items()}


def retire_everything(api) -> None:
    """As the suite's ``api`` fixture does after each test."""
    retire_suite_leftovers(api, tuple(branch.token("dispatcher") for branch in (SH, SZ)))


# ---------------------------------------------------------------------------------------
# Running an attack
# ---------------------------------------------------------------------------------------


def _value(name: str, ids: dict[str, Any]) -> Any:
    if name == "new_phone":
        return _phone()
    if name == "new_id":
        return f"SH-E2E-{uuid.uuid4().hex[:8].upper()}"
    return ids[name]


def fill(value: Any, ids: dict[str, Any]) -> Any:
    """Placeholders replaced; one that is the whole string keeps the value's type."""
    if isinstance(value, dict):
        return {key: fill(inner, ids) for key, inner in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return _value(whole.group(1), ids)
        return _PLACEHOLDER.sub(lambda m: str(_value(m.group(1), ids)), value)
    return value


@dataclass
class World:
    api: Any
    store: Store
    ids: dict[str, Any]
    last: Snapshot
    previous: str = "the world's set-up"

    def send(self, method: str, template: str, attack: Attack):
        path = template.format(**fill(attack.path, self.ids))
        kwargs: dict[str, Any] = {"params": fill(attack.query, self.ids)}
        if method in ("POST", "PATCH"):
            kwargs["json"] = fill(attack.body, self.ids) if attack.body is not None else {}
        return self.api.call(method, path, attack.token, **kwargs)

    def after(self, method: str, attack: Attack) -> Snapshot:
        """Once the events the call could cause have flowed: a fixed wait for a refusal,
        until the documents stop changing for a call that may succeed."""
        if attack.accepts:
            time.sleep(REFUSAL_SECONDS)
            return self.store.settle(seconds=30, every=1.0)
        if method != "GET":
            time.sleep(REFUSAL_SECONDS)
        return self.store.snapshot()

    def attack(self, name: str, method: str, template: str, attack: Attack) -> list[str]:
        problems = []
        before = self.store.snapshot()
        late = changes(self.last, before)
        if late:
            problems.append(f"written after {self.previous} had been judged: "
                            f"{describe(late)}")
        counts = sz_counts(self.api)
        response = self.send(method, template, attack)
        print(f"\n{name}: {response.status_code} {response.text[:160]}")
        problems += self._answer(response, attack, sz_ids(before))
        after = self.after(method, attack)
        problems += judge(changes(before, after), attack, sz_ids(before))
        moved = {k: (v, counts[k]) for k, v in sz_counts(self.api).items() if v != counts[k]}
        if moved:
            problems.append(f"SZ counts moved (now, before): {moved}")
        self.last, self.previous = after, name
        return problems

    @staticmethod
    def _answer(response, attack: Attack, ids: set[str]) -> list[str]:
        problems = []
        status = response.status_code
        allowed = status < 500 if attack.accepts else status in attack.refused
        if not allowed:
            problems.append(f"answered {status} (expected {attack.refused}"
                            f"{' or a success' if attack.accepts else ''}): "
                            f"{response.text[:400]}")
        if 200 <= status < 300 and response.content:
            leaked = names_sz(response.json(), ids)
            if leaked:
                problems.append(f"the answer shows SZ objects: {leaked[:10]}")
        return problems


def judge(written: list[Written], attack: Attack, ids: set[str]) -> list[str]:
    """A refusal writes nothing at all; a look-up may write the caller's branch's own
    documents, none of SZ's and none naming SZ."""
    if not attack.accepts:
        return [f"written: {describe(written)}"] if written else []
    problems = []
    for change in written:
        if change.doc.get("branch") == "SZ" or names_sz(change.doc.get("_id"), ids):
            problems.append(f"SZ document written: {change}")
        elif named := names_sz(change.changed_values(), ids):
            problems.append(f"{change} now names SZ objects: {named[:10]}")
    return problems


@pytest.fixture(scope="module")
def system(mongo_uri, tmp_path_factory):
    """A system of this module's own (its own databases and virtual host): the world it
    builds (stock, completions, counters) is not left for the suite's other tests."""
    with fresh_vhost() as amqp_uri, running_system(amqp_uri, mongo_uri,
                                                   tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module")
def world(system, mongo_uri):
    api, supervisor, _ = system
    retire_everything(api)
    started = time.monotonic()
    ids = {**_times(), **build_sz(api), **build_sh(api)}
    store = Store(mongo_uri, supervisor.env["DB_PREFIX"])
    settled = store.settle()
    print(f"\nworld built in {time.monotonic() - started:.0f} s: {ids}")
    yield World(api, store, ids, settled)
    retire_everything(api)


def test_a_quiet_system_changes_only_these(world):
    """With no traffic, only the VOLATILE keys change: the snapshots compare what an
    attack did, not what a timer did."""
    first = world.store.snapshot()
    time.sleep(QUIET_SECONDS)
    second = world.store.snapshot()
    world.last, world.previous = second, "the quiet period"
    assert not changes(first, second), describe(changes(first, second))


@pytest.mark.parametrize(("method", "template", "attack"), ATTACKS, ids=ATTACK_IDS)
def test_other_branch_id_is_refused_and_nothing_is_written(world, method, template, attack):
    name = _attack_id(method, template, attack)
    problems = world.attack(name, method, template, attack)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_nothing_written_after_the_last_attack(world):
    """A late effect of the last attack has no next attack to show it."""
    time.sleep(REFUSAL_SECONDS)
    late = changes(world.last, world.store.snapshot())
    assert not late, f"written after {world.previous}: {describe(late)}"
