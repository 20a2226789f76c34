"""Masking of personal data (phone numbers, addresses) for lists and logs.

Free text is matched on a normalised copy: full-width digits and punctuation become ASCII,
one character for one, so every position in the copy is the same position in the original
and the matches can be cut out of the text as it was written. Ids that only look like
numbers (event ids, uuids) are blanked in the copy first, so no pattern starts inside one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

PERSONAL_KEYS = {"phone", "address", "contact_phone", "phones"}

# -- normalisation ---------------------------------------------------------------------
class _Narrow(dict[int, str]):
    """Translation table: any decimal digit (full-width １, Arabic-Indic ١ ...) as ASCII,
    looked up when first met instead of listing every digit of Unicode. Every character
    met stays in the table; logs use a few thousand distinct ones."""

    def __missing__(self, code: int) -> str:
        value = unicodedata.decimal(chr(code), None)
        self[code] = chr(code) if value is None else str(value)
        return self[code]


# One character for one: "１３８－１２３４" reads as "138-1234" at the same positions.
_WIDE = _Narrow(str.maketrans({
    "（": "(", "）": ")", "＋": "+", "．": ".", "／": "/", "＃": "#",
    "\u3000": " ", "\u00a0": " ",
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-"),
}))
_DIGIT = re.compile("[0-9]")
# Hex event ids, Mongo ids, hashes and uuids: long digit runs inside them are not phones.
_OPAQUE_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32}|[0-9a-f]{24})(?![0-9A-Za-z])")


def normalise(text: str) -> str:
    """Full-width digits and separators as ASCII; the length never changes."""
    return text if text.isascii() else text.translate(_WIDE)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", normalise(text))


def _digits_as_written(text: str) -> str:
    """The digits of ``text`` in their own script (１３８ stays １３８)."""
    return "".join(c for c, n in zip(text, normalise(text), strict=True) if n in "0123456789")


def _search_copy(text: str) -> str:
    """The normalised copy that patterns search, opaque ids blanked out."""
    return _OPAQUE_ID.sub(lambda m: "\x00" * len(m.group(0)), normalise(text))


def _substitute(pattern: re.Pattern[str], text: str, copy: str,
                replace: Callable[[re.Match[str], str], str]) -> tuple[str, str]:
    """Replace the matches found in the copy, in the original text; ``replace`` gets the
    match and the original text, to read groups as written. Returns both, still aligned."""
    out, out_copy, last = [], [], 0
    for match in pattern.finditer(copy):
        masked = replace(match, text)
        out += [text[last:match.start()], masked]
        out_copy += [copy[last:match.start()], normalise(masked)]
        last = match.end()
    if not out:
        return text, copy
    return "".join([*out, text[last:]]), "".join([*out_copy, copy[last:]])


# -- phone numbers ---------------------------------------------------------------------
# People group digits in the ways a phone is read out: 138 1234 5678, 1381 2345 678,
# 138-12345678, 1381234 5678, or one digit at a time (1 3 8 1 …); between two groups one
# separator, with a space on either side. Only these groupings: "port 18476 310101" or
# "193.01 310101" in a log are other numbers side by side.
_SEP = r" ?[-./]? ?"
_MOBILE = (rf"1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}|1[3-9]\d\d{_SEP}\d{{4}}{_SEP}\d{{3}}"
           r"|1[ .-]?[3-9](?:[ .-]\d){9}")
_LOCAL = rf"[1-9]\d{{2,3}}{_SEP}\d{{4}}|[1-9]\d{{3}}{_SEP}\d{{3}}"  # 8 or 7 digits
# +86, (+86), 0086, 86: the country code, dropped from the masked form.
_CC = r"(?:\(?(?:\+|00) ?86\)?|86)"
# Area codes: 010, 02x, then three digits (0755); written without the 0 after +86.
_AREA = r"(?:10|2\d|[3-9]\d\d)"
_EXT = r"(?: ?(?:转|轉|分机|分機|(?i:ext)\.?|[xX#]) ?\d{1,6}|-\d{1,5})(?!\d)"
_KEYWORD = r"(?<![A-Za-z])(?:电话|手机|座机|固话|联系方式|(?i:telephone|tel|phone|mobile))"
_PHONE = re.compile(
    # Not inside a longer number, nor glued to one by a dash or dot (SH-20260105-021345).
    r"(?<!\d)(?<!\d[-./])(?:"
    rf"(?:{_CC}{_SEP})?(?P<mobile>{_MOBILE})(?!\d)"
    # A 0 after a code in capitals starts a serial number (GWH-0808), not an area code.
    rf"|(?:{_CC}{_SEP}\(?0?|(?<![A-Z]-)\(?0)(?P<area>{_AREA})\)?{_SEP}"
    rf"(?P<local>{_LOCAL})(?!\d)(?P<ext>{_EXT})?"
    # A local number without its area code, only where a word says it is a phone; it
    # must end there, or "电话 138 1234 5678" would be cut after eight digits.
    rf"|(?P<kw>{_KEYWORD})(?P<kwsep> *[:：]? *(?:是|为|為)? *)"
    rf"(?P<kwnum>{_LOCAL})(?!{_SEP}\d)"
    r")", re.ASCII)


def _mask_phone_match(match: re.Match[str], text: str) -> str:
    """The kept digits are shown as they were written, full-width or not."""

    def written(group: str) -> str:
        return _digits_as_written(text[match.start(group):match.end(group)])

    if match["mobile"]:
        digits = written("mobile")
        return f"{digits[:3]}****{digits[-4:]}"
    if match["area"]:
        ext = re.sub(r"\d", "*", match["ext"] or "")  # ext digits would rejoin the number
        before = text[match.start("area") - 1]
        zero = before if normalise(before) == "0" else "0"  # after +86 the 0 is not written
        return f"{zero}{written('area')}-****{written('local')[-4:]}{ext}"
    kw = text[match.start("kw"):match.end("kwsep")]
    return f"{kw}****{written('kwnum')[-4:]}"


def _domestic(digits: str) -> str:
    """Digits as dialled at home: no country code, landlines with their leading 0."""
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) >= 11:
        digits = digits[2:]
    else:
        return digits
    return digits if digits[:1] in ("0", "1") and digits[:2] != "10" else "0" + digits


def _field_digits(phone: str) -> str:
    """The number's digits without country code or extension ("021-64871234-808")."""
    match = _PHONE.fullmatch(phone)
    if match and match["mobile"]:
        return _digits(match["mobile"])
    if match and match["area"]:
        return "0" + match["area"] + _digits(match["local"])
    number = re.split(r"转|轉|分机|分機|(?i:ext)|[xX#]", phone, maxsplit=1)[0]
    return _domestic(_digits(number))


def mask_phone(phone: str | None) -> str | None:
    """A phone field: its first three and last four digits; fewer for a short number, so
    that the middle always stays hidden."""
    if not phone:
        return phone
    digits = _field_digits(normalise(phone).strip())
    if len(digits) >= 10:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return f"****{digits[-4:]}"
    return "*" * len(digits)  # showing four of seven digits would leave three to guess


# -- addresses in Chinese --------------------------------------------------------------
# Street addresses in free text ("住黄浦区南京东路100号3单元502室", "南京西路1266弄5号",
# "幸福小区5号楼1202"): a road (…路/街/大道/巷/弄/胡同) or a residential compound
# (…小区/花园/大厦/苑/村…) followed by a house number, then any building, unit, floor
# and room parts. A number is required, so a road named without one ("南京东路附近") or
# a date ("3号上门") stays readable. A name is at most 8 characters before its suffix and
# starts after words that introduce an address (住, 在, 地址为...), so the sentence around
# it stays readable.
_CJK = "\u4e00-\u9fff"
_NAME = rf"(?:(?![住在是的说请址为往])[{_CJK}]){{1,8}}?"
# 甲6号: a number's sub-plot. At most six figures: a house or room number is no longer,
# and an unbounded run would be tried at every digit of a long number.
_NUM = "[甲乙丙丁]?[0-9一二三四五六七八九十百零〇]{1,6}"
_ROAD = rf"{_NAME}(?:大道|大街|胡同|路|街|巷|弄)(?:{_NUM}段)?"  # 人民南路四段12号
_COMPOUND = rf"{_NAME}(?:小区|花园|公寓|大厦|家园|新村|广场|公馆|苑|村)"
_UNIT = (rf"[-之]?(?:{_NUM}|[A-Za-z])(?:号楼|號樓|号院|单元|單元|号|號|弄|栋|棟|幢|座|层|層"
         r"|楼|樓|室|户|组)")
# A building named after the house number ("文三路90号东部软件园1号楼301室").
_BUILDING = rf"(?:[{_CJK}A-Za-z]{{1,10}}?(?={_UNIT}))?"
_HOUSE = rf" ?{_NUM}(?:[-~]{_NUM})?[号號弄]"  # 100-102号
_UNITS = rf"(?: ?{_UNIT})*(?:[0-9]{{1,5}}(?![0-9]))?"
_ADDRESS = re.compile(
    rf"(?:{_ROAD}{_HOUSE}{_BUILDING}|{_COMPOUND}(?={_UNIT}))(?:{_UNITS})"
    # Without a road: a building then its unit or room ("5栋2单元1203室"), or a room
    # number of three digits or more ("502室"; "3室2厅" is a flat's layout).
    rf"|(?<![0-9])(?:{_UNIT})*{_NUM}(?:号楼|號樓|栋|棟|幢|单元|單元)(?: ?{_UNIT})+{_UNITS}"
    r"|[0-9]{3,5}[室户](?![0-9])")
# Every match holds a house, building or room word.
_CN_HINT = re.compile("[号號弄栋棟幢座层層楼樓室户组元院]")
# Administrative divisions kept in front of a masked street: enough to route, not to find.
_DIVISION = re.compile(rf"^.*(?:省|自治区|市|区|县|旗|镇|乡)(?=[{_CJK}])")


def _mask_street(match: re.Match[str], text: str) -> str:
    """Keep the administrative divisions the match begins with, hide the rest."""
    division = _DIVISION.match(text[match.start():match.end()])
    return (division.group(0) if division else "") + "****"


# -- addresses in English and pinyin ---------------------------------------------------
_DIVISION_WORDS = (r"(?:District|City|Province|County|Town|New Area|Qu|Xinqu|Shi|Sheng|Xian"
                   r"|Zhen)")
_STREET_WORDS = (r"(?:Road|Rd|Street|St|Avenue|Ave|Boulevard|Blvd|Highway|Hwy|Lu|Jie|Dajie"
                 r"|Dadao|Hutong|Xiang)")
_WORD = rf"(?!{_DIVISION_WORDS}\b|{_STREET_WORDS}\b)[A-Z][a-z]+(?:['-][a-z]+)?"  # Jing'an
_STREET = rf"(?:{_WORD} ){{1,4}}{_STREET_WORDS}\b\.?"
_NUMBER = r"\d+[A-Za-z]?(?:-\d+)?"
_PINYIN_UNIT = r"(?:Hao ?Lou|Hao|Nong|Lou|Dong|Danyuan|Ceng|Shi|Zuo|Hu)\b"
# Only the words people write in lower case too are matched in any case: "building 2
# reports" in a log is no address.
_DESIGNATOR = (r"(?:(?i:room|rm|flat|apt|apartment)|Suite|Building|Bldg|Floor|No|Unit|Block"
               r"|Blk|Tower|Lane|Ln|Alley|Gate)\b\.?")
_LATIN_PART = (
    rf"(?:(?:No\.? ?)?{_NUMBER},? (?:{_STREET}|Lane\b)"         # No. 1 Nanjing East Road
    rf"|{_STREET},? (?:No\.? ?)?{_NUMBER}(?: ?{_PINYIN_UNIT})?"  # Nanjing Dong Lu 1 Hao
    rf"|{_DESIGNATOR} ?#? ?{_NUMBER}"                            # Room 1203, Building 5
    rf"|{_NUMBER} ?{_PINYIN_UNIT}|{_NUMBER}(?:st|nd|rd|th)? ?(?:Floor\b|/F\b))")
# One run of parts ("Room 1203, Building 5, 88 Lane 100 Xinhua Road"): districts and the
# city that follow stay outside it and readable.
_LATIN_ADDRESS = re.compile(
    rf"(?<![0-9A-Za-z]){_LATIN_PART}(?: ?,? ?(?:{_LATIN_PART}|{_STREET}))*(?![0-9A-Za-z])",
    re.ASCII)
# Every match holds one of these words, or "/F" for a floor.
_LATIN_HINT = re.compile(rf"\b(?:{_STREET_WORDS}|{_DESIGNATOR}|{_PINYIN_UNIT}|/F\b)",
                         re.ASCII)  # "住Room 1203": a word starts after a Chinese character
_LATIN_DIVISION = re.compile(rf"(?:{_WORD} )+{_DIVISION_WORDS}\b", re.ASCII)
_HAS_CJK = re.compile(rf"[{_CJK}]")


def _mask_latin_address(address: str) -> str:
    """Only named divisions survive ("Huangpu District", a closing "Shanghai")."""
    kept = [m.group(0) for m in _LATIN_DIVISION.finditer(address)]
    parts = [p.strip() for p in address.split(",")]
    last = parts[-1] if len(parts) > 1 else ""
    if re.fullmatch(r"[A-Z][a-z]+(?: [A-Z][a-z]+)?", last) and not re.search(
            rf"\b(?:{_STREET_WORDS}|{_DESIGNATOR}|{_PINYIN_UNIT})", last) and last not in kept:
        kept.append(last)  # English addresses end with the city
    if not kept:
        return "****"
    if address.startswith(kept[0]):
        return " ".join(kept) + " ****"
    return "****, " + ", ".join(kept)


def mask_address(address: str | None) -> str | None:
    """Keep the district-level prefix (enough to route), hide street and number."""
    if not address:
        return address
    if not _HAS_CJK.search(address) and re.search("[A-Za-z]{2}", address):
        return _mask_latin_address(address)
    keep = min(6, max(0, len(address) // 3))
    # Cut before any digit (１, ①, ²...): a house number never leads the kept part.
    digit = next((i for i, c in enumerate(address[:keep]) if c.isdigit()), keep)
    return address[:digit] + "****"


# -- free text and documents -----------------------------------------------------------
# A query string's personal parameters (an access log line of GET /customers?phone=...):
# the whole value, whatever it holds — a search by the first digits is no full number.
_PERSONAL_QUERY = re.compile(r"([?&](?:phone|mobile|address|name)=)[^&\s\"']*", re.I)


def mask_text(text: str) -> str:
    """Hide street addresses and phone numbers inside free text (log messages,
    descriptions). Addresses first: a room number must not be read as part of a phone."""
    if "=" in text:
        text = _PERSONAL_QUERY.sub(r"\g<1>****", text)
    copy = _search_copy(text)
    # Each pass runs only on text that holds what all its matches hold: logs are written
    # on every request, and most lines have no address at all.
    if _CN_HINT.search(copy):
        text, copy = _substitute(_ADDRESS, text, copy, _mask_street)
    if _LATIN_HINT.search(copy) and _DIGIT.search(copy):
        text, copy = _substitute(_LATIN_ADDRESS, text, copy, lambda *_: "****")
    if not _DIGIT.search(copy):
        return text
    return _substitute(_PHONE, text, copy, _mask_phone_match)[0]


def mask_personal(value: Any) -> Any:
    """Recursively mask the personal fields of a JSON-like structure."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("phone", "contact_phone") and isinstance(item, str):
                out[key] = mask_phone(item)
            elif key == "phones" and isinstance(item, list):  # a household's numbers
                out[key] = [mask_phone(p) if isinstance(p, str) else mask_personal(p)
                            for p in item]
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
