"""The national parts catalogue (deploy/config/parts_catalogue.yaml): one reading of its
rows for inventory (stock, lead times) and billing (list prices). Prices are yuan strings
in the file and integer fen here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.common.domain.money import to_fen

SKU = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")


def yuan_to_fen(text: str) -> int:
    """A catalogue price: '12.50' -> 1250 (see money.to_fen); never a float, never < 0."""
    if isinstance(text, (float, bool)):
        raise ValueError("prices are written as strings of yuan, never floats")
    fen = to_fen(str(text))
    if fen < 0:
        raise ValueError(f"not a price: {text!r}")
    return fen


@dataclass(frozen=True)
class Part:
    sku: str
    name: str
    category: str
    compatible_categories: tuple[str, ...]
    unit: str
    list_price_fen: int
    cost_price_fen: int
    warranty_part: bool
    main_part: bool
    lead_time_days: int

    def fits(self, product_category: str | None) -> bool:
        return product_category is None or product_category in self.compatible_categories


def parse_part(row: dict[str, Any]) -> Part:
    sku = str(row["sku"])
    if not SKU.match(sku):
        raise ValueError(f"bad sku {sku!r}")
    lead = int(row.get("lead_time_days", 7))
    if lead < 0:
        raise ValueError(f"{sku}: lead_time_days must not be negative")
    return Part(sku, str(row["name"]), str(row["category"]),
                tuple(row["compatible_categories"]), str(row["unit"]),
                yuan_to_fen(row["list_price"]), yuan_to_fen(row["cost_price"]),
                bool(row["warranty_part"]), bool(row["main_part"]), lead)
