"""The gateway's body decoding: invalid Unicode is a 422 naming the field, before anything
reaches a service (a lone surrogate cannot be stored, logged as UTF-8 or even answered)."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.http import GatewayBase, json_response
from services.common.errors import AppError


class _Gateway(GatewayBase):
    """The body checks alone, with the configured size limit."""

    def __init__(self) -> None:
        self.config = {"http": {"max_body_bytes": 65536}}


def _request(raw: bytes) -> Request:
    return Request(EnvironBuilder(method="POST", data=raw,
                                  content_type="application/json").get_environ())


def _refusal(raw: bytes) -> AppError:
    with pytest.raises(AppError) as caught:
        _Gateway()._body(_request(raw))
    return caught.value


BAD = [
    ("high surrogate in a nested value", rb'{"customer": {"name": "\ud800"}}',
     {"customer": {"name": None}}),
    ("low surrogate after text", rb'{"description": "abc\udfff"}', {"description": None}),
    ("reversed pair", rb'{"note": "\ude00\ud83d"}', {"note": None}),
    ("surrogate as a top-level key", rb'{"\ud800": 1}', {"\\ud800": None}),
    ("surrogate in a nested key", rb'{"product": {"mo\udc00del": "x"}}',
     {"product": {"mo\\udc00del": None}}),
    ("surrogate in a list item", rb'{"parts_used": [{"sku": "A"}, {"sku": "\udbff"}]}',
     {"parts_used": {1: {"sku": None}}}),
    ("surrogate in a list of strings", rb'{"certificates": ["gas", "\ud800"]}',
     {"certificates": {1: None}}),
]


def _shape(fields: object) -> object:
    """The error tree with each message list replaced by None, to compare paths."""
    if isinstance(fields, dict):
        return {key: _shape(value) for key, value in fields.items()}
    return None


@pytest.mark.parametrize(("case", "raw", "shape"), BAD, ids=[c[0] for c in BAD])
def test_lone_surrogates_are_a_422_naming_the_field(case, raw, shape):
    refusal = _refusal(raw)
    assert refusal.status == 422
    assert refusal.code == "invalid_input"
    assert _shape(refusal.fields) == shape
    assert "\u4e00" <= refusal.message[0] <= "\u9fff" and "Unicode" in refusal.message
    # The answer itself can be encoded: keys are shown escaped.
    response = json_response(refusal.status, {"fields": refusal.fields})
    assert json.loads(response.get_data())["fields"]


@pytest.mark.parametrize("raw", [
    '{"name": "𠮷野家", "note": "漏水\\n很严重"}'.encode(),
    rb'{"name": "\ud842\udfb7\u91ce\u5bb6"}',  # the same name with a surrogate pair
    rb'{"emoji": "\ud83d\ude00"}',
])
def test_valid_unicode_passes(raw):
    assert isinstance(_Gateway()._body(_request(raw)), dict)
