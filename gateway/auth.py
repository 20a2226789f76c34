"""Bearer tokens -> who is calling (role, branch, technician), and what each role may do."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from services.common.config import read_yaml
from services.common.errors import Forbidden, Unauthorized

ROLES = ("agent", "dispatcher", "technician", "supervisor", "admin", "warehouse", "finance",
         "callback_staff", "complaint_handler", "hq_auditor")
# Roles with one narrow use, outside ROLES so that tables granting ``ROLES`` leave them out:
# a wall screen reads the wallboard only; the HQ call centre routes requests to branches.
NARROW_ROLES = ("board", "hq_agent")
STAFF = ("dispatcher", "supervisor", "admin")


@dataclass(frozen=True)
class Caller:
    role: str
    branch: str
    technician_id: str | None = None
    expires_at: datetime | None = None
    user: str | None = None  # a named member of staff (callback staff, auditors)

    @property
    def staff_id(self) -> str:
        return self.user or self.technician_id or f"{self.role}@{self.branch}"

    def as_actor(self) -> dict:
        return {"role": self.role, "branch": self.branch, "technician_id": self.technician_id}


def load_tokens(path: str) -> dict[str, Caller]:
    """The token file, read again whenever it changes: removing a token from the mounted
    file revokes it without a restart."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    return _parse_tokens(path, stamp)


@lru_cache(maxsize=4)
def _parse_tokens(path: str, stamp: int | None) -> dict[str, Caller]:
    raw = read_yaml(path).get("tokens") or {}
    tokens = {}
    for token, spec in raw.items():
        if spec.get("role") not in (*ROLES, *NARROW_ROLES):
            raise ValueError(f"token config: unknown role {spec.get('role')!r}")
        tokens[str(token)] = Caller(spec["role"], spec["branch"], spec.get("technician_id"),
                                    _expiry(spec.get("expires_at")), spec.get("user"))
    return tokens


def _expiry(value: Any) -> datetime | None:
    """YAML gives a datetime for an ISO timestamp; a date-only value expires at its start."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def authenticate(header: str | None, tokens: dict[str, Caller],
                 now: datetime | None = None) -> Caller:
    if not header:
        raise Unauthorized("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("malformed Authorization header; use 'Bearer <token>'")
    token = token.strip()
    for known, caller in tokens.items():  # constant-time compare against each token
        if hmac.compare_digest(known.encode(), token.encode()):
            if caller.expires_at and caller.expires_at <= (now or datetime.now(UTC)):
                raise Unauthorized("the token has expired")
            return caller
    raise Unauthorized("unknown or revoked token")


def authorize(caller: Caller, operation: str, branches: list[str],
              permissions: dict[str, tuple[str, ...]]) -> None:
    """``permissions``: which roles may call each operation (the route modules' tables)."""
    if caller.branch not in branches:
        raise Forbidden(f"branch {caller.branch} is not served here")
    if caller.role not in permissions.get(operation, ()):
        raise Forbidden(f"role {caller.role} may not {operation}")
