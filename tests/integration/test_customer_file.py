"""The customer file in intake, against the real broker and store: a first call makes the
household and its unit, a second call adds to them, a redelivered request makes nothing
twice, and another branch sees none of it."""

from datetime import UTC, datetime

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.intake.service import IntakeService
from tests.integration.test_services import _request, _set_clock

SH_PHONE = "13700001111"


def _db(mongo, settings):
    return mongo[f"{settings['db_prefix']}_intake"]


def _find(rpc, phone: str, branch: str = "SH") -> dict:
    return rpc.intake.find_customers({"phone": phone}, branch)


def _start(start_service):
    container = start_service(IntakeService)
    _set_clock(container, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    return container


def test_two_requests_from_one_phone_make_one_customer_with_two_units(start_service,
                                                                      settings, mongo):
    _start(start_service)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        first = rpc.intake.create_request(_request(call_id="c-1"), None)
        second = rpc.intake.create_request(_request(
            call_id="c-2", customer={"name": "李女士", "phone": "+86 13700001111",
                                     "address": "浦东新区世纪大道2号", "region_code": "310115"},
            product={"category": "range_hood", "serial_number": "RH-9", "model": "CXW-1",
                     "series": "S9", "installer": "SH-T01"},
            description="吸力小"), None)
        found = rpc.intake.find_customers({"phone": "1370000"}, "SH")
        exact = rpc.intake.find_customers({"phone": "137 0000 1111"}, "SH")
        customer = rpc.intake.get_customer(found["items"][0]["customer_id"], "SH")
    db = _db(mongo, settings)
    assert db.customers.count_documents({}) == 1
    assert first["created"] and second["created"]
    assert found == exact and len(found["items"]) == 1
    assert customer["phones"] == [SH_PHONE]
    assert [a["address"] for a in customer["addresses"]] == ["浦东新区世纪大道1号",
                                                             "浦东新区世纪大道2号"]
    by_serial = {u["serial_number"]: u for u in customer["units"]}
    assert set(by_serial) == {"EWH-1", "RH-9"}
    assert by_serial["RH-9"]["model"] == "CXW-1" and by_serial["RH-9"]["series"] == "S9"
    assert by_serial["EWH-1"]["purchase_date"] == "2025-01-10"
    assert [h["order_id"] for h in by_serial["EWH-1"]["history"]] == [first["order_id"]]
    assert by_serial["RH-9"]["history"][0]["description"] == "吸力小"
    assert {r["order_id"] for r in customer["open_requests"]} == {first["order_id"],
                                                                  second["order_id"]}
    stored = db.requests.find_one({"_id": first["order_id"]})
    assert stored["customer_id"] == customer["customer_id"]
    assert stored["unit_id"] == by_serial["EWH-1"]["unit_id"]


def test_a_redelivered_request_makes_nothing_twice(start_service, settings, mongo):
    _start(start_service)
    db = _db(mongo, settings)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        order = rpc.intake.create_request(_request(call_id="c-1"), None)
        rpc.intake.create_request(_request(call_id="c-1"), None)
        # A crash after the order was written and before its unit was: the redelivery
        # finishes the link, once.
        db.units.delete_many({})
        again = rpc.intake.create_request(_request(call_id="c-1"), None)
        rpc.intake.create_request(_request(), None)  # the same matter again: a reminder
    assert order["order_id"] == again["order_id"]
    assert db.customers.count_documents({}) == 1
    assert db.requests.count_documents({}) == 1
    units = list(db.units.find())
    assert [u["order_ids"] for u in units] == [[order["order_id"]]]


def test_concurrent_first_calls_from_one_phone_make_one_customer(start_service, settings,
                                                                 mongo):
    _start(start_service)
    with ClusterRpcProxy(settings, timeout=20) as rpc:
        replies = [rpc.intake.create_request.call_async(_request(
            call_id=f"c-{i}", product={"category": "gas_stove", "serial_number": f"GS-{i}"}),
            None) for i in range(4)]
        orders = [reply.result() for reply in replies]
    db = _db(mongo, settings)
    assert len({o["order_id"] for o in orders}) == 4
    assert db.customers.count_documents({}) == 1
    assert db.units.count_documents({}) == 4
    assert len({doc["customer_id"] for doc in db.requests.find()}) == 1


def test_another_branch_cannot_see_a_customer_through_the_rpc(start_service, settings):
    _start(start_service)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.intake.create_request(_request(), None)
        customer_id = _find(rpc, SH_PHONE)["items"][0]["customer_id"]
        assert rpc.intake.find_customers({"phone": SH_PHONE}, "SZ") == {"items": []}
        for call in (lambda: rpc.intake.get_customer(customer_id, "SZ"),
                     lambda: rpc.intake.add_customer_phone(customer_id,
                                                           {"phone": "13900001111"}, "SZ")):
            with pytest.raises(RemoteError) as refused:
                call()
            assert refused.value.exc_type == "NotFound"
        assert rpc.intake.get_customer(customer_id, "SH")["phones"] == [SH_PHONE]


def test_a_second_phone_finds_the_household_and_bad_input_changes_nothing(start_service,
                                                                          settings, mongo):
    _start(start_service)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        rpc.intake.create_request(_request(), None)
        rpc.intake.create_request(_request(customer={
            "name": "王先生", "phone": "13900002222", "address": "浦东新区1号",
            "region_code": "310115"}, product={"category": "gas_stove"}), None)
        customer_id = _find(rpc, SH_PHONE)["items"][0]["customer_id"]
        added = rpc.intake.add_customer_phone(customer_id, {"phone": "021-64871234"}, "SH")
        assert added["phones"] == [SH_PHONE, "02164871234"]
        assert rpc.intake.find_customers({"phone": "02164871234"}, "SH")["items"][0][
            "customer_id"] == customer_id
        for payload, error in (({"phone": "12"}, "InvalidInput"),
                               ({"phone": "13900002222"}, "Conflict"),
                               ({"phone": "1", "x": 1}, "InvalidInput")):
            with pytest.raises(RemoteError) as refused:
                rpc.intake.add_customer_phone(customer_id, payload, "SH")
            assert refused.value.exc_type == error
        with pytest.raises(RemoteError) as short:
            rpc.intake.find_customers({"phone": "13700"}, "SH")
        assert short.value.exc_type == "InvalidInput"
        with pytest.raises(RemoteError) as missing:
            rpc.intake.get_customer("CU-SH-20261120-999999", "SH")
        assert missing.value.exc_type == "NotFound"
    assert _db(mongo, settings).customers.find_one({"_id": customer_id})["phones"] == [
        SH_PHONE, "02164871234"]


def test_two_records_of_one_household_merge_into_one_and_a_repeat_changes_nothing(
        start_service, settings, mongo):
    _start(start_service)
    db = _db(mongo, settings)
    with ClusterRpcProxy(settings, timeout=10) as rpc:
        first = rpc.intake.create_request(_request(), None)
        second = rpc.intake.create_request(_request(customer={
            "name": "李先生", "phone": "13900002222", "address": "浦东新区世纪大道1号",
            "region_code": "310115"}, product={"category": "gas_stove", "serial_number": "GS-1"}),
            None)
        kept = _find(rpc, SH_PHONE)["items"][0]["customer_id"]
        other = _find(rpc, "13900002222")["items"][0]["customer_id"]
        for payload, error in (({"customer_id": kept}, "InvalidInput"),
                               ({"customer_id": "CU-SH-20261120-999999"}, "NotFound"),
                               ({}, "InvalidInput")):
            with pytest.raises(RemoteError) as refused:
                rpc.intake.merge_customers(kept, payload, "SH")
            assert refused.value.exc_type == error
        merged = rpc.intake.merge_customers(kept, {"customer_id": other}, "SH")
        again = rpc.intake.merge_customers(kept, {"customer_id": other}, "SH")
        assert _find(rpc, "13900002222")["items"][0]["customer_id"] == kept
        with pytest.raises(RemoteError) as gone:
            rpc.intake.get_customer(other, "SH")
        assert gone.value.exc_type == "NotFound"
    assert merged == again
    assert merged["phones"] == [SH_PHONE, "13900002222"]
    assert {u["serial_number"] for u in merged["units"]} == {"EWH-1", "GS-1"}
    assert {r["order_id"] for r in merged["open_requests"]} == {first["order_id"],
                                                                second["order_id"]}
    assert db.customers.count_documents({}) == 1
    assert db.merged_customers.find_one({"_id": other})["merged_into"] == kept
