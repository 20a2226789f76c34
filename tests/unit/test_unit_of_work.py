"""The unit of work: events only for subscribed kinds, outcomes taken only with their
write, and one place (the chassis) that relays and counts what a call did."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common.base import ServiceBase
from services.common.unit_of_work import Outcomes, Reached, UnitOfWork

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
LABELS = ("SH", "intensive", "first_contact", "repair", "normal")


def _uow() -> UnitOfWork:
    return UnitOfWork("dispatch", NOW, NOW + timedelta(seconds=15),
                      routed=lambda kind: kind != "order_unheard_of")


def test_events_are_made_only_for_kinds_someone_consumes():
    events = _uow().events("SH", "order_accepted", "order_unheard_of", order_id="SH-1",
                           branch="carried in the data too")
    assert [e["type"] for e in events] == ["order_accepted"]
    assert events[0]["branch"] == "SH" and events[0]["source"] == "dispatch"
    assert events[0]["data"] == {"order_id": "SH-1", "branch": "carried in the data too"}


def test_outcomes_of_a_write_count_only_once_taken():
    uow = _uow()
    pending = Outcomes()
    pending.reach(Reached(LABELS, "met", 60.0))
    assert uow.milestones == []  # the write is not in yet
    uow.take(pending)
    assert uow.milestones == [Reached(LABELS, "met", 60.0)]


class _Service:
    """The chassis' settling, on metrics of its own and a relay that only records."""

    _settle = ServiceBase._settle
    _metric = ServiceBase._metric

    def __init__(self) -> None:
        registry = CollectorRegistry()
        names = ["branch", "zone", "milestone", "request_type", "priority"]
        self.metrics = SimpleNamespace(
            met=Counter("met_total", "", names, registry=registry),
            breached=Counter("breached_total", "", names, registry=registry),
            duration=Histogram("duration_seconds", "", names, registry=registry),
            offers=Counter("offers_total", "", ["branch"], registry=registry),
            created=Counter("created_total", "", registry=registry))
        self.registry = registry
        self.relayed: list[tuple] = []

    def relay_now(self, collection, doc_id, events, lease_until) -> None:
        self.relayed.append((collection, doc_id, [e["type"] for e in events], lease_until))

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def test_the_chassis_relays_what_was_written_and_counts_what_was_reached():
    uow = _uow()
    uow.wrote("orders", "SH-1", uow.events("SH", "order_accepted", order_id="SH-1"))
    uow.wrote("orders", "SH-2", [])  # nothing to relay
    uow.reach(Reached(LABELS, "met", 90.0))
    uow.reach(Reached(LABELS, "breached", -1.0))  # counted at the deadline: not observed
    uow.reach(Reached(LABELS, None, 30.0))  # counted already by the sweeper
    uow.count("offers", "SH")
    uow.count("created", amount=3)
    service = _Service()
    service._settle(uow)
    assert service.relayed == [("orders", "SH-1", ["order_accepted"], uow.claim_until)]
    labels = dict(zip(["branch", "zone", "milestone", "request_type", "priority"], LABELS,
                      strict=True))
    assert service.value("met_total", **labels) == 1
    assert service.value("breached_total", **labels) == 1
    assert service.value("duration_seconds_count", **labels) == 2
    assert service.value("duration_seconds_sum", **labels) == 120.0
    assert service.value("offers_total", branch="SH") == 1
    assert service.value("created_total") == 3
