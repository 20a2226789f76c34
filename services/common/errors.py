"""Errors that cross the RPC boundary and map to HTTP statuses in one place (the gateway).

Each carries a machine-readable code and optional field errors; ``str()`` is JSON so the
message survives nameko's RemoteError, which keeps only the exception type and text.
"""

from __future__ import annotations

import json
from typing import Any

from pymongo.errors import ConnectionFailure

# What a 503 tells the client to wait before trying again: about one server-selection
# timeout of the store's client (services/common/mongo.py), the time a store needs to be
# found again after it comes back.
RETRY_AFTER_SECONDS = 5


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
    """A service, the broker or a store this step depends on is out of reach; the
    gateway answers 503 with Retry-After."""

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
    """No answer in time: the call may still complete, so the client checks before
    repeating it."""

    status = 504
    code = "timeout"


def _names(cls: type) -> set[str]:
    return {cls.__name__}.union(*(_names(sub) for sub in cls.__subclasses__()))


# A service's store did not answer (no server found, connection lost or timed out, pool
# exhausted): pymongo's ConnectionFailure family, by name because nameko passes only the
# type's name. Read from pymongo itself, so a new kind of connection failure is included.
STORE_OUTAGES = frozenset(_names(ConnectionFailure))


def store_outage(exc_type: str | None, value: Any) -> Unavailable | None:
    """An Unavailable for a remote store failure, else None. A service that re-raises a
    RemoteError of another (dispatch asking billing) nests it: ``RemoteError`` whose text
    begins with the inner type's name."""
    while exc_type == "RemoteError" and isinstance(value, str) and value:
        exc_type, _, value = value.partition(" ")
    if exc_type not in STORE_OUTAGES:
        return None
    return Unavailable("数据存储暂时不可用，请稍后重试。The data store is unavailable; "
                       "try again later.")


APP_ERRORS: dict[str, type[AppError]] = {
    cls.__name__: cls for cls in (AppError, InvalidInput, NotFound, Conflict, Forbidden,
                                  Unavailable)
}
