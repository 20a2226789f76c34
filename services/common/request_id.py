"""One id per request, from the gateway to every service it reaches and every log line.

The gateway takes the caller's ``X-Request-Id`` when it is a plain token (letters,
digits, ``._:-``, at most 128 characters) that the logs' masking leaves as it is (no run of
digits that reads as a phone number), else makes one, and answers with it. The id
travels in nameko's context data (``request_id``: an RPC carries it as the message
header ``nameko.request_id``) and in the envelope of every event a call writes, so a
consumer of the event works under the same id. ``RequestIdProvider`` puts the worker's
id in a context variable (each green thread has its own), which the log formatter
writes on every line.
"""

from __future__ import annotations

import base64
import re
import uuid
from contextvars import ContextVar, Token
from typing import Any

from nameko.extensions import DependencyProvider

from services.common.privacy import mask_text

CONTEXT_KEY = "request_id"
HEADER = "X-Request-Id"
MAX_LENGTH = 128
_VALID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_LENGTH - 1}}}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    """128 random bits in base32 (a-z, 2-7): no run of digits a log's masking could take
    for a phone number (a hex uuid has one in about one id of ten)."""
    return base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()


def valid(value: Any) -> bool:
    """A plain token that every log line can carry unchanged."""
    return (isinstance(value, str) and _VALID.fullmatch(value) is not None
            and mask_text(value) == value)


def accepted(value: Any) -> str:
    """``value`` when it is a valid id, else a new one: a hostile or malformed value (a
    line break, markup, a megabyte) is never echoed, logged or passed on."""
    return value if valid(value) else new_request_id()


def current() -> str | None:
    """The id of the request this green thread works for, if any."""
    return _current.get()


class RequestIdProvider(DependencyProvider):
    """Binds each worker to its request's id: the one in its context data (an RPC from
    the gateway, an event's envelope), else a new one (a timer's run), kept in the
    context data so the RPCs the worker makes carry it on."""

    def __init__(self) -> None:
        self._tokens: dict[Any, Token] = {}

    def get_dependency(self, worker_ctx) -> str:
        # nameko injects dependencies in the worker's green thread before any
        # worker_setup hook runs: bound here, so those hooks log under the id too.
        request_id = accepted(worker_ctx.data.get(CONTEXT_KEY))
        worker_ctx.data[CONTEXT_KEY] = request_id  # context_data is a copy of data
        self._tokens[worker_ctx] = _current.set(request_id)
        return request_id

    def worker_teardown(self, worker_ctx) -> None:
        token = self._tokens.pop(worker_ctx, None)
        if token is not None:
            _current.reset(token)
