"""The HQ call centre's routing table: region code (or prefix) -> branch, and each branch's
broker (AMQP URI with its vhost). Loaded from the YAML file named by ``HQ_ROUTING_FILE``::

    branches:
      SH: {amqp_uri: "amqp://user:pass@rabbit:5672/aftersales-sh"}
    regions:            # the longest matching prefix wins
      "3101": SH
    rpc_timeout_seconds: 10
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.common.config import ConfigError, read_yaml
from services.common.errors import AppError, GatewayTimeout
from services.common.request_id import CONTEXT_KEY
from services.common.request_id import current as current_request_id

_BRANCH = re.compile(r"^[A-Z]{2,8}$")
_PREFIX = re.compile(r"^\d{1,6}$")
_ORDER_BRANCH = re.compile(r"^([A-Z]{2,8})-\d{8}-\d{6}$")


class BranchUnavailable(AppError):
    status = 503
    code = "branch_unavailable"


@dataclass(frozen=True)
class RoutingTable:
    branches: dict[str, str]  # branch -> AMQP URI
    regions: dict[str, str]  # region code or prefix -> branch
    rpc_timeout_seconds: float = 10.0

    def branch_for_region(self, region_code: str) -> str | None:
        for length in range(len(region_code), 0, -1):
            branch = self.regions.get(region_code[:length])
            if branch is not None:
                return branch
        return None

    def branch_of_order(self, order_id: str) -> str | None:
        match = _ORDER_BRANCH.match(order_id)
        return match.group(1) if match and match.group(1) in self.branches else None


def parse_table(raw: dict[str, Any]) -> RoutingTable:
    """Checks the whole table; a bad entry names itself."""
    branches = raw.get("branches")
    regions = raw.get("regions")
    if not isinstance(branches, dict) or not branches:
        raise ConfigError("HQ routing: 'branches' must map branch codes to {amqp_uri}")
    if not isinstance(regions, dict) or not regions:
        raise ConfigError("HQ routing: 'regions' must map region codes/prefixes to branches")
    uris = {}
    for code, spec in branches.items():
        uri = (spec or {}).get("amqp_uri") if isinstance(spec, dict) else None
        if not _BRANCH.match(str(code)) or not isinstance(uri, str) or \
                not re.match(r"^amqps?://", uri):
            raise ConfigError(f"HQ routing: branch {code!r} needs a code of 2-8 capitals "
                              f"and an amqp:// uri")
        uris[str(code)] = uri
    table = {}
    for prefix, branch in regions.items():
        if not _PREFIX.match(str(prefix)) or branch not in uris:
            raise ConfigError(f"HQ routing: region {prefix!r} -> {branch!r}: give 1-6 digits "
                              f"and one of the branches {sorted(uris)}")
        table[str(prefix)] = branch
    try:
        timeout = float(raw.get("rpc_timeout_seconds", 10))
    except (TypeError, ValueError):
        raise ConfigError("HQ routing: rpc_timeout_seconds must be a number") from None
    return RoutingTable(uris, table, timeout)


def load_table(path: str) -> RoutingTable:
    return parse_table(read_yaml(path))


def _context() -> dict[str, str]:
    """The request's id, carried to the branch's services like any RPC's."""
    request_id = current_request_id()
    return {CONTEXT_KEY: request_id} if request_id else {}


def call_branch(table: RoutingTable, branch: str, service: str, method: str, *args) -> Any:
    """One RPC over the branch's own broker and vhost, bounded by the table's timeout."""
    seconds = table.rpc_timeout_seconds
    config = {"AMQP_URI": table.branches[branch], "SERIALIZER": "json"}
    try:
        with eventlet.Timeout(seconds + 5), ClusterRpcProxy(
                config, timeout=seconds, context_data=_context()) as rpc:
            return getattr(getattr(rpc, service), method)(*args)
    except (RpcTimeout, eventlet.Timeout):
        raise GatewayTimeout(f"branch {branch} did not answer within {seconds:g} s; "
                             f"try again") from None
    except UnknownService:
        raise BranchUnavailable(f"branch {branch}: {service} is not running", {
            "service": service}) from None
    except (OSError, OperationalError, AMQPError) as exc:
        raise BranchUnavailable(f"branch {branch} cannot be reached: {exc}") from None
