"""An order nobody on the branch's roster is qualified for, against the real broker and
store: flagged with what is missing when it arrives, listed for the dispatcher, and
offered (the flag cleared) as soon as a qualified technician is registered."""

from datetime import UTC, datetime

from nameko.standalone.rpc import ClusterRpcProxy

from services.common.messaging import event_exchange
from services.common.outbox import new_event
from services.dispatch.service import DispatchService
from tests.integration.conftest import order_created_data, wait_for

ORDER = "SH-20261203-000041"


def _technician(technician_id: str, certificates: list[str]) -> dict:
    return {"technician_id": technician_id, "name": "孙工", "certificates": certificates,
            "zones": ["standard"], "lat": 31.22, "lon": 121.54, "shift": "always", "cap": 3}


def test_an_unqualified_order_is_flagged_then_offered_when_a_qualified_technician_registers(
        start_service, settings, broker, mongo):
    start_service(DispatchService)
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.dispatch.create_technician(_technician("UQ-GAS", ["gas"]), "SH")
        now = datetime.now(UTC)
        broker.Producer(serializer="json").publish(
            new_event("order_created", "intake", "SH", order_created_data(ORDER, now), now),
            exchange=event_exchange("intake"), routing_key="order_created")
        order = wait_for(lambda: db.orders.find_one({"_id": ORDER}))
        assert order["status"] == "new"
        assert {k: v for k, v in order["unqualified"].items() if k != "since"} == {
            "missing": ["electrical"], "zone": "standard", "zone_covered": True}
        assert [entry["step"] for entry in order["timeline"]] == ["created", "unqualified"]
        listed = rpc.dispatch.list_orders({"unqualified": True}, "SH")
        assert [item["order_id"] for item in listed["items"]] == [ORDER]
        assert listed["items"][0]["unqualified"]["missing"] == ["electrical"]

        rpc.dispatch.create_technician(_technician("UQ-ELEC", ["electrical"]), "SH")
        order = db.orders.find_one({"_id": ORDER})  # offered within the registration call
        assert order["status"] == "offered" and order["offer"]["technician_id"] == "UQ-ELEC"
        assert "unqualified" not in order
        assert rpc.dispatch.list_orders({"unqualified": True}, "SH")["total"] == 0


def test_an_update_that_qualifies_a_technician_offers_the_flagged_order(
        start_service, settings, broker, mongo):
    start_service(DispatchService)
    db = mongo[f"{settings['db_prefix']}_dispatch"]
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.dispatch.create_technician(_technician("UQ-LATER", ["gas"]), "SH")
        now = datetime.now(UTC)
        broker.Producer(serializer="json").publish(
            new_event("order_created", "intake", "SH", order_created_data(ORDER, now), now),
            exchange=event_exchange("intake"), routing_key="order_created")
        wait_for(lambda: (db.orders.find_one({"_id": ORDER}) or {}).get("unqualified"))
        rpc.dispatch.update_technician("UQ-LATER", {"certificates": ["gas", "electrical"]},
                                       "SH")
        order = db.orders.find_one({"_id": ORDER})
        assert order["status"] == "offered" and "unqualified" not in order
