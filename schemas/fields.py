"""Field types and text rules shared by every contract.

Messages a person reads are Chinese first, English second.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, validate

DISPLAY_TZ = ZoneInfo("Asia/Shanghai")


class Pattern(validate.Regexp):
    """A regular expression the whole value must match: ``re.match`` lets '$' match before a
    final newline, so "13812345678\\n" would pass as a phone number and be stored."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


PHONE = Pattern(r"^(\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
                error="Not a valid mainland phone number.")
REGION_CODE = Pattern(r"^\d{6}$", error="Region codes are 6 digits.")
SAFE_ID = Pattern(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                  error="Use 1-64 letters, digits, '_', '.', ':' or '-'.")
ORDER_ID = Pattern(r"^[A-Z]{2,8}-\d{8}-\d{6}$", error="Not a valid order number.")


class LocalDateTime(fields.AwareDateTime):
    """Aware datetimes in; out as ISO 8601 with the branch's offset (+08:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(DISPLAY_TZ).isoformat()


# -- text rules -------------------------------------------------------------------------
# A lone surrogate is what a "\ud800" escape decodes to: not a character, so it cannot be
# encoded as UTF-8 - not stored (BSON), logged, or even sent back in an error.
_SURROGATE = re.compile("[\ud800-\udfff]")
INVALID_UNICODE = ("含无效的 Unicode 字符（孤立的代理码位 {code}）。"
                   "Invalid Unicode: a lone surrogate ({code}).")
INVALID_UNICODE_KEY = "字段名含无效的 Unicode 字符。Invalid Unicode in a field name."
TOO_DEEP = "嵌套过深。Nested too deeply."
CONTROL = "不能含控制字符（{code}）。Control characters are not allowed ({code})."
ONE_LINE = "只能写一行，不能含换行或制表符。Must be one line, without line breaks or tabs."
NOT_VISIBLE = "须含至少一个可见字符。Must contain at least one visible character."
MAX_DEPTH = 64  # far beyond any contract; deeper input is refused, not walked

# Categories with nothing to see: separators (spaces, line and paragraph separators),
# controls, format characters (zero-width space, joiners, BOM, bidi marks, soft hyphen),
# surrogates, and combining marks, which show only on a base character. Private-use (Co)
# and unassigned (Cn) code points count as visible: rare characters of Chinese names are
# still entered through private-use fonts, and ones newer than this Python's Unicode
# tables show up as unassigned.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Mc", "Me"})
# Letters and symbols by category that are drawn blank (Hangul fillers, Braille blank):
# the usual way to make a "name" that looks empty but is not whitespace.
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_LINE_BREAKS = frozenset("\n\t\u2028\u2029")  # tab: a multi-line text's indentation


def code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def lone_surrogate(text: str) -> str | None:
    found = _SURROGATE.search(text)
    return found.group() if found else None


def printable_key(key: str) -> str:
    """A field name as it can be shown and encoded: lone surrogates as \\udxxx escapes."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def is_visible(char: str) -> bool:
    return (unicodedata.category(char) not in _INVISIBLE_CATEGORIES
            and char not in _BLANK_LOOKING)


def unicode_errors(value: Any, depth: int = 0) -> Any:
    """Field errors (in marshmallow's shape) for lone surrogates anywhere in a decoded JSON
    value, keys included; None when there are none. Keys are reported escaped."""
    if depth > MAX_DEPTH:
        return [TOO_DEEP]
    if isinstance(value, str):
        char = lone_surrogate(value)
        return [INVALID_UNICODE.format(code=code_point(char))] if char else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    errors = {}
    for key, item in items:
        bad_key = isinstance(key, str) and lone_surrogate(key) is not None
        found = [INVALID_UNICODE_KEY] if bad_key else unicode_errors(item, depth + 1)
        if found:
            errors[printable_key(key) if isinstance(key, str) else key] = found
    return errors or None


def refuse_invalid_unicode(value: Any) -> None:
    """For a schema's pre_load: input from the gateway is checked there already, but
    services also take requests from queues (the call-centre feed) and RPC callers."""
    errors = unicode_errors(value)
    if errors:
        raise ValidationError(errors)


class PlainText(validate.Validator):
    """What a person's text may hold: valid Unicode, no control characters (line breaks
    and tabs only where ``one_line`` is False), and - unless empty - at least one visible
    character. Usable on its own as ``validate=PlainText()``; ``Text`` applies it."""

    def __init__(self, *, one_line: bool = False) -> None:
        self.one_line = one_line

    def __call__(self, value: str) -> str:
        surrogate = lone_surrogate(value)
        if surrogate:
            raise ValidationError(INVALID_UNICODE.format(code=code_point(surrogate)))
        for char in value:
            self._check_char(char)
        if value and not any(is_visible(char) for char in value):
            raise ValidationError(NOT_VISIBLE)
        return value

    def _check_char(self, char: str) -> None:
        if char in _LINE_BREAKS:
            if self.one_line:
                raise ValidationError(ONE_LINE)
            if char in "\n\t":
                return
        if unicodedata.category(char) == "Cc":
            raise ValidationError(CONTROL.format(code=code_point(char)))

    def _repr_args(self) -> str:
        return f"one_line={self.one_line!r}"


class Text(fields.String):
    """A person's text, trimmed, held to ``PlainText``. ``one_line`` for names, addresses
    and the like; descriptions and notes keep their line breaks."""

    def __init__(self, *, one_line: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rules = PlainText(one_line=one_line)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        # Trimmed first: a trailing newline pasted with a name is a slip, not content; the
        # rules judge what would be kept.
        return self._rules(text.strip())


# -- dates ------------------------------------------------------------------------------
# One floor for every product category rather than a table per category: categories live in
# the reference data and can be added there without a change here. Every category served
# (air conditioners, gas and electric water heaters, range hoods, gas stoves) reached
# Chinese homes in numbers only in the 1980s and the longest warranty reaches back six
# years, so an earlier date is a slip of the keyboard (0001, 1900, 1026 for 2026), not an
# old unit. A customer who does not know the date leaves it out: the warranty is then
# decided at diagnosis.
EARLIEST_APPLIANCE_DATE = date(1980, 1, 1)
TOO_EARLY = "日期不可信，不能早于 {earliest}。Implausible date: cannot be before {earliest}."
IN_FUTURE = ("不能晚于今天（北京时间 {today}）。"
             "Cannot be after today ({today}, Asia/Shanghai).")


def local_today() -> date:
    """Today in the branch's time zone, by the real clock. Contracts have no clock of their
    own; the services check the same bound with theirs (tests fix it), which for a clock
    set in the past is the stricter one. Tests of the contracts replace this function."""
    return datetime.now(DISPLAY_TZ).date()


class PastDate(fields.Date):
    """A day that has happened: from ``earliest`` up to today (inclusive) in the branches'
    time zone, so a purchase made this morning in Shanghai is not refused as tomorrow."""

    def __init__(self, *, earliest: date = EARLIEST_APPLIANCE_DATE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.earliest = earliest

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if day < self.earliest:
            raise ValidationError(TOO_EARLY.format(earliest=self.earliest.isoformat()))
        today = local_today()
        if day > today:
            raise ValidationError(IN_FUTURE.format(today=today.isoformat()))
        return day


# -- images -----------------------------------------------------------------------------
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_DATA_URL = "data:image/png;base64,"
NOT_PNG = "须为 PNG 图片（base64）。Must be a PNG image, base64-encoded."
NOT_IMAGE = "须为 JPEG 或 PNG 图片（base64）。Must be a JPEG or PNG image, base64-encoded."
TOO_LARGE_IMAGE = "图片不能大于 {limit} 字节。The image cannot be larger than {limit} bytes."


def _is_png(raw: bytes) -> bool:
    return raw.startswith(PNG_SIGNATURE) and raw[12:16] == b"IHDR"  # the first chunk


def _is_jpeg(raw: bytes) -> bool:
    return raw.startswith(b"\xff\xd8\xff") and raw.endswith(b"\xff\xd9")  # SOI ... EOI


IMAGE_FORMATS = {"png": ("data:image/png;base64,", _is_png),
                 "jpeg": ("data:image/jpeg;base64,", _is_jpeg)}


class ImageData(fields.String):
    """A small image (a drawn signature, a photo made small on the phone) as base64 text,
    stored with the record that needs it. A browser's ``data:image/...;base64,`` prefix of
    an allowed format is accepted and dropped. The bound keeps a request under the
    gateway's body limit."""

    def __init__(self, *, max_bytes: int, formats: tuple[str, ...] = ("png",),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes, self.formats = max_bytes, formats
        self.refusal = NOT_PNG if formats == ("png",) else NOT_IMAGE

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        for name in self.formats:
            text = text.removeprefix(IMAGE_FORMATS[name][0])
        if len(text) > (self.max_bytes + 2) // 3 * 4:  # before decoding a huge value
            raise ValidationError(TOO_LARGE_IMAGE.format(limit=self.max_bytes))
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(self.refusal) from None
        if not any(IMAGE_FORMATS[name][1](raw) for name in self.formats):
            raise ValidationError(self.refusal)
        return text


class PngImage(ImageData):
    """A PNG only: what a canvas draws (a signature)."""

    def __init__(self, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(max_bytes=max_bytes, formats=("png",), **kwargs)
