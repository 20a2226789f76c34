"""The route table, the handlers and the event contracts hold together: every route has a
handler of that name subscribed to that event, every handler is routed, and every routed
event has its producer's contract."""

import pytest
from marshmallow import ValidationError
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from schemas.events import EVENT_DATA
from services.billing.service import BillingService
from services.callbacks.service import CallbacksService
from services.common.messaging import ReliableEventHandler
from services.common.routes import SUBSCRIPTIONS, Subscription
from services.complaints.service import ComplaintsService
from services.contracts import read_event
from services.dispatch.service import DispatchService
from services.intake.service import IntakeService
from services.inventory.service import InventoryService

SERVICES = (IntakeService, DispatchService, InventoryService, BillingService,
            CallbacksService, ComplaintsService)


def handlers(service) -> set[Subscription]:
    """(source, event, service, method) of every event handler the class declares."""
    found = set()
    for name in dir(service):
        for entrypoint in getattr(getattr(service, name), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, ReliableEventHandler):
                found.add(Subscription(entrypoint.source_service, entrypoint.event_type,
                                       service.name, name))
    return found


def test_every_route_has_its_handler_and_every_handler_its_route():
    declared = set().union(*(handlers(service) for service in SERVICES))
    assert declared == set(SUBSCRIPTIONS)


def test_the_check_sees_a_handler_missing_from_the_table():
    routes = set(SUBSCRIPTIONS) - {SUBSCRIPTIONS[0]}
    declared = set().union(*(handlers(service) for service in SERVICES))
    assert declared != routes and SUBSCRIPTIONS[0] in declared - routes


def test_every_routed_event_has_its_producers_contract():
    assert {(s.source, s.event_type) for s in SUBSCRIPTIONS} == set(EVENT_DATA)


def _envelope(source: str, kind: str, data: dict) -> dict:
    return {"event_id": "0" * 32, "type": kind, "source": source, "branch": "SH",
            "occurred_at": "2026-11-20T10:00:00+08:00", "data": data}


def test_a_consumer_requires_only_what_it_needs_and_keeps_what_it_does_not_know():
    data = {"order_id": "SH-1", "completion": {"cannot_fix": False}, "news": 1}
    with pytest.raises(ValidationError):  # the whole contract: the billing facts missing
        read_event(_envelope("dispatch", "order_completed", data))
    event = read_event(_envelope("dispatch", "order_completed", data),
                       needs=("order_id", "completion"))
    assert event["data"]["news"] == 1 and event["data"]["zone"] == "standard"
    with pytest.raises(ValidationError):  # a field it needs is missing
        read_event(_envelope("dispatch", "order_completed", {"completion": {}}),
                   needs=("order_id", "completion"))


def test_an_event_without_a_contract_is_refused():
    with pytest.raises(ValidationError, match="no contract for dispatch.order_teleported"):
        read_event(_envelope("dispatch", "order_teleported", {"order_id": "SH-1"}))


def test_a_nested_part_a_consumer_does_not_need_is_kept_as_it_came():
    data = {"order_id": "SH-1", "completion": {}, "billing": {"cause": "a new cause"}}
    event = read_event(_envelope("dispatch", "order_completed", data),
                       needs=("order_id", "completion"))
    assert event["data"]["billing"] == {"cause": "a new cause"}  # billing's to judge
    with pytest.raises(ValidationError):
        read_event(_envelope("dispatch", "order_completed", data))
