"""Errors that cross the RPC boundary and map to HTTP statuses in one place (the gateway).

Each carries a machine-readable code and optional field errors; ``str()`` is JSON so the
message survives nameko's RemoteError, which keeps only the exception type and text.
"""

from __future__ import annotations

import json
from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return json.dumps({"code": self.code, "message": self.message, "fields": self.fields},
                          ensure_ascii=False)


class InvalidInput(AppError):
    status = 422
    code = "invalid_input"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class TooLarge(AppError):
    status = 413
    code = "too_large"


class UnsupportedMedia(AppError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(AppError):
    """A service this step depends on did not answer; nothing was changed."""

    status = 503
    code = "unavailable"


def from_remote(exc_type: str, value: str) -> AppError | None:
    """The AppError a remote service raised (nameko keeps only its type and text), to pass
    on unchanged; None for anything else."""
    cls = APP_ERRORS.get(exc_type)
    if cls is None:
        return None
    try:
        detail = json.loads(value)
    except (TypeError, ValueError):
        return cls(str(value))
    return cls(detail.get("message") or "", detail.get("fields") or {})


class GatewayTimeout(AppError):
    status = 504
    code = "timeout"


APP_ERRORS: dict[str, type[AppError]] = {
    cls.__name__: cls for cls in (AppError, InvalidInput, NotFound, Conflict, Forbidden,
                                  Unavailable)
}
