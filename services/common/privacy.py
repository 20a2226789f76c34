"""Masking of personal data (phone numbers, addresses) for lists and logs."""

from __future__ import annotations

import re
from typing import Any

# Mainland mobiles (1[3-9]x, 11 digits) and landlines (0xx-xxxxxxxx), with or without +86.
# Free text often groups the digits ("138 1234 5678", "021-1234-5678").
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)"
                    r"|(?<!\d)(0\d{2,3})[- ]?(\d{3,4})[- ]?(\d{4})(?!\d)")
PERSONAL_KEYS = {"phone", "address", "contact_phone"}


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_address(address: str | None) -> str | None:
    """Keep the district-level prefix (enough to route), hide street and number."""
    if not address:
        return address
    keep = min(6, max(0, len(address) // 3))
    return address[:keep] + "****"


def mask_text(text: str) -> str:
    """Hide any phone number inside free text (log messages, descriptions)."""

    def repl(match: re.Match[str]) -> str:
        if match.group(1):
            return f"{match.group(1)}****{match.group(3)}"
        return f"{match.group(4)}-****{match.group(6)}"

    return _PHONE.sub(repl, text)


def mask_personal(value: Any) -> Any:
    """Recursively mask the personal fields of a JSON-like structure."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("phone", "contact_phone") and isinstance(item, str):
                out[key] = mask_phone(item)
            elif key == "address" and isinstance(item, str):
                out[key] = mask_address(item)
            else:
                out[key] = mask_personal(item)
        return out
    if isinstance(value, list | tuple):  # json writes tuples as arrays too
        return [mask_personal(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
