"""Errors in the caller's language (Accept-Language, Chinese by default), the codes
unchanged: the negotiation, the split of a message written in both languages, and the
gateway's answers in each language."""

from __future__ import annotations

import json

import pytest
from nameko.exceptions import RemoteError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.http import GatewayBase, endpoint
from gateway.language import (
    TITLES,
    field_message,
    localized,
    localized_fields,
    negotiate,
    split_languages,
)
from services.common.errors import APP_ERRORS, GatewayTimeout, NotFound, TooLarge


@pytest.mark.parametrize(("header", "language"), [
    (None, "zh-CN"), ("", "zh-CN"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en", "en"),
    ("en-US,en;q=0.9", "en"), ("fr, en;q=0.5", "en"), ("en;q=0.3, zh-TW;q=0.9", "zh-CN"),
    ("*", "zh-CN"), ("de", "zh-CN"), ("en;q=0", "zh-CN"), ("en;q=abc", "zh-CN"),
    ("en;q=1.2.3", "zh-CN"), ("x" * 10_000 + ",en", "zh-CN")])
def test_negotiation_prefers_chinese_unless_english_is_asked_for(header, language):
    assert negotiate(header) == language


@pytest.mark.parametrize(("message", "parts"), [
    ("数据存储暂时不可用，请稍后重试。The data store is unavailable.",
     ("数据存储暂时不可用，请稍后重试。", "The data store is unavailable.")),
    ("billing 未应答，请重试 / billing did not answer", ("billing 未应答，请重试",
                                                         "billing did not answer")),
    ("order SH-1 not found", ("", "order SH-1 not found")),
    ("unknown category '燃气灶'", ("", "unknown category '燃气灶'")),
    ("热水器有煤气味", ("热水器有煤气味", ""))])
def test_a_message_splits_into_its_chinese_and_english_parts(message, parts):
    assert split_languages(message) == parts


def test_every_error_code_has_a_title_in_both_languages():
    codes = {cls.code for cls in (*APP_ERRORS.values(), TooLarge, GatewayTimeout)}
    codes |= {"unauthorized", "unsupported_media_type", "internal"}
    assert codes <= TITLES.keys()
    for titles in TITLES.values():
        assert set(titles) == {"zh-CN", "en"}
        assert split_languages(titles["zh-CN"])[0] and not split_languages(titles["en"])[0]


def test_a_one_language_message_follows_a_title_the_caller_reads():
    assert localized("not_found", "order SH-1 not found", "zh-CN") == \
        "未找到：order SH-1 not found"
    assert localized("not_found", "订单不存在", "en") == "Not found: 订单不存在"


class _Gateway(GatewayBase):
    config = {"branches": ["SH"], "tokens_file": "deploy/config/tokens.yaml"}
    permissions = {"look": ("agent",)}

    @endpoint("look")
    def missing(self, request, caller):
        raise NotFound("工单不存在 / order not found")

    @endpoint(None)
    def remote(self, request, caller):
        raise RemoteError("KeyError", "'secret'")


def _get(handler, language: str | None, token: str = "demo-agent-sh"):
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    response = handler(Request(EnvironBuilder(path="/x", headers=headers).get_environ()))
    return response, json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize(("language", "answer"), [(None, "zh-CN"), ("en-GB", "en")])
def test_the_gateway_answers_in_the_callers_language_with_the_same_code(language, answer):
    gateway = _Gateway()
    chinese = answer == "zh-CN"
    response, body = _get(gateway.missing, language)
    assert (response.status_code, body["error"]) == (404, "not_found")
    assert body["message"] == ("工单不存在" if chinese else "order not found")
    assert response.headers["Content-Language"] == answer
    _, body = _get(gateway.missing, language, token="nobody")  # raised by the gateway itself
    assert body["error"] == "unauthorized"
    assert body["message"] == ("未通过身份验证：unknown or revoked token" if chinese
                               else "unknown or revoked token")
    response, body = _get(gateway.remote, language)
    assert (response.status_code, body["error"]) == (500, "internal")
    assert body["message"] == ("服务内部错误" if chinese else "Internal error")


@pytest.mark.parametrize(("message", "chinese"), [
    ("Missing data for required field.", "必填字段缺失。"),
    ("Unknown field.", "未知字段。"),
    ("Not a valid integer.", "应为整数。"),
    ("Not a valid aware datetime.", "不是有效的日期时间（须带时区）。"),
    ("Must be one of: hotline, web.", "只能是以下之一：hotline, web。"),
    ("Length must be between 1 and 500.", "长度须在 1 到 500 之间。"),
    ("Must be greater than or equal to 1 and less than or equal to 100.",
     "须在 1 到 100 之间。"),
    ("Must be greater than or equal to 0.", "不能小于 0。"),
    ("改判优先级必须填写理由 / a reason is required", "改判优先级必须填写理由"),
    ("A message of our own.", "A message of our own."),  # none known: as written
])
def test_field_messages_read_in_chinese_and_in_english_as_written(message, chinese):
    assert field_message(message, "zh-CN") == chinese
    english = split_languages(message)[1] or message
    assert field_message(message, "en") == english


def test_nested_field_errors_are_localised_where_they_stand():
    errors = {"customer": {"phone": ["Missing data for required field."]},
              "parts": {0: {"quantity": ["Must be greater than or equal to 1."]}},
              "_schema": ["Give at least one field."]}
    assert localized_fields(errors, "zh-CN") == {
        "customer": {"phone": ["必填字段缺失。"]},
        "parts": {0: {"quantity": ["不能小于 1。"]}},
        "_schema": ["Give at least one field."]}
    assert localized_fields(errors, "en") == errors
