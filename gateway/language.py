"""Error messages in the caller's language (``Accept-Language``: Chinese by default, or
English); the machine-readable code never changes.

Each code has a title in both languages. A service's own message is often written in both
already, Chinese first ("数据存储暂时不可用。The data store is unavailable.", "工单不存在 /
order not found"): the caller gets the part in its language. A message written in one
language only is given after the title in the caller's language, so the caller always
reads a sentence it understands first, and the detail as the service wrote it.
"""

from __future__ import annotations

import re

CHINESE = "zh-CN"
ENGLISH = "en"
DEFAULT = CHINESE

TITLES: dict[str, dict[str, str]] = {
    "bad_request": {CHINESE: "请求无效", ENGLISH: "Bad request"},
    "invalid_input": {CHINESE: "输入有误", ENGLISH: "Invalid input"},
    "not_found": {CHINESE: "未找到", ENGLISH: "Not found"},
    "conflict": {CHINESE: "与当前状态冲突", ENGLISH: "Conflict with the current state"},
    "forbidden": {CHINESE: "无权操作", ENGLISH: "Forbidden"},
    "unauthorized": {CHINESE: "未通过身份验证", ENGLISH: "Not authenticated"},
    "too_large": {CHINESE: "请求体过大", ENGLISH: "Body too large"},
    "unsupported_media_type": {CHINESE: "不支持的内容类型",
                               ENGLISH: "Unsupported content type"},
    "unavailable": {CHINESE: "服务暂时不可用，请稍后重试",
                    ENGLISH: "Temporarily unavailable; try again later"},
    "timeout": {CHINESE: "服务未及时应答", ENGLISH: "No answer in time"},
    "internal": {CHINESE: "服务内部错误", ENGLISH: "Internal error"},
}

_CHINESE = re.compile("[\u4e00-\u9fff]")
_FIRST_WORD = re.compile("[A-Za-z\u4e00-\u9fff]")
# Where the English half begins: after a full stop in Chinese, or after " / ".
_BOUNDARY = re.compile("(?:(?<=[。！？])\\s*|\\s+/\\s+)(?=[A-Za-z])")
_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def negotiate(header: str | None) -> str:
    """The language to answer in: the preferred of Chinese and English in the header
    (RFC 9110 weights; ``*`` and unknown languages ignored), Chinese when neither."""
    best, weight = DEFAULT, 0.0
    for part in (header or "")[:200].split(","):
        match = _RANGE.match(part)
        if match is None:
            continue
        language = {"zh": CHINESE, "en": ENGLISH}.get(match.group(1).lower())
        try:
            q = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if language is not None and q > weight:
            best, weight = language, q
    return best


def split_languages(message: str) -> tuple[str, str]:
    """(Chinese part, English part) of a message; either may be empty. A message in both
    has the Chinese first and the English after a Chinese full stop or " / "."""
    for boundary in _BOUNDARY.finditer(message):
        if _CHINESE.search(message, 0, boundary.start()):
            return message[:boundary.start()].strip(), message[boundary.end():].strip()
    first = _FIRST_WORD.search(message)
    if first is not None and _CHINESE.match(first.group()):
        return message.strip(), ""
    return "", message.strip()


def localized(code: str, message: str, language: str) -> str:
    """``message`` of an error ``code`` for a caller reading ``language``."""
    chinese, english = split_languages(message)
    own = chinese if language == CHINESE else english
    if own:
        return own
    title = TITLES.get(code, TITLES["bad_request"])[language]
    detail = english or chinese
    separator = "：" if language == CHINESE else ": "
    return f"{title}{separator}{detail}" if detail else title


# The validation library's own messages (English), as a Chinese caller reads them. A
# project message written in both languages is split instead; one in neither list is
# given as written.
_FIELD_MESSAGES: list[tuple[re.Pattern[str], str]] = [(re.compile(f"^{english}$"), chinese)
                                                      for english, chinese in (
    (r"Missing data for required field\.", "必填字段缺失。"),
    (r"Field may not be null\.", "不能为空值。"),
    (r"Unknown field\.", "未知字段。"),
    (r"Invalid (?:input )?type\.", "类型不对。"),
    (r"Invalid (?:value|input)\.", "取值无效。"),
    (r"Not a valid string\.", "应为文本。"),
    (r"Not a valid utf-8 string\.", "不是有效的 UTF-8 文本。"),
    (r"Not a valid integer\.", "应为整数。"),
    (r"Not a valid number\.", "应为数字。"),
    (r"Number too large\.", "数值过大。"),
    (r"Special numeric values \(nan or infinity\) are not permitted\.",
     "不允许 NaN 或无穷大。"),
    (r"Not a valid boolean\.", "应为 true 或 false。"),
    (r"Not a valid (?:aware |naive )?datetime\.", "不是有效的日期时间（须带时区）。"),
    (r"Not a valid date\.", "不是有效的日期（YYYY-MM-DD）。"),
    (r"Not a valid list\.", "应为列表。"),
    (r"Not a valid mapping type\.", "应为对象。"),
    (r"Not a valid email address\.", "不是有效的电子邮件地址。"),
    (r"Not a valid URL\.", "不是有效的网址。"),
    (r"String does not match expected pattern\.", "格式不符合要求。"),
    (r"Must be one of: (.+)\.", "只能是以下之一：\\1。"),
    (r"Length must be between (\d+) and (\d+)\.", "长度须在 \\1 到 \\2 之间。"),
    (r"Length must be (\d+)\.", "长度须为 \\1。"),
    (r"Shorter than minimum length (\d+)\.", "长度不能少于 \\1。"),
    (r"Longer than maximum length (\d+)\.", "长度不能超过 \\1。"),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.",
     "须在 \\1 到 \\2 之间。"),
    (r"Must be greater than or equal to (\S+)\.", "不能小于 \\1。"),
    (r"Must be less than or equal to (\S+)\.", "不能大于 \\1。"),
    (r"Must be greater than (\S+)\.", "须大于 \\1。"),
    (r"Must be less than (\S+)\.", "须小于 \\1。"),
)]


def field_message(message: str, language: str) -> str:
    """One field's message for a caller reading ``language``: the part in its language
    of a message written in both; the library's English messages in Chinese."""
    chinese, english = split_languages(message)
    if language == ENGLISH:
        return english or chinese
    if chinese:
        return chinese
    for pattern, translation in _FIELD_MESSAGES:
        if pattern.match(english):
            return pattern.sub(translation, english)
    return english


def localized_fields(errors: object, language: str) -> object:
    """The ``fields`` of an error body (nested mappings and lists of messages, as the
    validation reports them), each message for the caller's language."""
    if isinstance(errors, dict):
        return {key: localized_fields(value, language) for key, value in errors.items()}
    if isinstance(errors, list):
        return [localized_fields(value, language) for value in errors]
    if isinstance(errors, str):
        return field_message(errors, language)
    return errors
