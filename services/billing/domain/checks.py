"""Abnormal charges (收费异常) and the approval rule, as pure functions over stored lines.

Lines are the dicts a Priced stores (item, code, quantity as text, unit_fen, amount_fen,
coverage). Each finding is (rule, detail); the rule names are the metric's labels.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.common.domain.coverage import CUSTOMER

RULES = ("charge_on_covered", "off_schedule", "parts_not_consumed", "consumed_not_billed",
         "no_approval", "duplicate_bill", "paid_differs")
Finding = tuple[str, dict[str, Any]]


def _charged(lines: list[dict]) -> dict[tuple[str, str], dict]:
    return {(x["item"], x["code"]): x for x in lines if x["coverage"] == CUSTOMER}


def _total(lines: list[dict]) -> int:
    return sum(x["amount_fen"] for x in lines if x["coverage"] == CUSTOMER)


def approval_gaps(lines: list[dict], quote_lines: list[dict] | None) -> list[str]:
    """Why charged work is not covered by the customer's approved quote (empty: it is).
    Every charged line must be on the quote in at least the billed quantity, and the total
    may not exceed what was approved: added work or a higher cost needs a new approval."""
    charged = _charged(lines)
    if not charged:
        return []
    if quote_lines is None:
        return ["chargeable work has no approved quote"]
    quoted = _charged(quote_lines)
    gaps = []
    for (item, code), line in charged.items():
        approved = quoted.get((item, code))
        if approved is None:
            gaps.append(f"{item} {code} is not on the approved quote")
        elif Decimal(line["quantity"]) > Decimal(approved["quantity"]):
            gaps.append(f"{item} {code}: {line['quantity']} needed, "
                        f"{approved['quantity']} approved")
    if not gaps and _total(lines) > _total(quote_lines):
        gaps.append(f"total {_total(lines)} fen exceeds the approved {_total(quote_lines)} fen")
    return gaps


def bill_findings(lines: list[dict], quote_lines: list[dict] | None) -> list[Finding]:
    """Rules checked when a bill is made from a completion."""
    findings: list[Finding] = []
    total = _total(lines)
    quoted_total = _total(quote_lines) if quote_lines is not None else 0
    if total == 0 and quoted_total > 0:
        findings.append(("charge_on_covered", {
            "reason": "the customer approved a charge for work the rules cover",
            "quoted_fen": quoted_total}))
    gaps = approval_gaps(lines, quote_lines)
    if gaps:
        findings.append(("no_approval", {"reason": "; ".join(gaps), "total_fen": total}))
    off = [{"item": item, "code": code, "billed_unit_fen": line["unit_fen"],
            "quoted_unit_fen": quoted["unit_fen"]}
           for (item, code), line in _charged(lines).items()
           if (quoted := _charged(quote_lines or []).get((item, code))) is not None
           and quoted["unit_fen"] != line["unit_fen"]]
    if off:
        findings.append(("off_schedule", {"reason": "quoted prices differ from the schedule "
                                                    "in force", "lines": off}))
    return findings


def parts_findings(lines: list[dict], consumed: dict[str, int]) -> list[Finding]:
    """Billed parts against what inventory consumed for the order."""
    billed: dict[str, int] = {}
    for line in lines:
        if line["item"] == "part":
            billed[line["code"]] = billed.get(line["code"], 0) + int(Decimal(line["quantity"]))
    findings: list[Finding] = []
    unconsumed = {sku: qty - consumed.get(sku, 0) for sku, qty in billed.items()
                  if qty > consumed.get(sku, 0)}
    if unconsumed:
        findings.append(("parts_not_consumed", {"parts": unconsumed}))
    if _total(lines) > 0:
        unbilled = {sku: qty - billed.get(sku, 0) for sku, qty in consumed.items()
                    if qty > billed.get(sku, 0)}
        if unbilled:
            findings.append(("consumed_not_billed", {"parts": unbilled}))
    return findings


def callback_findings(total_fen: int, paid_fen: int | None, paid_differs: bool
                      ) -> list[Finding]:
    """What the customer told the callback about paying, against the bill."""
    findings: list[Finding] = []
    if paid_differs or (paid_fen is not None and paid_fen != total_fen):
        findings.append(("paid_differs", {"paid_fen": paid_fen, "billed_fen": total_fen}))
    if total_fen == 0 and paid_fen:
        findings.append(("charge_on_covered", {
            "reason": "the customer reports paying for covered work", "paid_fen": paid_fen}))
    return findings


def releases_earning(fixed: bool | None, satisfaction: int | None) -> bool:
    """A service centre's earning is released once the callback verified the job."""
    return bool(fixed) and satisfaction is not None and satisfaction >= 4
