"""An order nobody on the branch's roster is qualified for, against the real broker and
store: flagged with what is missing when it arrives, listed for the dispatcher, and
offered (the flag cleared) as soon as a qualified technician is registered or updated."""

from datetime import UTC, datetime

from nameko.standalone.rpc import ClusterRpcProxy

from services.dispatch.service import DispatchService
from tests.integration.conftest import publish_order_created, technician, wait_for

ORDER = "SH-20261203-000041"


def _flagged(start_service, settings, broker, mongo, rpc, technician_id: str):
    """The dispatch service with one gas technician, and an electric water heater's
    repair (it needs the electrical certificate) taken in and flagged."""
    start_service(DispatchService)
    orders = mongo[f"{settings['db_prefix']}_dispatch"].orders
    rpc.dispatch.create_technician(technician(technician_id, ["gas"], "孙工"), "SH")
    publish_order_created(broker, ORDER, datetime.now(UTC))
    wait_for(lambda: (orders.find_one({"_id": ORDER}) or {}).get("unqualified"))
    return orders


def test_an_unqualified_order_is_flagged_then_offered_when_a_qualified_technician_registers(
        start_service, settings, broker, mongo):
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        orders = _flagged(start_service, settings, broker, mongo, rpc, "UQ-GAS")
        order = orders.find_one({"_id": ORDER})
        assert order["status"] == "new"
        assert {k: v for k, v in order["unqualified"].items() if k != "since"} == {
            "missing": ["electrical"], "zone": "standard", "zone_covered": True}
        assert [entry["step"] for entry in order["timeline"]] == ["created", "unqualified"]
        listed = rpc.dispatch.list_orders({"unqualified": True}, "SH")
        assert [item["order_id"] for item in listed["items"]] == [ORDER]
        assert listed["items"][0]["unqualified"]["missing"] == ["electrical"]

        rpc.dispatch.create_technician(technician("UQ-ELEC"), "SH")
        order = orders.find_one({"_id": ORDER})  # offered by the time the call returns
        assert order["status"] == "offered" and order["offer"]["technician_id"] == "UQ-ELEC"
        assert "unqualified" not in order
        assert rpc.dispatch.list_orders({"unqualified": True}, "SH")["total"] == 0


def test_an_update_that_qualifies_a_technician_offers_the_flagged_order(
        start_service, settings, broker, mongo):
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        orders = _flagged(start_service, settings, broker, mongo, rpc, "UQ-LATER")
        rpc.dispatch.update_technician("UQ-LATER", {"certificates": ["gas", "electrical"]},
                                       "SH")
        order = orders.find_one({"_id": ORDER})
        assert order["status"] == "offered" and "unqualified" not in order
