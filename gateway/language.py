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
