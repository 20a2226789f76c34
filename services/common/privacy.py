"""Masking of personal data (phone numbers, addresses) for lists and logs."""

from __future__ import annotations

import re
from typing import Any

# Mainland mobiles (1[3-9]x, 11 digits) and landlines (0xx-xxxxxxxx), with or without +86.
# Free text often groups the digits ("138 1234 5678", "021-1234-5678").
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)"
                    r"|(?<!\d)(0\d{2,3})[- ]?(\d{3,4})[- ]?(\d{4})(?!\d)")
PERSONAL_KEYS = {"phone", "address", "contact_phone"}

# Street addresses in free text ("住黄浦区南京东路100号3单元502室", "南京西路1266弄5号",
# "幸福小区5号楼1202"): a road (…路/街/大道/巷/弄/胡同) or a residential compound
# (…小区/花园/大厦/苑/村…) followed by a house number, then any building, unit, floor
# and room parts. A number is required, so a road named without one ("南京东路附近") or
# a date ("3号上门") stays readable. A name is at most 8 characters before its suffix and
# starts after words that introduce an address (住, 在, 地址为...), so the sentence around
# it stays readable.
_CJK = "\u4e00-\u9fff"
_NAME = rf"(?:(?![住在是的说请址为往])[{_CJK}]){{1,8}}?"
_NUM = "[甲乙丙丁]?[0-9０-９一二三四五六七八九十百零〇]+"  # 甲6号: a number's sub-plot
_ROAD = rf"{_NAME}(?:大道|大街|胡同|路|街|巷|弄)"
_COMPOUND = rf"{_NAME}(?:小区|花园|公寓|大厦|家园|新村|广场|公馆|苑|村)"
_UNIT = rf"[-—之]?(?:{_NUM}|[A-Za-z])(?:号楼|號樓|单元|單元|号|號|弄|栋|棟|幢|座|层|層|楼|樓|室|户)"
_ADDRESS = re.compile(
    rf"(?:{_ROAD}{_NUM}[号號弄]|{_COMPOUND}(?={_UNIT}))(?:{_UNIT})*(?:[0-9]{{1,5}}(?!\d))?")
# Administrative divisions kept in front of a masked street: enough to route, not to find.
_DIVISION = re.compile(rf"^.*(?:省|自治区|市|区|县|旗|镇|乡)(?=[{_CJK}])")


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
    """Hide street addresses and phone numbers inside free text (log messages,
    descriptions). Addresses first: a room number must not be read as part of a phone."""

    def phone(match: re.Match[str]) -> str:
        if match.group(1):
            return f"{match.group(1)}****{match.group(3)}"
        return f"{match.group(4)}-****{match.group(6)}"

    return _PHONE.sub(phone, _ADDRESS.sub(_mask_street, text))


def _mask_street(match: re.Match[str]) -> str:
    """Keep the administrative divisions the match begins with, hide the rest."""
    division = _DIVISION.match(match.group(0))
    return (division.group(0) if division else "") + "****"


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
