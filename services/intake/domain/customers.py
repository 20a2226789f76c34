"""The customer file (客户档案): a household found by its phones, and its installed base
(在用产品), each unit found by its serial number. Pure rules: which phone is the same
phone, which unit a request is about, what a merge keeps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.common.errors import InvalidInput

MIN_PREFIX_DIGITS = 7  # the agent's search starts at seven digits typed
MAX_PHONES = 5  # a household's numbers: the mobile of each member, a landline
_COUNTRY_CODE = re.compile(r"^(?:0086|86)(?=1[3-9]\d{9}$|0?[1-9]\d{8,10}$)")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")


def normalise_phone(phone: str) -> str:
    """A phone number as dialled at home, digits only: "+86 138-1234-5678" and
    "13812345678" are one number, "021-64871234" is "02164871234". Raises InvalidInput
    for anything that is not a mainland mobile or landline number."""
    digits = "".join(ch for ch in phone if ch.isdigit() and ch.isascii())
    domestic = _COUNTRY_CODE.sub("", digits)
    if domestic != digits and domestic[:1] != "0" and not _MOBILE.match(domestic):
        domestic = "0" + domestic  # after +86 a landline's area code is written without its 0
    digits = domestic
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise InvalidInput("not a mainland phone number",
                       {"phone": ["不是有效的手机或座机号码 / Not a valid mainland phone number."]})


@dataclass(frozen=True)
class PhoneSearch:
    """What the agent typed, as a search: the whole number, or its first digits."""
    digits: str
    exact: bool


def phone_search(typed: str) -> PhoneSearch:
    """At least seven digits (spaces and dashes allowed); a whole number is searched
    exactly, fewer digits as the start of a number."""
    cleaned = typed.strip()
    if not re.fullmatch(r"\+?[0-9][0-9 -]*", cleaned):
        raise InvalidInput("the phone search holds more than digits", {"phone": [
            "只能输入数字、空格或短横线 / Digits, spaces and dashes only."]})
    try:
        return PhoneSearch(normalise_phone(cleaned), exact=True)
    except InvalidInput:
        pass
    digits = re.sub(r"[^0-9]", "", cleaned)
    if len(digits) < MIN_PREFIX_DIGITS or len(digits) > 12:
        raise InvalidInput("a phone search needs at least seven digits",
                           {"phone": [f"请至少输入 {MIN_PREFIX_DIGITS} 位号码 / Type at least "
                                      f"{MIN_PREFIX_DIGITS} digits."]})
    return PhoneSearch(digits, exact=False)


def add_phone(phones: list[str], phone: str) -> list[str]:
    """The household's phones with one more (normalised, once, the first stays first)."""
    number = normalise_phone(phone)
    if number in phones:
        return list(phones)
    if len(phones) >= MAX_PHONES:
        raise InvalidInput("too many phones for one customer",
                           {"phone": [f"一个客户最多 {MAX_PHONES} 个号码 / At most {MAX_PHONES} "
                                      f"phones per customer."]})
    return [*phones, number]


def merged_phones(kept: list[str], absorbed: list[str]) -> list[str]:
    """Two records of one household become one: the kept record's phones first, then the
    other's, each once."""
    phones = list(dict.fromkeys([*kept, *absorbed]))
    if len(phones) > MAX_PHONES:
        raise InvalidInput("too many phones for one customer", {"customer_id": [
            f"合并后号码超过 {MAX_PHONES} 个 / Together they would have more than "
            f"{MAX_PHONES} phones."]})
    return phones


def check_merge(kept_id: str, absorbed_id: str) -> None:
    """A record is merged into another one, never into itself."""
    if kept_id == absorbed_id:
        raise InvalidInput("a customer cannot be merged into itself", {"customer_id": [
            "不能与自身合并 / Name the other record of the household."]})


def address_entry(address: str, region_code: str) -> dict[str, str]:
    return {"address": address, "region_code": region_code}


# -- the installed base -----------------------------------------------------------------
def unit_key(serial: str | None, category: str, customer_id: str,
             units: list[dict]) -> str:
    """Which unit (在用产品) a request is about, as the key unique in the branch:
    - with a serial number, the unit of that serial, whoever's it is;
    - without one, the customer's only unit of that category when they have exactly one
      (a caller who cannot read the nameplate means the water heater they have);
    - otherwise the customer's unit of that category not yet identified by serial, kept
      until a technician reads the nameplate."""
    if serial:
        return serial_key(serial)
    same = [u for u in units if u.get("category") == category]
    if len(same) == 1:
        return same[0]["key"]
    return f"cat:{customer_id}:{category}"


def serial_key(serial: str) -> str:
    return f"sn:{serial.upper()}"


def unit_id(branch: str, key: str) -> str:
    """A unit's id: its key within its branch."""
    return f"{branch}|{key}"


UNIT_FACTS = ("category", "brand", "model", "series", "batch", "purchase_date",
              "installation_date", "installer")


def unit_facts(product: dict) -> dict:
    """What a request tells of its unit: the facts given (a later call fills in the
    missing ones, never blanks a known one)."""
    facts = {}
    for name in UNIT_FACTS:
        value = product.get(name)
        if value is None or value == "":
            continue
        facts[name] = value.isoformat() if isinstance(value, date) else value
    if product.get("serial_number"):
        facts["serial_number"] = product["serial_number"]
    return facts


def customer_number(branch: str, local_day: date, sequence: int) -> str:
    """``CU-<branch>-<YYYYMMDD>-<seq>``: the branch is read from the id at every entry."""
    if not 0 < sequence < 1_000_000:
        raise ValueError("daily customer sequence exhausted")
    return f"CU-{branch}-{local_day:%Y%m%d}-{sequence:06d}"


FAULT_FACTS = ("fault_code", "diagnosis", "repair_done", "cause")


def fault_found(completion: dict | None) -> dict | None:
    """What the technician found and did, as a unit's service history shows it."""
    if not isinstance(completion, dict):
        return None
    fault = {name: completion[name] for name in FAULT_FACTS
             if isinstance(completion.get(name), str) and completion[name]}
    return fault or None
