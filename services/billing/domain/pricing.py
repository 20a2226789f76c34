"""Pricing and coverage (三包): a job's lines from the schedule, and who pays each line.

Prices come only from the schedule and the catalogue; nothing a client sends is a price.
Coverage per line: ``customer`` (charged), ``warranty`` (free to the customer, claimed
from the manufacturer) or ``repeat`` (labour of a repeat visit for the same fault: free),
decided by the one rule of services.common.domain.coverage. A part the customer pays
costs what the version says (cost price from 2026.2); a covered part is claimed at its
list price.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal

from services.billing.domain.schedule import LIST, FeeSchedule, Version
from services.common.domain.coverage import CUSTOMER, WARRANTY, who_pays
from services.common.domain.money import times


class PricingError(ValueError):
    """The job names something the schedule or catalogue does not know; ``field`` says
    which input."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Job:
    category: str
    region_code: str
    warranty: str            # in_warranty | main_parts_only | out_of_warranty
    cause: str               # quality_failure | wear | customer_damage | unauthorised_repair
    repaired: bool           # False: inspection only (or cannot be fixed)
    repair_code: str | None
    parts: tuple[tuple[str, int], ...]  # (sku, quantity)
    distance_km: Decimal     # one way, recorded by the technician, shown on the quote
    repeat_same_fault: bool = False


@dataclass(frozen=True)
class Line:
    item: str                # visit | inspection | labour | part | remote
    code: str                # repair code, SKU, or the item name
    name: str
    quantity: str            # decimal text (km may be fractional)
    unit_fen: int
    amount_fen: int
    coverage: str
    main_part: bool = False
    basis: str = ""          # a part's price: "cost" (成本价) or "list" (零售价)

    @property
    def key(self) -> tuple[str, str]:
        return self.item, self.code


@dataclass(frozen=True)
class Priced:
    version: str
    city_tier: str
    lines: tuple[Line, ...]
    subtotal_fen: int = field(init=False)
    total_fen: int = field(init=False)       # what the customer pays
    claim_fen: int = field(init=False)       # recorded against the manufacturer

    def __post_init__(self) -> None:
        object.__setattr__(self, "subtotal_fen", sum(x.amount_fen for x in self.lines))
        object.__setattr__(self, "total_fen", sum(x.amount_fen for x in self.lines
                                                  if x.coverage == CUSTOMER))
        object.__setattr__(self, "claim_fen", sum(x.amount_fen for x in self.lines
                                                  if x.coverage == WARRANTY))

    @property
    def coverage(self) -> str:
        """full: the customer pays nothing; partial: some lines covered; none."""
        if self.total_fen == 0:
            return "full"
        return "partial" if any(x.coverage != CUSTOMER for x in self.lines) else "none"

    def labour_covered_fen(self) -> int:
        """Scheduled labour of warranty work: what a service centre earns for the job."""
        return sum(x.amount_fen for x in self.lines
                   if x.item == "labour" and x.coverage == WARRANTY)

    def as_dict(self) -> dict:
        return {"schedule_version": self.version, "city_tier": self.city_tier,
                "lines": [asdict(x) for x in self.lines], "subtotal_fen": self.subtotal_fen,
                "total_fen": self.total_fen, "claim_fen": self.claim_fen,
                "coverage": self.coverage}


def price(job: Job, schedule: FeeSchedule, version: Version) -> Priced:
    tier = schedule.city_tier(job.region_code)
    lines: list[Line] = []
    if job.repaired:
        code = job.repair_code or schedule.default_repair_code
        if code not in version.labour:
            raise PricingError(f"unknown repair code {code}", "repair_code")
        spec = version.labour[code]
        if tier not in spec:
            raise PricingError(f"repair code {code} has no price for {tier}", "repair_code")
        lines.append(_line(job, "labour", code, spec["name"], 1, spec[tier]))
    else:
        lines.append(_line(job, "visit", "visit", "上门费 visit", 1, version.visit_fen))
        lines.append(_line(job, "inspection", "inspection", "检测费 inspection", 1,
                           version.inspection_fen))
    for sku, quantity in _merged(job.parts):
        part = schedule.parts.get(sku)
        if part is None:
            raise PricingError(f"unknown SKU {sku}", "parts")
        if job.category not in part.compatible_categories:
            raise PricingError(f"{sku} does not fit a {job.category}", "parts")
        basis = (version.customer_parts_at
                 if line_coverage(job, "part", part.main_part) == CUSTOMER else LIST)
        lines.append(_line(job, "part", sku, part.name, quantity,
                           version.part_prices[sku].at(basis), main_part=part.main_part,
                           basis=basis))
    beyond = job.distance_km - version.free_radius_km
    if beyond > 0:
        lines.append(_line(job, "remote", "remote",
                           f"远程费 {beyond} km beyond {version.free_radius_km} km",
                           beyond, version.per_km_fen))
    return Priced(version.version, tier, tuple(lines))


def line_coverage(job: Job, item: str, main_part: bool) -> str:
    """Who pays this line of the job (the one rule, shared with inventory's write-offs)."""
    return who_pays(job.warranty, job.cause, item, main_part, job.repeat_same_fault)


def _line(job: Job, item: str, code: str, name: str, quantity: Decimal | int,
          unit_fen: int, main_part: bool = False, basis: str = "") -> Line:
    return Line(item, code, name, str(quantity), unit_fen, times(unit_fen, quantity),
                line_coverage(job, item, main_part), main_part, basis)


def _merged(parts: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for sku, quantity in parts:
        totals[sku] = totals.get(sku, 0) + quantity
    return sorted(totals.items())
