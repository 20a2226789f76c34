"""Demo reference data: technicians for each served branch, loaded through the dispatch
service on an empty deployment."""

from __future__ import annotations

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.config import read_yaml

DEMO_TECHNICIANS = "deploy/config/demo_technicians.yaml"


def demo_technicians(branches: list[str]) -> list[dict]:
    rows = read_yaml(DEMO_TECHNICIANS)["technicians"]
    return [row for row in rows if row["branch"] in branches]


def seed_if_empty(settings: dict) -> int:
    loaded = 0
    with ClusterRpcProxy({"AMQP_URI": settings["AMQP_URI"]},
                         timeout=settings["rpc_timeout_seconds"]) as rpc:
        for branch in settings["branches"]:
            if rpc.dispatch.list_technicians(branch):
                continue
            for row in demo_technicians([branch]):
                payload = {key: value for key, value in row.items() if key != "branch"}
                payload["technician_id"] = payload.pop("id")
                rpc.dispatch.create_technician(payload, branch)
                loaded += 1
        loaded += seed_opening_stock(rpc, settings["branches"])
    return loaded


def seed_opening_stock(rpc, branches: list[str]) -> int:
    """Opening stock of the demo parts, received through the inventory ledger (receipt
    ids are fixed, so running it again changes nothing)."""
    return sum(rpc.inventory.load_opening_stock(branch) for branch in branches)
