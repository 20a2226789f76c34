"""A milestone's outcome is counted once, when the write that reaches it is in: not for a
write the store refused, nor twice when a lost race makes the step run again."""

import pytest
from pymongo.errors import AutoReconnect

from services.dispatch.dispatcher import Actor
from services.dispatch.store import DispatchStore, ensure_indexes
from tests.integration.test_dispatch_parts import START, _dispatcher

ORDER = "SH-20261120-000091"
DISPATCHER = Actor("dispatcher", "SH")


def _accepted_order(db) -> None:
    DispatchStore(db).insert_technician({
        "_id": "IT-O", "branch": "SH", "name": "孙工", "certificates": ["gas"],
        "zones": ["intensive"], "lat": 31.23, "lon": 121.48, "shift": "always", "cap": 3})
    _dispatcher(db, START).create_from_event({
        "order_id": ORDER, "branch": "SH", "zone": "intensive", "region_code": "310101",
        "lat": 31.23, "lon": 121.48, "request_type": "repair", "priority": "normal",
        "priority_reasons": [], "received_at": START,
        "product": {"category": "gas_water_heater"}, "customer": {},
        "deadlines": {"first_contact": START.replace(hour=4).isoformat()}})
    _dispatcher(db, START).step(ORDER, "accept", {}, DISPATCHER)


class FlakyStore(DispatchStore):
    """The first order write fails: with an error, or by losing a race to another
    writer (the order's version moves on between the read and the write)."""

    def __init__(self, db, how: str) -> None:
        super().__init__(db)
        self.how, self.failed = how, False

    def update(self, doc, *args, **kwargs) -> bool:
        if not self.failed:
            self.failed = True
            if self.how == "error":
                raise AutoReconnect("the primary stepped down")
            self.orders.update_one({"_id": doc["_id"]}, {"$inc": {"version": 1}})
        return super().update(doc, *args, **kwargs)


@pytest.fixture
def db(mongo, db_prefix):
    database = mongo[f"{db_prefix}_dispatch"]
    ensure_indexes(database)
    _accepted_order(database)
    return database


def test_a_refused_write_counts_nothing_and_its_retry_counts_once(db):
    failing = _dispatcher(db, START)
    failing.store = FlakyStore(db, "error")
    with pytest.raises(AutoReconnect):
        failing.step(ORDER, "contact", {}, DISPATCHER)
    assert failing.uow.milestones == []
    retried = _dispatcher(db, START)
    retried.step(ORDER, "contact", {}, DISPATCHER)
    assert [r.outcome for r in retried.uow.milestones] == ["met"]


def test_a_step_that_lost_a_race_and_ran_again_counts_once(db):
    racing = _dispatcher(db, START)
    racing.store = FlakyStore(db, "race")
    racing.step(ORDER, "contact", {}, DISPATCHER)
    assert racing.store.failed
    assert [(r.labels[2], r.outcome) for r in racing.uow.milestones] == [
        ("first_contact", "met")]
