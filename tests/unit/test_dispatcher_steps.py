"""The dispatcher's steps on an in-memory store: each writes one change whose state is the
lifecycle's, an illegal step writes nothing, and a milestone counts only once its write
is in."""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.errors import Conflict, InvalidInput
from services.common.reference import load_reference
from services.common.unit_of_work import UnitOfWork
from services.dispatch.dispatcher import Actor, Dispatcher
from services.dispatch.domain.booking import Booking
from services.dispatch.domain.lifecycle import HELD_STATES, TRANSITIONS
from services.dispatch.domain.work_order import Change

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
REFERENCE = load_reference("deploy/config/reference.yaml")
TECH = Actor("technician", "SH", "SH-T01")


class MemoryStore:
    """The part of DispatchStore the steps use: orders by id, conditional on the version
    read, and the changes written."""

    def __init__(self, order: dict) -> None:
        self.orders = {order["_id"]: order}
        self.written: list[Change] = []
        self.refuse_next = False
        self.released: list[str] = []

    def get(self, order_id: str, branch: str | None = None) -> dict | None:
        order = self.orders.get(order_id)
        if order is None or (branch and order["branch"] != branch):
            return None
        return copy.deepcopy(order)

    def update(self, doc: dict, change: Change, due: datetime) -> bool:
        if self.refuse_next:  # another writer got there first
            self.refuse_next = False
            self.orders[doc["_id"]]["version"] += 1
            return False
        order = self.orders[doc["_id"]]
        if order["version"] != doc["version"]:
            return False
        if change.status:
            order["status"] = change.status
        for path, value in change.facts.items():
            *outer, last = path.split(".")
            target = order
            for key in outer:
                target = target.setdefault(key, {})
            target[last] = value
        if change.applied_event:
            order.setdefault("applied_events", []).append(change.applied_event)
        order["version"] += 1
        self.written.append(change)
        return True

    def technicians_of(self, branch: str) -> list:
        return []

    def technician(self, technician_id: str, branch: str | None = None) -> dict:
        return {"_id": technician_id, "branch": "SH", "active": True}

    def release_capacity(self, technician_id: str | None, order_id: str) -> None:
        self.released.append(technician_id)

    def hold_bookings(self, technician_id: str, holder: str, now, until) -> bool:
        return True

    def free_bookings(self, technician_id: str, holder: str) -> None:
        pass

    def bookings_of(self, technician_id: str, but: str) -> list[Booking]:
        return [Booking(o["_id"], o["appointment"]["start"], o["appointment"]["end"])
                for o in self.orders.values()
                if o["_id"] != but and o.get("technician_id") == technician_id
                and o.get("appointment") and o["status"] in HELD_STATES]

    def reminders_due(self, now: datetime, limit: int = 200) -> list[dict]:
        return [copy.deepcopy(o) for o in self.orders.values()
                if o.get("remind_at") and o["remind_at"] <= now]


def _order(status: str) -> dict:
    received = NOW - timedelta(minutes=10)
    return {"_id": "SH-20261120-000001", "branch": "SH", "zone": "intensive",
            "region_code": "310101", "request_type": "repair", "priority": "normal",
            "status": status, "version": 3, "received_at": received,
            "technician_id": "SH-T01", "offer": None, "tried": ["SH-T01"],
            "product": {"category": "gas_water_heater"}, "customer": {},
            "warranty": {"status": "in_warranty"},
            "deadlines": {"first_contact": received + timedelta(hours=2),
                          "arrival": received + timedelta(hours=12),
                          "resolution": received + timedelta(hours=48)},
            "milestones": {}, "paused_seconds": 0.0}


def _dispatcher(store: MemoryStore) -> Dispatcher:
    return Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW, NOW), timedelta(minutes=15))


@pytest.mark.parametrize(("action", "status", "payload"), [
    ("contact", "accepted", {}),
    ("check-in", "contacted", {"confirmed_by_customer": True}),
    ("complete", "on_site", {"cannot_fix": False, "diagnosis": "点火针积碳",
                             "repair_done": "更换点火针", "parts_used": []}),
])
def test_each_step_writes_one_change_to_the_lifecycles_state(action, status, payload):
    store = MemoryStore(_order(status))
    dispatcher = _dispatcher(store)
    done = dispatcher.step("SH-20261120-000001", action, payload, TECH)
    assert [change.status for change in store.written] == [TRANSITIONS[action].target]
    assert done["status"] == TRANSITIONS[action].target
    milestone = TRANSITIONS[action].milestone
    assert [(m.labels[2], m.outcome) for m in dispatcher.uow.milestones] == [(milestone, "met")]
    assert store.written[0].entry["by"] == "SH-T01"


def test_an_illegal_step_writes_nothing():
    store = MemoryStore(_order("new"))
    with pytest.raises(Conflict):
        _dispatcher(store).step("SH-20261120-000001", "check-in",
                                {"confirmed_by_customer": True}, TECH)
    assert store.written == []


def test_a_step_that_lost_a_race_counts_its_milestone_once():
    store = MemoryStore(_order("accepted"))
    store.refuse_next = True
    dispatcher = _dispatcher(store)
    dispatcher.step("SH-20261120-000001", "contact", {}, TECH)
    assert len(store.written) == 1
    assert [m.outcome for m in dispatcher.uow.milestones] == ["met"]


def _paused_order() -> dict:
    order = _order("on_site")
    order.update(paused_at=NOW, paused_for=["resolution"], paused={})
    return order


def test_waiting_for_parts_stops_the_clocks_whose_commitment_says_so():
    facts = _dispatcher(MemoryStore(_order("on_site")))._pause_facts(_order("on_site"),
                                                                      "waiting_parts")
    assert facts == {"paused_at": NOW, "paused_for": ["resolution"]}  # pause_on, reference


def test_a_branch_that_also_pauses_arrival_for_parts_gets_both_clocks_stopped(tmp_path):
    text = Path("deploy/config/reference.yaml").read_text(encoding="utf-8").replace(
        "      pause_on: [customer_away]\n      by_request_type:",
        "      pause_on: [waiting_parts]\n      by_request_type:", 1)
    (tmp_path / "reference.yaml").write_text(text, encoding="utf-8")
    reference = load_reference(str(tmp_path / "reference.yaml"))
    dispatcher = Dispatcher(MemoryStore(_order("on_site")), reference,
                            UnitOfWork("dispatch", NOW, NOW), timedelta(minutes=15))
    order = _order("on_site")
    order["milestones"] = {"first_contact": {"at": NOW}}
    assert dispatcher._pause_facts(order, "waiting_parts")["paused_for"] == [
        "arrival", "resolution"]


def test_resuming_moves_each_stopped_deadline_by_the_time_it_stood_still():
    later = NOW + timedelta(hours=3)
    order = _paused_order()
    dispatcher = Dispatcher(MemoryStore(order), REFERENCE,
                            UnitOfWork("dispatch", later, later), timedelta(minutes=15))
    facts, paused = dispatcher._resume_facts(order)
    assert paused == {"resolution": 3 * 3600.0}
    assert facts["deadlines.resolution"] == order["deadlines"]["resolution"] + timedelta(
        hours=3)
    assert facts["paused_for"] == [] and facts["paused_at"] is None
    assert "deadlines.arrival" not in facts  # its clock never stopped


SUPERVISOR = Actor("supervisor", "SH")


def _delay(hours: float, milestone: str = "arrival") -> dict:
    return {"milestone": milestone, "new_deadline": NOW + timedelta(hours=hours),
            "reason": "暴雨，道路封闭", "customer_informed": True}


def test_an_approved_delay_moves_the_deadline_and_keeps_the_one_before():
    order = _order("accepted")
    store = MemoryStore(order)
    published = order["deadlines"]["arrival"]
    _dispatcher(store).step("SH-20261120-000001", "approve-delay", _delay(20), SUPERVISOR)
    [change] = store.written
    assert change.facts["deadlines.arrival"] == NOW + timedelta(hours=20)
    assert change.delay["previous_deadline"] == published
    assert change.delay["approved_by"] == "supervisor@SH"


def test_a_delay_must_move_an_open_deadline_later():
    store = MemoryStore(_order("accepted"))
    with pytest.raises(InvalidInput):  # earlier than the deadline it has
        _dispatcher(store).step("SH-20261120-000001", "approve-delay", _delay(1), SUPERVISOR)
    reached = _order("accepted")
    reached["milestones"] = {"arrival": {"at": NOW, "outcome": "met"}}
    with pytest.raises(Conflict):  # nothing left to move
        _dispatcher(MemoryStore(reached)).step("SH-20261120-000001", "approve-delay",
                                               _delay(20), SUPERVISOR)
    assert store.written == []


def test_arriving_after_the_published_deadline_by_the_delayed_one_is_its_own_outcome():
    order = _order("contacted")
    published = order["deadlines"]["arrival"]  # received 10 min ago + 12 h
    order["deadlines"]["arrival"] = published + timedelta(hours=8)
    order["delays"] = [{"milestone": "arrival", "previous_deadline": published}]
    later = published + timedelta(hours=1)
    dispatcher = Dispatcher(MemoryStore(order), REFERENCE,
                            UnitOfWork("dispatch", later, later), timedelta(minutes=15))
    dispatcher.step("SH-20261120-000001", "check-in", {"confirmed_by_customer": True}, TECH)
    assert [m.outcome for m in dispatcher.uow.milestones] == ["met_after_approved_delay"]


def test_checking_in_while_waiting_for_parts_ends_the_pause_and_judges_the_moved_clock(
        tmp_path):
    text = Path("deploy/config/reference.yaml").read_text(encoding="utf-8").replace(
        "      pause_on: [customer_away]\n      by_request_type:",
        "      pause_on: [waiting_parts]\n      by_request_type:", 1)
    (tmp_path / "reference.yaml").write_text(text, encoding="utf-8")
    reference = load_reference(str(tmp_path / "reference.yaml"))
    order = _order("waiting_parts")
    published = order["deadlines"]["arrival"]  # 11 h 50 min from now
    order.update(paused_at=NOW, paused_for=["arrival", "resolution"], paused={})
    later = NOW + timedelta(hours=20)  # past the published deadline, 20 h paused
    store = MemoryStore(order)
    dispatcher = Dispatcher(store, reference, UnitOfWork("dispatch", later, later),
                            timedelta(minutes=15))
    dispatcher.step("SH-20261120-000001", "check-in", {"confirmed_by_customer": True}, TECH)
    [change] = store.written
    assert change.paused == {"arrival": 20 * 3600.0, "resolution": 20 * 3600.0}
    assert change.facts["deadlines.arrival"] == published + timedelta(hours=20)
    assert change.facts["paused_at"] is None and change.facts["paused_for"] == []
    assert [m.outcome for m in dispatcher.uow.milestones] == ["met"]


def test_a_clock_already_past_its_deadline_is_not_stopped():
    order = _order("on_site")
    late = NOW + timedelta(hours=13)  # arrival (12 h) passed, resolution (48 h) not
    dispatcher = Dispatcher(MemoryStore(order), REFERENCE, UnitOfWork("dispatch", late, late),
                            timedelta(minutes=15))
    assert dispatcher._pause_facts(order, "waiting_parts")["paused_for"] == ["resolution"]
    order["deadlines"]["resolution"] = NOW
    assert dispatcher._pause_facts(order, "waiting_parts")["paused_for"] == []


def test_a_pause_after_an_approved_delay_moves_the_deadline_before_it_too():
    order = _paused_order()
    published = order["deadlines"]["resolution"]
    order["before_delay"] = {"resolution": published}
    order["deadlines"]["resolution"] = published + timedelta(hours=10)
    later = NOW + timedelta(hours=3)
    dispatcher = Dispatcher(MemoryStore(order), REFERENCE,
                            UnitOfWork("dispatch", later, later), timedelta(minutes=15))
    facts, _ = dispatcher._resume_facts(order)
    assert facts["before_delay.resolution"] == published + timedelta(hours=3)
    assert facts["deadlines.resolution"] == published + timedelta(hours=13)


def test_the_first_approved_delay_keeps_the_deadline_it_moves():
    order = _order("accepted")
    published = order["deadlines"]["arrival"]
    store = MemoryStore(order)
    _dispatcher(store).step("SH-20261120-000001", "approve-delay", _delay(20), SUPERVISOR)
    assert store.written[0].facts["before_delay.arrival"] == published


def _reminder(store: MemoryStore, event_id: str, at: datetime) -> bool:
    return _dispatcher(store).record_reminder(event_id, {"order_id": "SH-20261120-000001",
                                                         "channel": "phone"}, at)


def test_a_reminder_on_a_late_order_raises_its_priority_once():
    late = _order("accepted")
    late["risk_at"] = {"first_contact": NOW - timedelta(minutes=1)}  # past its risk mark
    store = MemoryStore(late)
    assert _reminder(store, "ev-1", NOW)
    assert not _reminder(store, "ev-1", NOW)  # a redelivery changes nothing
    order = store.orders["SH-20261120-000001"]
    assert (order["priority"], order["priority_reasons"], order["reminders"]) == (
        "high", ["reminder"], 1)


def test_a_reminder_on_an_order_on_time_only_shows_on_it():
    on_time = _order("accepted")
    on_time["risk_at"] = {"first_contact": NOW + timedelta(hours=1)}
    store = MemoryStore(on_time)
    assert _reminder(store, "ev-2", NOW)
    order = store.orders["SH-20261120-000001"]
    assert (order["priority"], order["reminders"]) == ("normal", 1)
    assert store.written[0].entry["details"] == {"channel": "phone", "priority_raised": None}


def test_a_pause_for_the_customer_stops_the_clocks_that_name_it_and_unpause_moves_them():
    order = _order("scheduled")
    order["milestones"] = {"first_contact": {"at": NOW}}
    arrival = order["deadlines"]["arrival"]
    store = MemoryStore(order)
    dispatcher = _dispatcher(store)
    dispatcher.step(order["_id"], "pause", {"reason": "customer_away",
                                            "customer_informed": True}, TECH)
    paused = store.orders[order["_id"]]
    assert paused["paused_for"] == ["arrival", "resolution"]
    assert paused["pause_reason"] == "customer_away" and paused["status"] == "scheduled"
    with pytest.raises(Conflict):  # one pause at a time
        dispatcher.step(order["_id"], "pause", {"reason": "customer_away",
                                                "customer_informed": True}, TECH)
    later = Dispatcher(store, REFERENCE, UnitOfWork("dispatch", NOW + timedelta(hours=3),
                                                    NOW), timedelta(minutes=15))
    later.step(order["_id"], "unpause", {}, TECH)
    resumed = store.orders[order["_id"]]
    assert resumed["deadlines"]["arrival"] == arrival + timedelta(hours=3)
    assert store.written[-1].paused == {"arrival": 3 * 3600.0, "resolution": 3 * 3600.0}
    assert resumed["paused_at"] is None and resumed["pause_reason"] is None


@pytest.mark.parametrize(("reason", "informed"), [
    ("waiting_parts", True),  # has its own step, with the parts
    ("lunch", True),  # not a reason the reference data names
    ("customer_away", False),  # the customer is told first
])
def test_a_pause_needs_a_named_reason_and_the_customer_told(reason, informed):
    store = MemoryStore(_order("scheduled"))
    with pytest.raises(InvalidInput):
        _dispatcher(store).step("SH-20261120-000001", "pause",
                                {"reason": reason, "customer_informed": informed}, TECH)
    assert store.written == []


def test_reaching_a_milestone_records_where_its_time_went():
    order = _order("accepted")
    order["timeline"] = [{"at": order["received_at"], "step": "created"},
                         {"at": NOW - timedelta(minutes=4), "step": "offered"},
                         {"at": NOW - timedelta(minutes=1), "step": "accepted"}]
    store = MemoryStore(order)
    dispatcher = _dispatcher(store)
    dispatcher.step(order["_id"], "contact", {}, TECH)
    assert store.orders[order["_id"]]["milestones"]["first_contact"]["ledger"] == {
        "queue": 360.0, "offers": 180.0, "technician": 60.0}
    counted = {labels: amount for name, labels, amount in dispatcher.uow.counts
               if name == "delay_seconds"}
    assert counted == {("SH", "first_contact", "queue"): 360.0,
                       ("SH", "first_contact", "offers"): 180.0,
                       ("SH", "first_contact", "technician"): 60.0}


def test_an_emergency_offer_lapses_after_the_short_timeout():
    dispatcher = Dispatcher(MemoryStore(_order("new")), REFERENCE,
                            UnitOfWork("dispatch", NOW, NOW), timedelta(minutes=15), 0.8,
                            timedelta(minutes=3))
    emergency = {**_order("new"), "priority": "emergency"}
    offer, entry = dispatcher._offer_fields(emergency, "SH-T02")
    assert offer["expires_at"] == NOW + timedelta(minutes=3)
    assert entry["details"]["expires_at"] == (NOW + timedelta(minutes=3)).isoformat()
    for priority in ("high", "normal"):
        offer, _ = dispatcher._offer_fields({**_order("new"), "priority": priority}, "SH-T02")
        assert offer["expires_at"] == NOW + timedelta(minutes=15)


def test_an_emergency_offer_never_waits_longer_than_an_ordinary_one():
    dispatcher = Dispatcher(MemoryStore(_order("new")), REFERENCE,
                            UnitOfWork("dispatch", NOW, NOW), timedelta(seconds=4), 0.8,
                            timedelta(minutes=3))
    offer, _ = dispatcher._offer_fields({**_order("new"), "priority": "emergency"}, "SH-T02")
    assert offer["expires_at"] == NOW + timedelta(seconds=4)


class NewOrderStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__({"_id": "-", "branch": "SH"})
        self.inserted: list[dict] = []

    def insert_order(self, order: dict, events: list, due: datetime) -> bool:
        self.inserted.append(order)
        return True


def test_an_agents_override_is_on_the_new_orders_timeline():
    received = NOW - timedelta(minutes=1)
    data = {"order_id": "SH-20261120-000009", "branch": "SH", "zone": "intensive",
            "region_code": "310101", "lat": 31.23, "lon": 121.48, "request_type": "repair",
            "channel": "hotline", "customer": {}, "product": {"category": "gas_water_heater"},
            "description": "没有煤气味了，上周闻到过", "priority": "normal",
            "priority_reasons": ["agent_override"], "received_at": received,
            "deadlines": {"first_contact": (received + timedelta(hours=2)).isoformat()},
            "priority_override": {"priority": "normal", "reason": "客户说是上周的事",
                                  "by": "agent@SH", "at": received.isoformat(),
                                  "decided": {"priority": "emergency",
                                              "reasons": ["hazard:煤气味"]}}}
    store = NewOrderStore()
    _dispatcher(store).create_from_event(data)
    timeline = store.inserted[0]["timeline"]
    assert [(e["step"], e["by"]) for e in timeline] == [
        ("created", "intake"), ("priority_overridden", "agent@SH"),
        ("unqualified", "dispatch")]  # nobody on this store's empty roster
    assert timeline[1]["at"] == received
    assert timeline[1]["details"] == {"priority": "normal", "reason": "客户说是上周的事",
                                      "decided": "emergency"}
