"""Two dispatch replicas racing over the same queue never give one order to two
technicians, nor take a technician's capacity twice."""

import concurrent.futures
import time

from tests.e2e.conftest import request_body

HELD = ("offered", "accepted", "contacted", "scheduled", "on_site", "waiting_parts")


def _all_orders(api, ids: set[str]) -> list[dict]:
    found = []
    for page in range(1, 20):
        items = api.get("/api/v1/orders", params={"page": page, "page_size": 100}).json()[
            "items"]
        found += [item for item in items if item["order_id"] in ids]
        if len(items) < 100:
            break
    return found


def test_two_replicas_on_two_hundred_orders(api):
    body = {"product__category": "range_hood", "description": "吸力变小"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda _: api.post("/api/v1/requests",
                                                     request_body(**body), "agent"),
                                  range(200)))
    ids = {r.json()["order_id"] for r in responses}
    assert len(ids) == 200
    deadline = time.monotonic() + 60
    while len(_all_orders(api, ids)) < 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    # Nobody could take them; now technicians appear and both replicas drain the queue.
    techs = [api.technician(["appliance"], cap=20) for _ in range(5)]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        held = [o for o in _all_orders(api, ids) if o["status"] in HELD]
        if len(held) == 100:
            break
        time.sleep(0.5)
    orders = _all_orders(api, ids)
    held = [o for o in orders if o["status"] in HELD]
    assert len(held) == 100  # 5 technicians x cap 20, no more
    for tech_id in techs:
        tech = api.get(f"/api/v1/technicians/{tech_id}").json()
        mine = [o for o in held if (o["offer"] or {}).get("technician_id") == tech_id
                or o["technician_id"] == tech_id]
        assert tech["active_jobs"] == len(mine) == 20
    for order in held:
        timeline = api.get(f"/api/v1/orders/{order['order_id']}/timeline").json()["timeline"]
        assert [e["step"] for e in timeline].count("offered") == 1
